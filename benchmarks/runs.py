"""The learning benchmarks' process runner: `python -m rlkit` jobs, a few at a time, each in its own
run dir under one benchmark dir. A benchmark that was killed continues where its runs' last
checkpoints left off (`--continue <benchmark dir>`): finished runs are kept, interrupted ones resumed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlkit.checkpoint import list_checkpoints  # noqa: E402


@dataclass(frozen=True)
class Job:
    key: str  # the run dir's name under the benchmark dir
    overrides: list[str]  # for a fresh start
    resume_overrides: list[str]  # added to resume=<run dir> (e.g. a new save interval)


def wall_time_s(rows: list[dict]) -> float:
    """Summed over a run's segments: each resumed process counts its wall time from 0 again."""
    total = last = 0.0
    for row in rows:
        if row["wall_time_s"] < last:  # a new segment
            total += last
        last = row["wall_time_s"]
    return total + last


def command(job: Job, run_dir: Path, scratch: Path) -> list[str]:
    if list_checkpoints(run_dir):  # interrupted: continue from the last checkpoint
        extra = job.resume_overrides + (["allow_config_change=true"] if job.resume_overrides else [])
        return [sys.executable, "-m", "rlkit", f"resume={run_dir}", *extra, f"hydra.run.dir={scratch}"]
    return [sys.executable, "-m", "rlkit", *job.overrides, f"hydra.run.dir={run_dir}"]


def run_jobs(jobs: list[Job], out_root: Path, total_env_steps: int, parallel: int,
             on_done: Callable[[Job, Path, int], None], poll_s: float = 15.0) -> None:
    """Run the jobs (at most ``parallel`` at a time); ``on_done(job, run_dir, exit_code)`` after each.
    A job whose newest checkpoint is at ``total_env_steps`` or past it finished earlier: not rerun."""
    out_root = out_root.resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    pending, running = list(jobs), {}
    while pending or running:
        while pending and len(running) < parallel:
            job = pending.pop(0)
            run_dir = out_root / job.key
            saved = list_checkpoints(run_dir)
            if saved and saved[-1][0] >= total_env_steps:
                on_done(job, run_dir, 0)
                continue
            cmd = command(job, run_dir, out_root / "resume_scratch")
            log = open(out_root / f"{job.key}.log", "a")
            running[job.key] = (job, subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT), run_dir)
            print(f"started {job.key}: {' '.join(cmd)}", flush=True)
        time.sleep(poll_s)
        for key, (job, proc, run_dir) in list(running.items()):
            if proc.poll() is not None:
                del running[key]
                on_done(job, run_dir, proc.returncode)


def plot_panels(panels: dict[str, dict[str, list[tuple[float, float]]]], path: Path, title: str) -> None:
    """One panel per key (a metric, or an env), one line per label (a seed) of (env step, return) points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), layout="constrained", squeeze=False)
    for ax, (panel, lines) in zip(axes[0], panels.items()):
        for label, points in sorted(lines.items()):
            if points:
                steps, returns = zip(*points)
                ax.plot(steps, returns, marker="o" if len(points) == 1 else None, label=label)
        ax.set_title(panel, fontsize="medium")
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel("return")
    fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=110)
    plt.close(fig)
