"""Learning health: does a run still look like it will learn?

The course report's observation: runs whose return has not started to rise early and whose grad
norm oscillates or diverges rarely recover. Both signals are measured on the log rows so far
(one training-return mean and one mean grad norm, before clipping, per row):

- ``return_trend``: Kendall's tau of the training return against time over the recent half of the
  rows, in [-1, 1] (scale-free: +1 = rose at every row, 0 = no trend, < 0 = falling).
- ``grad_norm_growth``: median grad norm over the second half of the rows / over the first half
  (divergence from the run's own start).
- ``grad_norm_jitter``: median |log(g_t / g_{t-1})| between consecutive recent rows (oscillation:
  0.5 is a typical jump of x1.65 from one row to the next).
- ``grad_norm_over_clip``: median recent grad norm / the grad-clip threshold (a run diverged from
  its first updates clips every update: growth cannot see it, this can).

A run is judged hopeless, once ``judge_after_fraction`` of its budget is done, when its recent
return trend is below ``min_return_trend`` AND its grad norm diverges, oscillates or saturates the
clip past the limits. By default saturation counts only where the algorithm's clip guards against
divergence (``judge_over_clip``): PPO's 0.5 clip is exceeded by healthy runs, more as they learn.
A limit the config sets applies to every algorithm.
Stopping on it is off by default (``health.stop_hopeless``); the measures are logged always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rlkit.config import HealthConfig

MIN_ROWS = 4  # fewer log rows than this say nothing
# where a run's grad clip guards against divergence (health.max_grad_norm_over_clip: null)
DEFAULT_MAX_GRAD_NORM_OVER_CLIP = 5.0


def kendall_tau(values: Sequence[float]) -> float:
    """Kendall's tau-a of ``values`` against their order: (concordant - discordant) / pairs."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < 2:
        return 0.0
    diff = np.sign(x[None, :] - x[:, None])  # [n, n], entry (i, j) = sign(x_j - x_i)
    return float(np.triu(diff, k=1).sum() / (n * (n - 1) / 2))


def recent(values: Sequence[float]) -> Sequence[float]:
    """The recent half of a history (at least MIN_ROWS values)."""
    return values[-max(MIN_ROWS, len(values) // 2):]


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
    max_grad_norm_over_clip: float | None = DEFAULT_MAX_GRAD_NORM_OVER_CLIP  # None: measured, not judged
    grad_clip_norm: float | None = None  # the run's clip threshold (null: no clip, no saturation measure)

    @staticmethod
    def from_config(health: HealthConfig, grad_clip_norm: float | None, judge_over_clip: bool) -> "HealthLimits":
        """The limits for a run; ``judge_over_clip``: whether its algorithm's clip saturating is a
        sign of divergence, which decides the over-clip limit where the config leaves it null."""
        over_clip = health.max_grad_norm_over_clip
        if over_clip is None and judge_over_clip:
            over_clip = DEFAULT_MAX_GRAD_NORM_OVER_CLIP
        return HealthLimits(health.min_return_trend, health.max_grad_norm_growth, health.max_grad_norm_jitter,
                            over_clip, grad_clip_norm)


def judge(returns: Sequence[float], grad_norms: Sequence[float], limits: HealthLimits) -> dict[str, float]:
    """The measures and ``hopeless`` (1.0 or 0.0) for one run's log rows so far."""
    if len(returns) < MIN_ROWS or len(grad_norms) < MIN_ROWS:
        return {}
    trend, growth = kendall_tau(recent(returns)), grad_norm_growth(grad_norms)
    jitter = grad_norm_jitter(recent(grad_norms))
    over_clip = float(np.median(recent(grad_norms))) / limits.grad_clip_norm if limits.grad_clip_norm else 0.0
    saturated = limits.max_grad_norm_over_clip is not None and over_clip > limits.max_grad_norm_over_clip
    unstable = growth > limits.max_grad_norm_growth or jitter > limits.max_grad_norm_jitter or saturated
    return {"health/return_trend": trend, "health/grad_norm_growth": growth, "health/grad_norm_jitter": jitter,
            "health/grad_norm_over_clip": over_clip,
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
