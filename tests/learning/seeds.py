"""Run one config over several seeds as `python -m rlkit` processes, two at a time (2 cores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rlkit.logging import METRICS_FILE, read_metrics

REPO = Path(__file__).resolve().parents[2]


def run_seeds(overrides: list[str], seeds: list[int], out_dir: Path, parallel: int = 2,
              timeout_s: float = 900) -> dict[int, list[dict]]:
    """Metrics rows per seed. Each process runs with one torch thread."""
    env = dict(os.environ, WANDB_MODE="disabled", OMP_NUM_THREADS="1")
    pending, running, rows = list(seeds), {}, {}
    while pending or running:
        while pending and len(running) < parallel:
            seed = pending.pop(0)
            run_dir = out_dir / f"seed{seed}"
            cmd = [sys.executable, "-m", "rlkit", *overrides, f"seed={seed}", "logger.progress_bar=false",
                   "hardware.torch_threads=1", f"hydra.run.dir={run_dir}"]
            running[seed] = (subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True), run_dir)
        seed = next(iter(running))
        proc, run_dir = running.pop(seed)
        output, _ = proc.communicate(timeout=timeout_s)
        assert proc.returncode == 0, f"seed {seed} failed:\n{output[-3000:]}"
        rows[seed] = read_metrics(run_dir / METRICS_FILE)
    return rows


def eval_curve(rows: list[dict]) -> list[tuple[int, float]]:
    return [(r["env_step"], r["eval/return_mean"]) for r in rows if "eval/return_mean" in r]
