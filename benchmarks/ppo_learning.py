"""make bench-ppo: PPO on MuJoCo at 1M env steps: Hopper x3 seeds, HalfCheetah x3, Humanoid x2, Ant x1.

Each run is its own `python -m rlkit algo=ppo env=...` process (at most --parallel at a time, one
torch thread each), with the default PPO settings (CleanRL's ppo_continuous_action: 2048
transitions per rollout, 10 epochs of 32 minibatches, lr 3e-4 annealed; initial log-std -0.5 and
actions mapped onto the env's bounds) and 20 evaluations of
10 episodes (mean action, frozen observation statistics) spread over the budget. Writes under
benchmarks/results/:

  <name>_curves.csv   env, seed, kind (eval | train), env_step, wall_time_s, return_mean, return_std
  <name>.json         every run's curves, final returns and wall time, and the per-env table
  <name>.md           final evaluation return mean +- std across seeds, training return, wall time
  <name>.png          evaluation curves, one panel per env, one line per seed

Runs take long (README, "Learning benchmarks", for the measured wall times): start it in the background
(`make bench-ppo &`); try it on a tiny budget first (`--total-env-steps 4096 --name ppo_tiny`).
A killed benchmark continues from its runs' checkpoints: `make bench-ppo ARGS="--continue <benchmark dir>"`.
Each finished run is also recorded in benchmarks/results/<name>_runs/<env>_seed<k>.json with its resolved config
(commit it): a later invocation keeps a recorded run when the config it would run now (composed from the
overrides and today's defaults; all but logging and saving) equals the recorded one, and runs only the rest,
so the benchmark can be completed over several sessions or machines, and a changed default reruns what it
changes (`--rerun` ignores the records).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.runs import MujocoBenchmark, run_mujoco_benchmark  # noqa: E402

DEFAULT_RUNS = ["hopper:0", "hopper:1", "hopper:2", "halfcheetah:0", "halfcheetah:1", "halfcheetah:2",
                "humanoid:0", "humanoid:1", "ant:0"]
# Published 1M-step PPO results, for the table (DESIGN.md): CleanRL ppo_continuous_action (MuJoCo v4,
# training returns), Tianshou PPO (v3).
REFERENCES = {"hopper": "CleanRL 2052 +- 314; Tianshou 2609", "halfcheetah": "CleanRL 2906 +- 1129; Tianshou 5784",
              "humanoid": "CleanRL 742 +- 156", "ant": "Tianshou 3258"}


def run_overrides(steps: int) -> list[str]:
    rollout = 2048
    eval_interval = max(steps // 20, rollout)
    return [f"schedule.total_env_steps={steps}", f"schedule.eval_interval_env_steps={eval_interval}",
            "schedule.eval_episodes=10", f"schedule.log_interval_env_steps={max(steps // 100, rollout)}",
            f"schedule.save_interval_env_steps={max(min(steps // 4, 100_000), rollout)}", "hardware.torch_threads=1",
            "logger.progress_bar=false", "logger.wandb_mode=disabled"]


def main() -> None:
    run_mujoco_benchmark(MujocoBenchmark("ppo", "ppo_learning", DEFAULT_RUNS, run_overrides, "mean action", REFERENCES), __doc__)


if __name__ == "__main__":
    main()
