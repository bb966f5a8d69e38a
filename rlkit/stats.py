"""Small statistics without scipy: Welch's t-test (one-sided) via the regularized incomplete beta."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (Lentz's method)."""
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_sf(t: float, dof: float) -> float:
    """P(T > t) for Student's t with ``dof`` degrees of freedom."""
    tail = 0.5 * regularized_incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t))
    return tail if t >= 0 else 1.0 - tail


class WelchResult(NamedTuple):
    t: float
    dof: float
    p_value: float  # one-sided: H1 mean(a) > mean(b)


def welch_t_test_greater(a: np.ndarray, b: np.ndarray) -> WelchResult:
    """One-sided Welch's t-test that mean(a) > mean(b), unequal variances."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se2 = var_a + var_b
    diff = a.mean() - b.mean()
    if se2 == 0.0:
        return WelchResult(math.copysign(math.inf, diff) if diff else 0.0, math.inf,
                           0.0 if diff > 0 else (1.0 if diff < 0 else 0.5))
    t = diff / math.sqrt(se2)
    dof = se2**2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    return WelchResult(t, dof, student_t_sf(t, dof))
