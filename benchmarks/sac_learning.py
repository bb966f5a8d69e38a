"""make bench-sac: SAC on MuJoCo, Hopper-v5 and HalfCheetah-v5, 3 seeds each, at a budget of env steps.

Each run is its own `python -m rlkit algo=sac env=...` process (at most --parallel at a time, one
torch thread each) with the default SAC settings (CleanRL's sac_continuous_action: batch 256, one
critic update per env step after 5,000 random env steps, a 1M replay, policy updates every 2 critic
updates, tuned temperature; hardware=cpu's 8 envs) and 20 evaluations of 10 episodes (tanh of the
mean) spread over the budget. Writes under benchmarks/results/:

  <name>_curves.csv   env, seed, kind (eval | train), env_step, wall_time_s, return_mean, return_std
  <name>.json         every run's curves, final returns and wall time, and the per-env table
  <name>.md           final evaluation return mean +- std across seeds, training return, wall time
  <name>.png          evaluation curves, one panel per env, one line per seed

Runs take long: one critic update per env step, so 1M env steps are 1M batch-256 updates per run
(README, "SAC", for the measured times); start it in the background (`make bench-sac &`) and try
it on a tiny budget first (`make bench-sac ARGS="--total-env-steps 5500 --name sac_tiny"`: 500
updates per run after the warm-up).
A killed benchmark continues from its runs' checkpoints:
`make bench-sac ARGS="--continue <benchmark dir>"`. Each finished run is
also recorded in benchmarks/results/<name>_runs/<env>_seed<k>.json with its resolved config: a later
invocation keeps a recorded run when the config it would run now (all but logging and saving)
equals the recorded one, and runs only the rest (`--rerun` ignores the records).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.runs import MujocoBenchmark, run_mujoco_benchmark  # noqa: E402

DEFAULT_RUNS = ["hopper:0", "hopper:1", "hopper:2", "halfcheetah:0", "halfcheetah:1", "halfcheetah:2"]
# Published 1M-step SAC results, for the table: CleanRL's sac_continuous_action (docs, MuJoCo v2, training
# returns, 3 seeds) and rl-zoo3's tuned SAC (v3). CleanRL's curves at fewer env steps are published only
# as images and W&B runs.
REFERENCES = {"hopper": "CleanRL 2310 +- 343; rl-zoo3 3470", "halfcheetah": "CleanRL 9635 +- 1424; rl-zoo3 9656"}


def run_overrides(steps: int) -> list[str]:
    """Intervals scaled to the budget: 20 evaluations, 100 log rows, a checkpoint every quarter (at most 100k)."""
    return [f"schedule.total_env_steps={steps}", f"schedule.eval_interval_env_steps={max(steps // 20, 1000)}",
            "schedule.eval_episodes=10", f"schedule.log_interval_env_steps={max(steps // 100, 1000)}",
            f"schedule.save_interval_env_steps={max(min(steps // 4, 100_000), 1000)}", "hardware.torch_threads=1",
            "logger.progress_bar=false", "logger.wandb_mode=disabled"]


def main() -> None:
    bench = MujocoBenchmark("sac", "sac_learning", DEFAULT_RUNS, run_overrides, "tanh of the mean", REFERENCES)
    run_mujoco_benchmark(bench, __doc__)


if __name__ == "__main__":
    main()
