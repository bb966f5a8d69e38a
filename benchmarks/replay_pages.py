"""make bench-replay-pages: how the replay's memory is paged, and what the first pass costs.

rlkit's FrameReplay allocates its arrays without numpy's huge-page hint (numpy marks every array
of 4 MiB or more MADV_HUGEPAGE; rlkit.buffers.frame_replay.zeros_in_base_pages), and its pages are
faulted in by the first pass's writes. Three sides, each measurement in a process of its own,
alternating in every round:
- lazy (rlkit's default): base pages, faulted in by the writes;
- paged in: base pages, all faulted in when the replay is built (a zero byte per page), before
  the timed writes: whether faulting in at once costs less in all than page by page;
- hinted, lazy: numpy's allocation (huge pages), faulted in by the writes (rlkit before).

Cases:
- collection: bench-peers' collection alone into the default replay's first pass (8 envs,
  random actions, replay writes, no learning), against the bare AtariVectorEnv in the same
  process: the fraction of the bare rate, the page-in time, and the first pass's cost per 1,000
  transitions with the page-in's share (its time over the replay's capacity) added;
- sampling: the sample time of a 1,000,000-transition replay (one env, synthetic frames, as
  `make bench-memory` measures it), where huge pages would save TLB misses (lazy and hinted).

Writes benchmarks/results/replay_pages.json and replay_pages.md. Run on idle cores.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import collection_rates, cpu_description, write_results  # noqa: E402

SIDES = {"collection": ("lazy", "paged_in", "hinted_lazy"), "sampling": ("lazy", "hinted_lazy")}
LABELS = {"lazy": "base pages, lazy (default)", "paged_in": "base pages, paged in at the start",
          "hinted_lazy": "numpy's huge-page hint, lazy"}
SAMPLE_CAPACITY = 1_000_000
SAMPLE_BATCHES = (32, 256)
PAUSE_S = 5.0  # before each measurement


def set_side(side: str) -> dict[str, float]:
    """Make FrameReplay allocate (and page in) as ``side`` does; returns where the page-in time goes."""
    import rlkit.buffers.frame_replay as frame_replay

    timing = {"page_in_s": 0.0, "page_in_transitions": 0}
    if side == "hinted_lazy":
        frame_replay.zeros_in_base_pages = lambda shape, dtype: np.zeros(shape, dtype=dtype)
    elif side == "paged_in":
        build = frame_replay.FrameReplay.__init__

        def build_and_page_in(replay, *args, **kwargs) -> None:
            build(replay, *args, **kwargs)
            start = time.perf_counter()
            for array in (replay.frames, replay.actions, replay.rewards, replay.flags, replay.steps_since_start):
                memory = array.reshape(-1).view(np.uint8)  # all zeros yet: a zero byte per page keeps them
                memory[::mmap.PAGESIZE] = 0
                memory[-1:] = 0
            timing["page_in_s"] += time.perf_counter() - start
            timing["page_in_transitions"] += replay.capacity_per_env * replay.num_envs

        frame_replay.FrameReplay.__init__ = build_and_page_in
    return timing


def child(case: str, side: str) -> dict:
    timing = set_side(side)
    if case == "collection":
        rates = collection_rates(8, rounds=30, vector_steps=100)
        per_transition_s = timing["page_in_s"] / max(timing["page_in_transitions"], 1)
        return {"bare_sps": round(rates["bare"], 1), "collection_sps": round(rates["collection"], 1),
                "fraction": round(rates["collection"] / rates["bare"], 3), "page_in_s": round(timing["page_in_s"], 3),
                "first_pass_s_per_1000": round(1000 * (1 / rates["collection"] + per_transition_s), 4)}
    from replay_memory import filled_replay, sample_seconds

    replay, rng = filled_replay(SAMPLE_CAPACITY)
    return {f"sample_ms_batch_{batch}": round(sample_seconds(replay, batch, 100, rng) * 1000, 3)
            for batch in SAMPLE_BATCHES}


def measure(case: str, side: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", case, side], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} {side} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(results: dict) -> str:
    medians, samples = results["medians"], results["samples"]
    lines = ["# The replay's memory: huge pages and paging in (make bench-replay-pages)", "",
             f"Machine: {results['machine']}; {results['rounds']} rounds, the sides alternating, each "
             f"measurement in a process of its own, {PAUSE_S:.0f} s after the one before. Transparent huge pages "
             f"here: enabled {results['thp']['enabled']}, defrag {results['thp']['defrag']}.", ""]
    if "collection" in medians:
        lines += ["Collection alone into the default replay's first pass (8 envs, random actions, replay writes, "
                  "no learning), against the bare AtariVectorEnv in the same process; medians of the rounds. The "
                  "first pass's cost adds "
                  "the page-in's share (its time over the transitions it paged in) to the collection's time:", "",
                  "| side | collection, env steps/s | bare, env steps/s | fraction of the bare rate | per round "
                  "| page-in at start | first pass, s per 1,000 transitions |", "|---|---|---|---|---|---|---|"]
        for side in SIDES["collection"]:
            row = medians["collection"][side]
            rounds = ", ".join(f"{r['fraction']:.2f}" for r in samples["collection"][side])
            lines.append(f"| {LABELS[side]} | {row['collection_sps']:.0f} | {row['bare_sps']:.0f} | "
                         f"{row['fraction']:.2f} | {rounds} | {row['page_in_s']:.2f} s | "
                         f"{row['first_pass_s_per_1000']:.3f} |")
        lines.append("")
    if "sampling" in medians:
        lines += [f"Sample time of a {SAMPLE_CAPACITY:,}-transition replay (one env, synthetic frames; medians of "
                  f"{results['sampling_rounds']} rounds):", "",
                  "| batch | " + " | ".join(LABELS[side] for side in SIDES["sampling"]) + " |",
                  "|---|" + "---|" * len(SIDES["sampling"])]
        for batch in SAMPLE_BATCHES:
            key = f"sample_ms_batch_{batch}"
            lines.append(f"| {batch} | " + " | ".join(f"{medians['sampling'][side][key]:.2f} ms"
                                                      for side in SIDES["sampling"]) + " |")
    return "\n".join(lines) + "\n"


def transparent_huge_pages() -> dict[str, str]:
    """The system's policy: the bracketed word of each setting."""
    settings = {}
    for name in ("enabled", "defrag"):
        path = Path("/sys/kernel/mm/transparent_hugepage") / name
        text = path.read_text() if path.exists() else "[unknown]"
        settings[name] = text.split("[", 1)[-1].split("]", 1)[0]
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--sampling-rounds", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(SIDES), choices=list(SIDES))
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if sys.platform != "linux":
        sys.exit("huge-page hints and /proc are Linux's; nothing to compare here")
    samples: dict[str, dict[str, list[dict]]] = {case: {side: [] for side in SIDES[case]} for case in args.cases}
    # One case's rounds after the other's: a sampling process frees gigabytes, whose pages the next
    # process would find backed by the VM, and the collection is to write fresh memory. The pause
    # gives the guest time to report freed pages back to the host.
    for case in args.cases:
        for round_index in range(args.rounds if case == "collection" else args.sampling_rounds):
            sides = SIDES[case][round_index % len(SIDES[case]):] + SIDES[case][:round_index % len(SIDES[case])]
            for side in sides:
                time.sleep(PAUSE_S)
                result = measure(case, side)
                samples[case][side].append(result)
                print(f"round {round_index + 1} {case} {side}: {result}", flush=True)
    medians = {case: {side: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
                      for side, rows in sides.items()} for case, sides in samples.items()}
    results = {"machine": {"cpus": len(os.sched_getaffinity(0)), "cpu": cpu_description(),
                           "python": platform.python_version(), "numpy": np.__version__,
                           "date": time.strftime("%Y-%m-%d %H:%M")},
               "thp": transparent_huge_pages(), "rounds": args.rounds, "sampling_rounds": args.sampling_rounds,
               "medians": medians, "samples": samples}
    write_results("replay_pages", results, markdown(results))


if __name__ == "__main__":
    main()
