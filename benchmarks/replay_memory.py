"""make bench-memory: the report's Boxing config (600k transitions, 16 envs, batch 1024) on this
machine's memory. Builds the report's run on the CPU as ``python -m rlkit experiment=boxing_report
hardware=cpu hardware.num_envs=16`` would (the host set up as a run sets it up: torch threads and
``hardware.reuse_freed_memory``), fills its replay with random actions on the 16 Boxing envs,
samples batch-1024 batches, then makes batch-1024 updates with the report's learner. Records the
peak RSS after each phase, the replay's bytes, and the sample and update times. Then the sample
time against the buffer size (filled with synthetic frames, which cost the same to sample).

Writes benchmarks/results/replay_memory.json and replay_memory.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import dqn_with_replay  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
NUM_ENVS = 16  # the report's
REPORT_RUN = ["experiment=boxing_report", "hardware=cpu", f"hardware.num_envs={NUM_ENVS}"]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # ru_maxrss is KiB on Linux


def sample_seconds(replay, batch_size: int, repeats: int, rng: np.random.Generator) -> float:
    """The median time of one ``sample`` call over ``repeats`` calls, after as many untimed ones (the
    first gathers from a freshly filled buffer run several times slower than the later ones)."""
    for _ in range(repeats):
        replay.sample(batch_size, rng)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        replay.sample(batch_size, rng)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def report_config_run(capacity: int, batches: int, updates: int, extra_overrides: list[str]) -> dict:
    """The report's run: fill its replay, sample from it, then update from it; peak RSS per phase."""
    start = time.perf_counter()
    run, envs, agent, _, rng = dqn_with_replay(  # random actions until every slot is written
        REPORT_RUN + [f"schedule.replay_capacity_transitions={capacity}"] + extra_overrides,
        env_steps=-(-capacity // NUM_ENVS))
    build_and_fill_s = time.perf_counter() - start
    envs.close()
    replay, batch_size = agent.replay, run.schedule.batch_size
    peak_after_fill = peak_rss_gib()
    seconds = sample_seconds(replay, batch_size, batches, rng)
    peak_after_sampling = peak_rss_gib()
    update_s = []
    for _ in range(updates):  # the learner's first update creates Adam's state; all are timed
        batch = replay.sample(batch_size, rng)
        start = time.perf_counter()
        agent.learner.update(batch, run.schedule.warmup_env_steps)
        update_s.append(time.perf_counter() - start)
    return {"capacity_transitions": capacity, "num_envs": envs.num_envs, "batch_size": batch_size,
            "overrides": REPORT_RUN + extra_overrides, "reuse_freed_memory": run.hardware.reuse_freed_memory,
            "replay_gib": replay.nbytes / 2**30, "bytes_per_transition": replay.bytes_per_transition,
            "peak_rss_gib_after_fill": peak_after_fill, "peak_rss_gib_after_sampling": peak_after_sampling,
            "peak_rss_gib": peak_rss_gib(), "build_and_fill_seconds": build_and_fill_s, "sample_seconds": seconds,
            "updates": updates, "update_seconds_median": float(np.median(update_s)) if update_s else None}


def filled_replay(size: int):
    """A one-env pixel replay of ``size`` transitions and the random generator that filled it."""
    from rlkit.buffers import FrameReplay

    replay = FrameReplay(size, 1, (84, 84), np.uint8, 4)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, size=(1, 4, 84, 84), dtype=np.uint8)
    replay.start(frame)
    no = np.zeros(1, dtype=bool)
    for t in range(size):  # the same frame each step: sampling cost does not depend on the pixels
        replay.add(np.array([t % 18]), np.zeros(1, np.float32), no, no, frame, no)
    return replay, rng


def sample_scaling(sizes: list[int], batch_size: int) -> list[dict]:
    rows = []
    for size in sizes:
        replay, rng = filled_replay(size)
        rows.append({"capacity_transitions": size, "batch_size": batch_size,
                     "sample_seconds": sample_seconds(replay, batch_size, 100, rng)})
        del replay
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacity", type=int, default=600_000, help="the report's replay (transitions)")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--updates", type=int, default=10, help="batch-1024 updates after the sampling")
    parser.add_argument("--override", nargs="*", default=[], help="more overrides for the report's run")
    parser.add_argument("--scaling-sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    fill = report_config_run(args.capacity, args.batches, args.updates, args.override)
    print(json.dumps(fill, indent=1))
    scaling = sample_scaling(args.scaling_sizes, 256)
    print(json.dumps(scaling, indent=1))
    summary = {"machine": platform.processor() or platform.machine(), "report_config": fill,
               "sample_time_by_size": scaling}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replay_memory.json").write_text(json.dumps(summary, indent=1) + "\n")
    gib = lambda key: f"{fill[key]:.2f} GiB"  # noqa: E731
    update = "-" if fill["update_seconds_median"] is None else f"{fill['update_seconds_median']:.2f} s"
    lines = ["# Replay memory: the report's Boxing config", "",
             f"`make bench-memory` (benchmarks/replay_memory.py): `python -m rlkit {' '.join(fill['overrides'])}`'s"
             f" run built as the CLI builds it (hardware.reuse_freed_memory={str(fill['reuse_freed_memory']).lower()}),"
             f" its {fill['capacity_transitions']:,}-transition replay filled with random actions on"
             f" {fill['num_envs']} Boxing envs, then 2 x {args.batches} batch-{fill['batch_size']} samples (the"
             f" median time of the second {args.batches}), then"
             f" {fill['updates']} batch-{fill['batch_size']} updates of the report's learner. Peak RSS of the process"
             " after each phase.", "",
             "| replay | bytes per transition | peak RSS: filled | sampled | updated | sample time | update time |",
             "|---|---|---|---|---|---|---|",
             f"| {gib('replay_gib')} | {fill['bytes_per_transition']:,.0f} | {gib('peak_rss_gib_after_fill')} |"
             f" {gib('peak_rss_gib_after_sampling')} | {gib('peak_rss_gib')} | {fill['sample_seconds'] * 1000:.1f} ms |"
             f" {update} |", "",
             "Sample time against the buffer size (one env, batch 256, synthetic frames; the median of 100 samples"
             " after 100 untimed ones):", "",
             "| capacity (transitions) | sample time |", "|---|---|"]
    lines += [f"| {r['capacity_transitions']:,} | {r['sample_seconds'] * 1000:.2f} ms |" for r in scaling]
    (RESULTS / "replay_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
