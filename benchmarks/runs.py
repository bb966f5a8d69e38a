"""The learning benchmarks' process runner: `python -m rlkit` jobs, a few at a time, each in its own
run dir under one benchmark dir. A benchmark that was killed continues where its runs' last
checkpoints left off (`--continue <benchmark dir>`): finished runs are kept, interrupted ones resumed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from rlkit.checkpoint import list_checkpoints  # noqa: E402
from rlkit.logging import read_metrics  # noqa: E402


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


# Keys of a run's resolved config that do not change what it learns.
NOT_LEARNING = ("logger", "resume", "allow_config_change", "keep_checkpoints")
NOT_LEARNING_SCHEDULE = ("save_interval_env_steps", "log_interval_env_steps")


def curves(run_dir: Path) -> tuple[list[dict], list[dict]]:
    rows = read_metrics(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").exists() else []
    evals = [{"env_step": r["env_step"], "wall_time_s": r["wall_time_s"], "return_mean": r["eval/return_mean"],
              "return_std": r["eval/return_std"]} for r in rows if "eval/return_mean" in r]
    train = [{"env_step": r["env_step"], "wall_time_s": r["wall_time_s"],
              "return_mean": r["train/episode_return_mean"], "return_std": None}
             for r in rows if "train/episode_return_mean" in r and "loss" in r]
    return evals, train


def table(finished: dict[str, dict]) -> dict[str, dict]:
    by_env: dict[str, dict] = {}
    for run in finished.values():
        by_env.setdefault(run["env"], []).append(run)
    out = {}
    for env, runs in by_env.items():
        evals = [r["final_eval_return"] for r in runs if r["final_eval_return"] is not None]
        trains = [r["final_train_return"] for r in runs if r["final_train_return"] is not None]
        out[env] = {"seeds": sorted(r["seed"] for r in runs), "eval_mean": float(np.mean(evals)) if evals else None,
                    "eval_std": float(np.std(evals)) if evals else None,
                    "train_mean": float(np.mean(trains)) if trains else None,
                    "train_std": float(np.std(trains)) if trains else None,
                    "wall_s_mean": float(np.mean([r["wall_s"] for r in runs])),
                    "failed_runs": sum(r["exit_code"] != 0 for r in runs)}
    return out


def learning_config(config: dict) -> dict:
    """The part of a run's resolved config that decides what it learns (all but logging and saving)."""
    out = {key: value for key, value in config.items() if key not in NOT_LEARNING}
    out["schedule"] = {k: v for k, v in config["schedule"].items() if k not in NOT_LEARNING_SCHEDULE}
    return out


def intended_config(overrides: list[str]) -> dict:
    """The resolved config `python -m rlkit <overrides>` would run with (composed here, nothing run)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from rlkit.config import register_schemas

    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(REPO / "rlkit" / "conf"), version_base="1.3"):
            config = compose(config_name="config", overrides=overrides)
    except Exception as err:  # a bad override: one line, no run started
        raise SystemExit(f"error: cannot compose {' '.join(overrides)}: {err}") from None
    return learning_config(OmegaConf.to_container(config, resolve=True))


def run_config(run_dir: Path) -> dict:
    from omegaconf import OmegaConf

    return learning_config(OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=True))


def recorded_runs(records: Path, common: list[str]) -> dict[str, dict]:
    """Runs finished earlier whose resolved learning config equals the one `common` gives their env and
    seed now. A record of other overrides, or of code whose defaults have changed since, is not kept:
    that run is made again."""
    runs = {}
    for path in sorted(records.glob("*.json")) if records.is_dir() else []:
        run = json.loads(path.read_text())
        if run["exit_code"] != 0 or run.get("config") is None:
            continue
        if run["config"] == intended_config([f"env={run['env']}", f"seed={run['seed']}", *common]):
            runs[path.stem] = run
    return runs


def fmt(mean, std) -> str:
    return "-" if mean is None else f"{mean:.0f} +- {std:.0f}"


@dataclass(frozen=True)
class MujocoBenchmark:
    """One algorithm's learning benchmark over env:seed runs (make bench-ppo, make bench-sac)."""

    algo: str  # the algo option: "ppo", "sac"
    default_name: str  # results file name under benchmarks/results
    default_runs: list[str]  # env:seed pairs
    run_overrides: Callable[[int], list[str]]  # the budget's schedule and logging overrides
    eval_label: str  # how evaluation acts, for the table's header
    references: dict[str, str]  # env -> published results, a column of the table (empty: none)


def run_mujoco_benchmark(bench: MujocoBenchmark, description: str) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-env-steps", type=int, default=1_000_000, help="the budget of every run")
    parser.add_argument("--runs", nargs="+", default=bench.default_runs, help="env:seed pairs (env = a conf/env option)")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--name", default=bench.default_name)
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
    common = [f"algo={bench.algo}", *bench.run_overrides(steps), *args.overrides]
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
    print("\n".join(write_results(bench, args.name, steps, common, finished)))


def write_results(bench: MujocoBenchmark, name: str, steps: int, common: list[str], finished: dict[str, dict]
                  ) -> list[str]:
    import csv

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
    algo = bench.algo.upper()
    reference_header = (" | reference at 1M |", "---|") if bench.references else (" |", "")
    lines = [f"# {name}: {algo}, {steps:,} env steps per run ({' '.join(common)})", "",
             f"| env | seeds | final eval return (10 episodes, {bench.eval_label}) | final training return"
             f" (last 100 episodes) | wall s per run{reference_header[0]}", f"|---|---|---|---|---|{reference_header[1]}"]
    for env, row in summary.items():
        failed = f" ({row['failed_runs']} failed)" if row["failed_runs"] else ""
        reference = f" | {bench.references.get(env, '-')} |" if bench.references else " |"
        lines.append(f"| {env} | {len(row['seeds'])}{failed} | {fmt(row['eval_mean'], row['eval_std'])}"
                     f" | {fmt(row['train_mean'], row['train_std'])} | {row['wall_s_mean']:.0f}{reference}")
    lines += ["", "mean +- std across seeds (population std; one seed: std 0)."]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    panels: dict[str, dict] = {}
    for run in finished.values():
        panels.setdefault(run["env"], {})[f"seed {run['seed']}"] = [(p["env_step"], p["return_mean"])
                                                                    for p in run["eval_curve"]]
    plot_panels({f"{env}: evaluation return": runs for env, runs in panels.items()},
                RESULTS / f"{name}.png", f"{name}: {algo}, {steps:,} env steps per run")
    return lines
