"""Schedules as pure functions of the env-step counter (so a resumed run needs no schedule state)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinearSchedule:
    """``start`` at env step 0, linearly to ``final`` at ``duration_env_steps``, then constant."""

    start: float
    final: float
    duration_env_steps: int

    def __call__(self, env_step: int) -> float:
        fraction = min(max(env_step, 0) / self.duration_env_steps, 1.0)
        return self.start + fraction * (self.final - self.start)


def constant(value: float) -> LinearSchedule:
    return LinearSchedule(value, value, 1)


def next_multiple(env_step: int, interval: int) -> int:
    """The first multiple of ``interval`` past ``env_step``: where a periodic log, evaluation or
    save falls next. Recomputed on resume, so a resume that changes an interval takes effect at once."""
    return (env_step // interval + 1) * interval


def next_periodic_env_steps(env_step: int, schedule) -> dict[str, int]:
    """Where the next log, evaluation and save fall after ``env_step`` for a schedule's intervals
    (the counters' ``next_*_env_step`` fields), at the start and after a resume."""
    return {"next_log_env_step": next_multiple(env_step, schedule.log_interval_env_steps),
            "next_eval_env_step": next_multiple(env_step, schedule.eval_interval_env_steps),
            "next_save_env_step": next_multiple(env_step, schedule.save_interval_env_steps)}
