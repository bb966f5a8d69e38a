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

Runs take long (1M env steps: 6-12 min for Hopper or HalfCheetah, 14-19 min for Humanoid, with 2-4 runs
on this 2-core CPU): start it in the background
(`make bench-ppo &`); try it on a tiny budget first (`--total-env-steps 4096 --name ppo_tiny`).
A killed benchmark continues from its runs' checkpoints: `make bench-ppo ARGS="--continue <benchmark dir>"`.
Each finished run is also recorded in benchmarks/results/<name>_runs/<env>_seed<k>.json with its resolved config
(commit it): a later invocation keeps a recorded run when the config it would run now (composed from the
overrides and today's defaults; all but logging and saving) equals the recorded one, and runs only the rest,
so the benchmark can be completed over several sessions or machines, and a changed default reruns what it
changes (`--rerun` ignores the records).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from benchmarks.runs import (Job, curves, fmt, intended_config, plot_panels, recorded_runs, run_config,  # noqa: E402
                            run_jobs, table, wall_time_s)
from rlkit.logging import read_metrics  # noqa: E402

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-env-steps", type=int, default=1_000_000)
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="env:seed pairs (env = a conf/env option)")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--name", default="ppo_learning")
    parser.add_argument("--continue", dest="continue_dir", type=Path, default=None,
                        help="a benchmark dir of an earlier, interrupted invocation: resume its runs")
    parser.add_argument("--rerun", action="store_true", help="run every run again, ignoring recorded ones")
    parser.add_argument("overrides", nargs="*", default=[], help="extra overrides for every run")
    args = parser.parse_args()
    for run in args.runs:
        env, _, seed = run.partition(":")
        if not env or not seed.isdigit():
            parser.error(f"--runs takes env:seed pairs such as hopper:0, got '{run}'"
                         " (overrides go before --runs: network.trunk=shared --runs hopper:0)")
    steps = args.total_env_steps
    common = ["algo=ppo", *run_overrides(steps), *args.overrides]
    out_root = args.continue_dir or REPO / "outputs" / "bench" / args.name / time.strftime("%Y-%m-%d_%H-%M-%S")
    records = RESULTS / f"{args.name}_runs"
    run_keys = [(env, int(seed)) for env, seed in (run.split(":") for run in args.runs)]
    for env, seed in run_keys:  # a bad env or override is refused here, before any run starts
        intended_config([f"env={env}", f"seed={seed}", *common])
    finished: dict[str, dict] = {} if args.rerun else recorded_runs(records, common)
    if finished:
        print(f"kept {len(finished)} recorded runs from {records}: {', '.join(sorted(finished))}", flush=True)

    def done(job: Job, run_dir: Path, exit_code: int) -> None:
        env, seed = job.key.rsplit("_seed", 1)
        evals, train = curves(run_dir)
        rows = read_metrics(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").exists() else []
        finished[job.key] = {"env": env, "seed": int(seed), "exit_code": exit_code,
                             "wall_s": round(wall_time_s(rows)) if rows else 0,
                             "run_dir": str(run_dir.relative_to(REPO)), "eval_curve": evals, "train_curve": train,
                             "final_eval_return": evals[-1]["return_mean"] if evals else None,
                             "final_train_return": train[-1]["return_mean"] if train else None,
                             "overrides": common, "parallel": args.parallel,
                             "config": run_config(run_dir) if (run_dir / "config.yaml").exists() else None}
        if exit_code == 0:
            records.mkdir(parents=True, exist_ok=True)
            (records / f"{job.key}.json").write_text(json.dumps(finished[job.key], indent=1) + "\n")
        print(f"{job.key} done: exit {exit_code}, final eval {finished[job.key]['final_eval_return']},"
              f" train {finished[job.key]['final_train_return']}, {finished[job.key]['wall_s']} s", flush=True)

    save_interval = [o for o in common if o.startswith("schedule.save_interval")]
    jobs = [Job(f"{env}_seed{seed}", [f"env={env}", f"seed={seed}", *common], save_interval)
            for env, seed in run_keys if f"{env}_seed{seed}" not in finished]
    run_jobs(jobs, out_root, steps, args.parallel, done, poll_s=2 if steps < 100_000 else 15)
    if not args.rerun:  # with runs recorded meanwhile by another invocation (other --runs, same config)
        try:
            finished = {**recorded_runs(records, common), **finished}
        except SystemExit as err:  # the conf or the code changed on disk while the runs ran
            print(f"warning: {err}\nthe summary has this invocation's runs only", flush=True)
    summary = table(finished)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{args.name}_curves.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env", "seed", "kind", "env_step", "wall_time_s", "return_mean", "return_std"])
        for run in finished.values():
            for kind in ("eval", "train"):
                for point in run[f"{kind}_curve"]:
                    writer.writerow([run["env"], run["seed"], kind, point["env_step"], point["wall_time_s"],
                                     point["return_mean"], point["return_std"]])
    (RESULTS / f"{args.name}.json").write_text(json.dumps(
        {"overrides": common, "total_env_steps": steps, "table": summary, "runs": finished}, indent=1) + "\n")
    lines = [f"# {args.name}: PPO, {steps:,} env steps per run ({' '.join(common)})", "",
             "| env | seeds | final eval return (10 episodes, mean action) | final training return (last 100 episodes)"
             " | wall s per run | reference at 1M |", "|---|---|---|---|---|---|"]
    for env, row in summary.items():
        failed = f" ({row['failed_runs']} failed)" if row["failed_runs"] else ""
        lines.append(f"| {env} | {len(row['seeds'])}{failed} | {fmt(row['eval_mean'], row['eval_std'])}"
                     f" | {fmt(row['train_mean'], row['train_std'])} | {row['wall_s_mean']:.0f}"
                     f" | {REFERENCES.get(env, '-')} |")
    lines += ["", "mean +- std across seeds (population std; one seed: std 0)."]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    panels: dict[str, dict] = {}
    for run in finished.values():
        panels.setdefault(run["env"], {})[f"seed {run['seed']}"] = [(p["env_step"], p["return_mean"])
                                                                    for p in run["eval_curve"]]
    plot_panels({f"{env}: evaluation return": lines for env, lines in panels.items()},
                RESULTS / f"{args.name}.png", f"{args.name}: PPO, {steps:,} env steps per run")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
