"""Learning health: does a run still look like it will learn?

The course report's observation: runs whose return has not started to rise early and whose grad
norm oscillates or diverges rarely recover. Both signals are measured on the log rows so far
(one training-return mean and one mean grad norm, before clipping, per row):

- ``return_trend``: Kendall's tau of the training return against time, in [-1, 1] (scale-free:
  +1 = rose at every row, 0 = no trend).
- ``grad_norm_growth``: median grad norm over the second half of the rows / over the first half
  (divergence).
- ``grad_norm_jitter``: median |log(g_t / g_{t-1})| between consecutive rows (oscillation: 0.5 is
  a typical jump of x1.65 from one row to the next).

A run is judged hopeless, once ``judge_after_fraction`` of its budget is done, when its return
trend is below ``min_return_trend`` AND its grad norm diverges or oscillates past the limits.
Stopping on it is off by default (``health.stop_hopeless``); the measures are logged always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

MIN_ROWS = 4  # fewer log rows than this say nothing


def kendall_tau(values: Sequence[float]) -> float:
    """Kendall's tau-a of ``values`` against their order: (concordant - discordant) / pairs."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < 2:
        return 0.0
    diff = np.sign(x[None, :] - x[:, None])  # [n, n], entry (i, j) = sign(x_j - x_i)
    return float(np.triu(diff, k=1).sum() / (n * (n - 1) / 2))


def grad_norm_growth(grad_norms: Sequence[float]) -> float:
    g = np.asarray(grad_norms, dtype=np.float64)
    half = len(g) // 2
    return float(np.median(g[half:]) / max(np.median(g[:half]), 1e-12))


def grad_norm_jitter(grad_norms: Sequence[float]) -> float:
    g = np.maximum(np.asarray(grad_norms, dtype=np.float64), 1e-12)
    return float(np.median(np.abs(np.diff(np.log(g)))))


@dataclass(frozen=True)
class HealthLimits:
    min_return_trend: float = 0.1
    max_grad_norm_growth: float = 10.0
    max_grad_norm_jitter: float = 0.5


def judge(returns: Sequence[float], grad_norms: Sequence[float], limits: HealthLimits) -> dict[str, float]:
    """The measures and ``hopeless`` (1.0 or 0.0) for one run's log rows so far."""
    if len(returns) < MIN_ROWS or len(grad_norms) < MIN_ROWS:
        return {}
    trend, growth, jitter = kendall_tau(returns), grad_norm_growth(grad_norms), grad_norm_jitter(grad_norms)
    unstable = growth > limits.max_grad_norm_growth or jitter > limits.max_grad_norm_jitter
    return {"health/return_trend": trend, "health/grad_norm_growth": growth, "health/grad_norm_jitter": jitter,
            "health/hopeless": float(trend < limits.min_return_trend and unstable)}


@dataclass
class HealthTracker:
    """The per-row history a loop feeds at each log; saved in checkpoints."""

    limits: HealthLimits
    stop_hopeless: bool  # act on the verdict (else only log it)
    judge_from_env_step: int  # verdicts before this step are not acted on
    returns: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)

    def observe(self, row: dict[str, float]) -> dict[str, float]:
        """Add a log row (needs train/episode_return_mean and grad_norm); returns the measures."""
        if "train/episode_return_mean" in row and "grad_norm" in row:
            self.returns.append(float(row["train/episode_return_mean"]))
            self.grad_norms.append(float(row["grad_norm"]))
        return judge(self.returns, self.grad_norms, self.limits)

    def should_stop(self, measures: dict[str, float], env_step: int) -> bool:
        return (self.stop_hopeless and env_step >= self.judge_from_env_step
                and measures.get("health/hopeless", 0.0) == 1.0)

    def state_dict(self) -> dict:
        return {"returns": list(self.returns), "grad_norms": list(self.grad_norms)}

    def load_state_dict(self, state: dict) -> None:
        self.returns, self.grad_norms = list(state["returns"]), list(state["grad_norms"])
