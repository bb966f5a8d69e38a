"""make bench-memory: the report's Boxing config (600k transitions, 16 envs, batch 1024) on this
machine's memory. Fills the replay with random actions on the 16 Boxing envs, then samples
batch-1024 batches; records the peak RSS, the replay's bytes and the sample time. Then the sample
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

from rlkit.algos.common import replay_for  # noqa: E402
from rlkit.config import to_run_config  # noqa: E402
from rlkit.envs import ENVS  # noqa: E402
from tests.conftest import compose_config  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # ru_maxrss is KiB on Linux


def sample_seconds(replay, batch_size: int, repeats: int, rng: np.random.Generator) -> float:
    replay.sample(batch_size, rng)
    start = time.perf_counter()
    for _ in range(repeats):
        replay.sample(batch_size, rng)
    return (time.perf_counter() - start) / repeats


def report_config_fill(capacity: int, batches: int) -> dict:
    run = to_run_config(compose_config(["env=boxing", "schedule=report", "hardware.num_envs=16",
                                        f"schedule.replay_capacity_transitions={capacity}"]))
    envs = ENVS.get("atari")(run.env, num_envs=16, backend="ale_vector", env_threads=2)
    replay = replay_for(capacity, 16, envs.spec, gamma=run.algo.gamma, n_step=run.algo.n_step)
    rng = np.random.default_rng(0)
    obs = envs.reset(seed=0)
    replay.start(obs)
    is_reset = np.zeros(16, dtype=bool)
    start = time.perf_counter()
    while replay.num_added_transitions < capacity:
        actions = rng.integers(envs.spec.n_actions, size=16)
        result = envs.step(actions)
        replay.add(actions, result.reward, result.terminated, result.truncated, result.obs, is_reset)
        is_reset = result.terminated | result.truncated
    fill_s = time.perf_counter() - start
    envs.close()
    seconds = sample_seconds(replay, run.schedule.batch_size, batches, rng)
    return {"capacity_transitions": capacity, "num_envs": 16, "batch_size": run.schedule.batch_size,
            "replay_gib": replay.nbytes / 2**30, "bytes_per_transition": replay.bytes_per_transition,
            "peak_rss_gib": peak_rss_gib(), "fill_seconds": fill_s, "sample_seconds": seconds}


def sample_scaling(sizes: list[int], batch_size: int) -> list[dict]:
    from rlkit.buffers import FrameReplay

    rows = []
    for size in sizes:
        replay = FrameReplay(size, 1, (84, 84), np.uint8, 4)
        rng = np.random.default_rng(0)
        frame = rng.integers(0, 255, size=(1, 4, 84, 84), dtype=np.uint8)
        replay.start(frame)
        no = np.zeros(1, dtype=bool)
        for t in range(size):  # the same frame each step: sampling cost does not depend on the pixels
            replay.add(np.array([t % 18]), np.zeros(1, np.float32), no, no, frame, no)
        rows.append({"capacity_transitions": size, "batch_size": batch_size,
                     "sample_seconds": sample_seconds(replay, batch_size, 20, rng)})
        del replay
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacity", type=int, default=600_000, help="the report's replay (transitions)")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--scaling-sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    fill = report_config_fill(args.capacity, args.batches)
    print(json.dumps(fill, indent=1))
    scaling = sample_scaling(args.scaling_sizes, 256)
    print(json.dumps(scaling, indent=1))
    summary = {"machine": platform.processor() or platform.machine(), "report_config": fill,
               "sample_time_by_size": scaling}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replay_memory.json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = ["# Replay memory: the report's Boxing config", "",
             f"`make bench-memory` (benchmarks/replay_memory.py). {fill['capacity_transitions']:,} transitions over"
             f" {fill['num_envs']} Boxing envs, filled with random actions, then batch-{fill['batch_size']} samples.", "",
             "| replay | bytes per transition | peak RSS of the process | sample time (batch 1024) |", "|---|---|---|---|",
             f"| {fill['replay_gib']:.2f} GiB | {fill['bytes_per_transition']:,.0f} | {fill['peak_rss_gib']:.2f} GiB |"
             f" {fill['sample_seconds'] * 1000:.1f} ms |", "",
             "Sample time against the buffer size (one env, batch 256, synthetic frames):", "",
             "| capacity (transitions) | sample time |", "|---|---|"]
    lines += [f"| {r['capacity_transitions']:,} | {r['sample_seconds'] * 1000:.2f} ms |" for r in scaling]
    (RESULTS / "replay_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
