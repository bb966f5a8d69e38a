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

Runs take long: one SAC update at batch 256 with 256x256 networks took 22-35 ms on this shared
2-core CPU (one torch thread), so 1M env steps (1M updates) is 6-10 hours per run, more with two
runs sharing the cores; start it in the background (`make bench-sac &`) and try it on a tiny
budget first (`make bench-sac ARGS="--total-env-steps 5500 --name sac_tiny"`: 500 updates per run
after the warm-up; the six runs took 7.5 min, Hopper 56-67 s and HalfCheetah 103-179 s each).
A killed benchmark continues from its runs' checkpoints:
`make bench-sac ARGS="--continue <benchmark dir>"`. Each finished run is
also recorded in benchmarks/results/<name>_runs/<env>_seed<k>.json with its resolved config: a later
invocation keeps a recorded run when the config it would run now (all but logging and saving)
equals the recorded one, and runs only the rest (`--rerun` ignores the records).
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

DEFAULT_RUNS = ["hopper:0", "hopper:1", "hopper:2", "halfcheetah:0", "halfcheetah:1", "halfcheetah:2"]


def run_overrides(steps: int) -> list[str]:
    """Intervals scaled to the budget: 20 evaluations, 100 log rows, a checkpoint every quarter (at most 100k)."""
    return [f"schedule.total_env_steps={steps}", f"schedule.eval_interval_env_steps={max(steps // 20, 1000)}",
            "schedule.eval_episodes=10", f"schedule.log_interval_env_steps={max(steps // 100, 1000)}",
            f"schedule.save_interval_env_steps={max(min(steps // 4, 100_000), 1000)}", "hardware.torch_threads=1",
            "logger.progress_bar=false", "logger.wandb_mode=disabled"]


def write_results(name: str, steps: int, common: list[str], finished: dict[str, dict]) -> list[str]:
    summary = table(finished)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{name}_curves.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env", "seed", "kind", "env_step", "wall_time_s", "return_mean", "return_std"])
        for run in finished.values():
            for kind in ("eval", "train"):
                for point in run[f"{kind}_curve"]:
                    writer.writerow([run["env"], run["seed"], kind, point["env_step"], point["wall_time_s"],
                                     point["return_mean"], point["return_std"]])
    (RESULTS / f"{name}.json").write_text(json.dumps(
        {"overrides": common, "total_env_steps": steps, "table": summary, "runs": finished}, indent=1) + "\n")
    lines = [f"# {name}: SAC, {steps:,} env steps per run ({' '.join(common)})", "",
             "| env | seeds | final eval return (10 episodes, tanh of the mean) | final training return"
             " (last 100 episodes) | wall s per run |", "|---|---|---|---|---|"]
    for env, row in summary.items():
        failed = f" ({row['failed_runs']} failed)" if row["failed_runs"] else ""
        lines.append(f"| {env} | {len(row['seeds'])}{failed} | {fmt(row['eval_mean'], row['eval_std'])}"
                     f" | {fmt(row['train_mean'], row['train_std'])} | {row['wall_s_mean']:.0f} |")
    lines += ["", "mean +- std across seeds (population std; one seed: std 0)."]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    panels: dict[str, dict] = {}
    for run in finished.values():
        panels.setdefault(run["env"], {})[f"seed {run['seed']}"] = [(p["env_step"], p["return_mean"])
                                                                    for p in run["eval_curve"]]
    plot_panels({f"{env}: evaluation return": runs for env, runs in panels.items()},
                RESULTS / f"{name}.png", f"{name}: SAC, {steps:,} env steps per run")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-env-steps", type=int, default=1_000_000, help="the budget of every run")
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="env:seed pairs (env = a conf/env option)")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--name", default="sac_learning")
    parser.add_argument("--continue", dest="continue_dir", type=Path, default=None,
                        help="a benchmark dir of an earlier, interrupted invocation: resume its runs")
    parser.add_argument("--rerun", action="store_true", help="run every run again, ignoring recorded ones")
    parser.add_argument("overrides", nargs="*", default=[], help="extra overrides for every run")
    args = parser.parse_args()
    for run in args.runs:
        env, _, seed = run.partition(":")
        if not env or not seed.isdigit():
            parser.error(f"--runs takes env:seed pairs such as hopper:0, got '{run}'")
    steps = args.total_env_steps
    common = ["algo=sac", *run_overrides(steps), *args.overrides]
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
                             "run_dir": str(run_dir.relative_to(REPO) if run_dir.is_relative_to(REPO) else run_dir),
                             "eval_curve": evals, "train_curve": train,
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
    print("\n".join(write_results(args.name, steps, common, finished)))


if __name__ == "__main__":
    main()
