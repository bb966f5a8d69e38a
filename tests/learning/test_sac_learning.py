"""SAC learns Pendulum-v1: mean evaluation return above -300 within 15,000 env steps on at least 2
of 3 seeds (a random policy scores about -1,200; a swing-up that holds the pendulum about -150).

CPU-sized to fit CI (2 cores): the SAC defaults (tuned temperature toward -1, Polyak tau 0.005,
gamma 0.99, critic lr 1e-3, one update per env step, hardware=cpu's 8 envs) except 64x64 networks,
batches of 64, 500 warm-up env steps, a policy lr of 1e-3 and TD3's uncompensated delay (one
policy step after every second critic update). Each run stops at its first evaluation (10
episodes, tanh of the mean, every 500 env steps) above -300.

Seeds 0 and 1 run at once as separate processes; seed 2 runs only when one of them missed (2 of 3
cannot fail once both passed). Measured on the shared 2-core machine (load average 5-6 from
other jobs): seeds 0 and 1 reached -124 and -195 at their evaluation at 4,504 env steps, 147 s
and 145 s side by side, the whole test 2 min 27 s; seed 2 alone reached -127 at 4,504 in 67 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rlkit.logging import METRICS_FILE, read_metrics

REPO = Path(__file__).resolve().parents[2]
BUDGET_ENV_STEPS = 15_000
TARGET = -300.0
SEEDS = (0, 1, 2)
OVERRIDES = ["algo=sac", "env=gym", "env.id=Pendulum-v1", "network.hidden_sizes=[64,64]", "schedule.batch_size=64",
             "schedule.warmup_env_steps=500", "schedule.actor_lr=1e-3", "algo.compensate_policy_delay=false",
             f"schedule.total_env_steps={BUDGET_ENV_STEPS}", f"schedule.stop_at_eval_return={TARGET}",
             "schedule.eval_interval_env_steps=500", "schedule.eval_episodes=10",
             "schedule.log_interval_env_steps=1000",
             "hardware.torch_threads=1", "logger.progress_bar=false", "logger.wandb_mode=disabled"]


def run_seed(seed: int, run_dir: Path) -> tuple[float, int, float]:
    """(best evaluation mean within the budget, env step reached, wall seconds) of one CLI run."""
    cmd = [sys.executable, "-m", "rlkit", *OVERRIDES, f"seed={seed}", f"hydra.run.dir={run_dir}"]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    evals = [(r["env_step"], r["eval/return_mean"]) for r in read_metrics(run_dir / METRICS_FILE)
             if "eval/return_mean" in r]
    within = [ret for step, ret in evals if step <= BUDGET_ENV_STEPS]
    return max(within, default=float("-inf")), evals[-1][0], time.monotonic() - started


def test_sac_swings_up_pendulum_on_most_seeds(tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(SEEDS[:2], pool.map(lambda s: run_seed(s, tmp_path / f"seed{s}"), SEEDS[:2])))
    if sum(best > TARGET for best, _, _ in results.values()) < 2:
        results[SEEDS[2]] = run_seed(SEEDS[2], tmp_path / f"seed{SEEDS[2]}")
    report = ", ".join(f"seed {s}: best eval {best:.0f} by env step {step:,} ({wall:.0f} s)"
                       for s, (best, step, wall) in results.items())
    print(report)
    assert sum(best > TARGET for best, _, _ in results.values()) >= 2, report
