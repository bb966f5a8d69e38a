"""make bench-atari: DQN on Boxing RAM for 2M env steps, 3 seeds, on this CPU.

Each seed is its own `python -m rlkit` process (all at once unless --parallel says fewer, one
torch thread each). Writes benchmarks/results/atari_boxing_ram_dqn.{json,md} with the curves (training and
evaluation returns against env steps and frames), the final returns and the wall time, and the
curves as benchmarks/results/atari_boxing_ram_dqn.png.
Runs take hours on 2 cores: start it in the background (`make bench-atari &`). A killed benchmark
continues where its runs' last checkpoints left off (one every 100k env steps):
`make bench-atari ARGS="--continue outputs/bench/atari_boxing_ram_dqn/<stamp>"`; the wall time
sums the segments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from benchmarks.runs import Job, plot_panels, run_jobs, wall_time_s  # noqa: E402
from rlkit.logging import read_metrics  # noqa: E402


def collect(run_dir: Path, exit_code: int) -> dict:
    """One run's curves (training and evaluation returns against env steps), finals and wall time."""
    rows = read_metrics(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").exists() else []
    train = [(r["env_step"], r["train/episode_return_mean"]) for r in rows if "train/episode_return_mean" in r
             and "loss" in r]
    evals = [(r["env_step"], r["eval/return_mean"]) for r in rows if "eval/return_mean" in r]
    return {"exit_code": exit_code, "wall_s": round(wall_time_s(rows)) if rows else 0,
            "run_dir": str(run_dir.relative_to(REPO)), "train_curve": train, "eval_curve": evals,
            "final_train_return": train[-1][1] if train else None,
            "final_eval_return": evals[-1][1] if evals else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total-env-steps", type=int, default=2_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=None,
                        help="runs at a time (default: all seeds at once; on 2 cores 3 single-threaded runs end"
                             " together, sooner than 2 then 1)")
    parser.add_argument("--name", default="atari_boxing_ram_dqn")
    parser.add_argument("--continue", dest="continue_dir", type=Path, default=None,
                        help="a benchmark dir of an earlier, interrupted invocation: resume its runs")
    parser.add_argument("overrides", nargs="*", default=["algo=dqn", "env=boxing_ram"])
    args = parser.parse_args()
    out_root = args.continue_dir or REPO / "outputs" / "bench" / args.name / time.strftime("%Y-%m-%d_%H-%M-%S")
    steps = args.total_env_steps
    parallel = args.parallel or len(args.seeds)
    common = args.overrides + [f"schedule.total_env_steps={steps}", f"schedule.eval_interval_env_steps={steps // 10}",
                               f"schedule.log_interval_env_steps={max(steps // 200, 1000)}",
                               f"schedule.save_interval_env_steps={min(steps // 4, 100_000)}",
                               "hardware.torch_threads=1", "hardware.env_threads=1", "logger.progress_bar=false"]
    finished: dict[int, dict] = {}

    def done(job: Job, run_dir: Path, exit_code: int) -> None:
        seed = int(job.key.removeprefix("seed"))
        finished[seed] = collect(run_dir, exit_code)
        print(f"seed {seed} done: exit {exit_code}, eval {finished[seed]['final_eval_return']},"
              f" train {finished[seed]['final_train_return']}, {finished[seed]['wall_s']} s", flush=True)

    jobs = [Job(f"seed{seed}", [*common, f"seed={seed}"], [o for o in common if o.startswith("schedule.save_interval")])
            for seed in args.seeds]
    run_jobs(jobs, out_root, steps, parallel, done, poll_s=10)
    unfinished = sorted(seed for seed in args.seeds if finished.get(seed, {}).get("exit_code") != 0)
    if unfinished:  # stopped or failed: no results file that reads as a finished benchmark
        sys.exit(f"seeds {unfinished} did not finish; no results written. Continue with: make bench-atari"
                 f" ARGS=\"--continue {out_root} --name {args.name} {' '.join(args.overrides)}\"")
    finals_eval = [f["final_eval_return"] for f in finished.values() if f["final_eval_return"] is not None]
    finals_train = [f["final_train_return"] for f in finished.values() if f["final_train_return"] is not None]
    summary = {"overrides": common, "total_env_steps": steps, "atari_frames": steps * 4, "runs": finished,
               "eval_mean": float(np.mean(finals_eval)) if finals_eval else None,
               "eval_std": float(np.std(finals_eval)) if finals_eval else None,
               "train_mean": float(np.mean(finals_train)) if finals_train else None,
               "train_std": float(np.std(finals_train)) if finals_train else None}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = [f"# {args.name}: {' '.join(args.overrides)}, {steps:,} env steps ({steps * 4:,} frames)", "",
             "| seed | final training return (last 100 episodes) | final evaluation return (10 episodes) | wall s |",
             "|---|---|---|---|"]
    lines += [f"| {s} | {f['final_train_return']} | {f['final_eval_return']} | {f['wall_s']} |"
              for s, f in sorted(finished.items())]
    def mean_std(key: str) -> str:
        return "-" if summary[f"{key}_mean"] is None else f"{summary[f'{key}_mean']:.1f} +- {summary[f'{key}_std']:.1f}"
    lines += ["", f"mean training return {mean_std('train')}; mean evaluation return {mean_std('eval')}"
                  " (population std across seeds); wall time per run, summed over resumed segments."]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    plot_panels({"training return (mean of the last 100 episodes)":
                 {f"seed {s}": f["train_curve"] for s, f in finished.items()},
                 "evaluation return (10 episodes, epsilon 0.001)":
                 {f"seed {s}": f["eval_curve"] for s, f in finished.items()}},
                RESULTS / f"{args.name}.png", f"{args.name}: {' '.join(args.overrides)}, {steps:,} env steps")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
