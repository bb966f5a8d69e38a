"""make bench-train: the default job (`make train`) over seeds 0, 1 and 2, one at a time.

Each seed is `python -m rlkit random_baseline_episodes=10 seed=<s>` (the default job: DQN on
Boxing RAM, schedule=cpu_small, torch threads auto) with the progress line and W&B off, run
alone so that its wall time is the one a user of `make train` on an idle machine gets. Writes
benchmarks/results/train_seeds.{json,md}: per seed the final evaluation against 10 random-policy
episodes (the run's random_baseline.json: means, population stds, one-sided Welch t and p), the
evaluations along the way, the wall time and the median training rate; across seeds the mean and
population std of the final evaluations.
Run dirs go under outputs/bench/train_seeds/<stamp>/; a killed benchmark continues its runs from
their checkpoints with `--continue <that dir>` (the wall time then sums the segments; a run
stopped during its random-policy episodes gets them from a resume).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.peers import cpu_description, write_results  # noqa: E402
from benchmarks.runs import Job, intended_config, run_jobs, wall_time_s  # noqa: E402
from rlkit.checkpoint import list_checkpoints  # noqa: E402
from rlkit.logging import METRICS_FILE, RANDOM_BASELINE_FILE, read_metrics  # noqa: E402

BASELINE_EPISODES = 10  # as `make train`


def collect(run_dir: Path, exit_code: int) -> dict:
    """One seed's outcome: its random-baseline comparison, evaluations, wall time and rate."""
    rows = read_metrics(run_dir / METRICS_FILE) if (run_dir / METRICS_FILE).exists() else []
    baseline_path = run_dir / RANDOM_BASELINE_FILE
    if exit_code == 0 and not baseline_path.exists() and list_checkpoints(run_dir):
        # finished, but stopped during its random-policy episodes: a resume plays them
        subprocess.run([sys.executable, "-m", "rlkit", f"resume={run_dir}",
                        f"hydra.run.dir={run_dir.parent / 'resume_scratch'}"], cwd=REPO, check=False)
    baseline = json.loads(baseline_path.read_text()) if baseline_path.exists() else None
    rates = [r["sps"] for r in rows if "sps" in r and "loss" in r]  # training rows after the warm-up
    return {"exit_code": exit_code,
            "run_dir": str(run_dir.relative_to(REPO) if run_dir.is_relative_to(REPO) else run_dir),
            "wall_s": round(wall_time_s(rows)) if rows else None,
            "median_sps": round(statistics.median(rates), 1) if rates else None,
            "evaluations": [(r["env_step"], round(r["eval/return_mean"], 2)) for r in rows
                            if "eval/return_mean" in r],
            "baseline": baseline}


def record_results(name: str, seeds: dict[int, dict], started: str, budget: int, common: list[str]) -> None:
    finished = {seed: out for seed, out in seeds.items() if out["baseline"] is not None}
    final = [out["baseline"]["agent_mean"] for out in finished.values()]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    machine = {"cpus": len(os.sched_getaffinity(0)), "cpu": cpu_description(), "python": platform.python_version(),
               "torch": torch.__version__, "commit": commit, "started": started,
               "finished": time.strftime("%Y-%m-%d %H:%M")}
    across = ({"mean": round(float(np.mean(final)), 2), "population_std": round(float(np.std(final)), 2)}
              if final else None)
    record = {"machine": machine, "command": f"python -m rlkit {' '.join(common)} seed=<s>",
              "total_env_steps": budget, "seeds": seeds, "across_seeds": across}
    lines = ["# The default job over seeds (make bench-train)", "",
             f"Machine: {machine}. Each seed ran `{record['command']}` (DQN on Boxing RAM, schedule=cpu_small,"
             f" {budget:,} env steps, torch threads auto), one seed at a time. The final evaluation (the run's"
             " last, at the algo's eval_epsilon) against the random policy's episodes, from the run's"
             " random_baseline.json: means +- population stds, the one-sided Welch test. Wall: the run's own"
             " clock (metrics.jsonl); env steps/s: the median of its training rows.",
             "",
             "| seed | final evaluation return (episodes) | random policy (episodes) | Welch t | p |"
             " beats random (p < 0.05) | wall | median env steps/s |",
             "|---|---|---|---|---|---|---|---|"]
    for seed, out in sorted(seeds.items()):
        b = out["baseline"]
        if b is None:
            lines.append(f"| {seed} | (exit code {out['exit_code']}; no {RANDOM_BASELINE_FILE}: see the run's log"
                         " beside its run dir) | | | | | | |")
            continue
        lines.append(f"| {seed} | {b['agent_mean']:.1f} +- {b['agent_std']:.1f} ({len(b['agent_returns'])}) |"
                     f" {b['random_mean']:.1f} +- {b['random_std']:.1f} ({len(b['random_returns'])}) |"
                     f" {b['welch_t']:.2f} | {b['p_value']:.2g} |"
                     f" {'yes' if b['beats_random'] else 'no'} | {out['wall_s']:,} s | {out['median_sps']} |")
    if across:
        lines += ["", f"Across the {len(final)} seeds: {across['mean']} +- {across['population_std']} (mean +-"
                      " population std of the final evaluation means)."]
    lines += ["", "Evaluations along the way (env step: mean return of the evaluation episodes):"]
    lines += [f"- seed {seed}: " + ", ".join(f"{step:,}: {ret}" for step, ret in out["evaluations"])
              for seed, out in sorted(seeds.items())]
    write_results(name, record, "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--name", default="train_seeds", help="results file name under benchmarks/results")
    parser.add_argument("--total-env-steps", type=int, default=None,
                        help="another budget (a trial: --total-env-steps 20000 --name train_seeds_trial); default:"
                             " the default job's")
    parser.add_argument("--continue", dest="continue_dir", type=Path, default=None,
                        help="a benchmark dir of an earlier, interrupted invocation: resume its runs")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M")
    out_root = args.continue_dir or REPO / "outputs" / "bench" / args.name / time.strftime("%Y-%m-%d_%H-%M-%S")
    common = [f"random_baseline_episodes={BASELINE_EPISODES}", "logger.progress_bar=false",
              "logger.wandb_mode=disabled"]
    seeds: dict[int, dict] = {}

    def on_done(job: Job, run_dir: Path, exit_code: int) -> None:
        seed = int(job.key.removeprefix("seed_"))
        seeds[seed] = collect(run_dir, exit_code)
        baseline = seeds[seed]["baseline"] or {}
        print(f"{job.key} done (exit code {exit_code}): final evaluation {baseline.get('agent_mean')}, random"
              f" {baseline.get('random_mean')}, p = {baseline.get('p_value')}", flush=True)

    if args.total_env_steps:
        common.append(f"schedule.total_env_steps={args.total_env_steps}")
    # the budget as the job composes it (a bad override stops here; a run whose checkpoint reached the
    # budget is not rerun on --continue)
    budget = int(intended_config(common)["schedule"]["total_env_steps"])
    jobs = [Job(f"seed_{seed}", [*common, f"seed={seed}"], []) for seed in args.seeds]
    run_jobs(jobs, out_root, total_env_steps=budget, parallel=1, on_done=on_done, poll_s=5.0)
    record_results(args.name, seeds, started, budget, common)


if __name__ == "__main__":
    main()
