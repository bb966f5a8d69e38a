"""The console progress line. On a terminal tqdm redraws one line in place and trims it to the
terminal's width, whatever the width; elsewhere (a log file, a SLURM job) a plain line is printed
every ``line_interval_s`` seconds instead of carriage-return redraws.

The line shows the env steps done, the elapsed time, the training and the latest evaluation
return (with the env step it was measured at), loss, grad norm, and the SPS of the last log
interval (the ``sps`` of metrics.jsonl, not a run-long average); the ETA comes from that SPS, so
there is none until the first training row. ``status`` names what the run is doing when it is
not stepping (the final evaluation, the random baseline).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

BAR_FORMAT = "{n_fmt}/{total_fmt} steps |{bar}| {elapsed}{postfix}"


def _short(value: float) -> str:
    return f"{value:.3g}"


def _steps(env_step: int) -> str:
    return f"{env_step / 1e6:.3g}M" if env_step >= 1_000_000 else f"{env_step / 1e3:.3g}k" if env_step >= 1000 \
        else str(env_step)


def _duration(seconds: float) -> str:
    return tqdm.format_interval(seconds)


def describe(row: dict[str, Any], env_step: int, total_env_steps: int) -> str:
    """The line's fields from the latest metric values (``row``: the union of the rows so far)."""
    parts = []
    if "train/episode_return_mean" in row:
        parts.append(f"return {_short(row['train/episode_return_mean'])}")
    if "eval/return_mean" in row and "eval_env_step" in row:
        parts.append(f"eval {_short(row['eval/return_mean'])} @{_steps(row['eval_env_step'])}")
    for key, label in (("loss", "loss"), ("grad_norm", "|g|")):
        if key in row:
            parts.append(f"{label} {_short(row[key])}")
    sps = row.get("sps")
    if sps:
        parts.append(f"{sps:,.0f} sps")
        if env_step < total_env_steps:
            parts.append(f"eta {_duration((total_env_steps - env_step) / sps)}")
    return "  ".join(parts)


class ProgressLine:
    def __init__(self, total_env_steps: int, start_env_step: int, enabled: bool, line_interval_s: float = 30.0,
                 stream=None) -> None:
        self.total = total_env_steps
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.line_interval_s = line_interval_s
        self.start_time = time.monotonic()
        self.n = start_env_step
        self.postfix = ""
        self._last_line = -float("inf")
        self.bar = None
        if enabled and self.tty:
            self.bar = tqdm(total=total_env_steps, initial=start_env_step, file=self.stream, dynamic_ncols=True,
                            bar_format=BAR_FORMAT, mininterval=0.5, leave=True)

    def update(self, env_step: int, row: dict[str, Any], force: bool = False) -> None:
        if not self.enabled:
            return
        self.postfix = describe(row, env_step, self.total)
        self._show(env_step, force)

    def status(self, text: str) -> None:
        """What the run does now, when it is not stepping (e.g. 'final evaluation: 10 episodes')."""
        if not self.enabled:
            return
        self.postfix = text
        self._show(self.n, force=True)

    def _show(self, env_step: int, force: bool) -> None:
        # A vector step can pass the budget by up to num_envs - 1 env steps; tqdm shows a count past
        # its total as an unknown total ("404/?" and no bar), so the total grows to the count.
        total = max(self.total, env_step)
        if self.bar is not None:
            if self.bar.total < total:
                self.bar.total = total
            self.bar.set_postfix_str(self.postfix, refresh=False)
            self.bar.update(env_step - self.bar.n)
            if force:
                self.bar.refresh()
        else:
            now = time.monotonic()
            if force or now - self._last_line >= self.line_interval_s:
                self._last_line = now
                print(tqdm.format_meter(env_step, total, now - self.start_time, bar_format=BAR_FORMAT,
                                        postfix=self.postfix or None, ncols=None), file=self.stream, flush=True)
        self.n = env_step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
