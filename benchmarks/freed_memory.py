"""make bench-freed-memory: what ``hardware.reuse_freed_memory`` saves in a DQN update on this machine.

glibc returns large freed blocks to the OS, so a block allocated anew (each update's batch tensors)
lands on fresh pages, and the first write to each page is a page fault; on a virtual machine a fault
is dear. With the setting (the default) freed memory stays in the process and is reused. The
setting is process-wide, so each measurement runs in a process of its own: rlkit's own agent at
bench-peers' matched settings, a replay of random transitions, warm-up updates, then timed
updates, each with the sample that feeds it, as the training loop calls them; the metrics are
popped every 50 updates, as at a log point. Per process: the time per update (sample included),
the minor page faults per update, and the resident memory at the end. The two settings alternate
in every round; the table holds medians over rounds.

Writes benchmarks/results/freed_memory.json and freed_memory.md. Run on idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import matched_dqn_learner, write_results  # noqa: E402

LATE_ENV_STEP = 10**7  # the schedules' end
POP_EVERY_UPDATES = 50
# name -> bench-peers' matched case, the batch size, the env steps of random transitions in the
# replay, warm-up updates and timed updates (fewer at the larger batches, whose updates take longer)
SETTINGS = {
    "pixels_batch_32": ("dqn_boxing_pixels", 32, 600, 20, 200),
    "pixels_batch_256": ("dqn_boxing_pixels", 256, 600, 10, 60),
    "pixels_batch_1024": ("dqn_boxing_pixels", 1024, 1500, 5, 16),
    "ram_batch_64": ("dqn_boxing_ram", 64, 600, 50, 1000),
}


def resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def child(name: str, reuse: bool) -> dict:
    """One process's measurement (run with ``--child``): the update's time, its faults, the memory."""
    case, batch_size, env_steps, warmup_updates, timed_updates = SETTINGS[name]
    _, learner, replay, rng = matched_dqn_learner(case, batch_size, env_steps,
                                                  [f"hardware.reuse_freed_memory={str(reuse).lower()}"])

    def updates(count: int) -> None:
        for done in range(1, count + 1):
            learner.update(replay.sample(batch_size, rng), LATE_ENV_STEP)
            if done % POP_EVERY_UPDATES == 0:
                learner.pop_metrics()

    updates(warmup_updates)
    learner.pop_metrics()
    faults_before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    updates(timed_updates)
    seconds = (time.perf_counter() - start) / timed_updates
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / timed_updates
    return {"update_ms": round(seconds * 1000, 3), "faults_per_update": round(faults, 1),
            "resident_mib": round(resident_mib(), 1),
            "peak_resident_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}  # KiB on Linux


def measure(name: str, reuse: bool) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", name, str(reuse)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} reuse={reuse} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(results: dict) -> str:
    lines = ["# Reusing freed memory in a DQN update (make bench-freed-memory)", "",
             f"Machine: {results['machine']}; medians of {results['rounds']} rounds, the two settings alternating, "
             "each measurement in a process of its own. Per update: rlkit's sample and update at bench-peers' "
             "matched settings (DQN, 1 env, torch threads auto), at the batch size of the row. Faults are minor "
             "page faults (a first write to a fresh page); memory is the process's resident set at the end and "
             "its peak over the process's life.", "",
             "| case | update, glibc's policy | update, reused (default) | speed-up | faults per update, "
             "glibc's policy | reused | resident MiB at the end, glibc's policy | reused | peak, glibc's policy | "
             "reused |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in results["cases"].items():
        off, on = row["default_policy"], row["reused"]
        lines.append(f"| {name} | {off['update_ms']:.1f} ms | {on['update_ms']:.1f} ms | "
                     f"{off['update_ms'] / on['update_ms']:.2f}x | {off['faults_per_update']:,.0f} | "
                     f"{on['faults_per_update']:,.0f} | {off['resident_mib']:,.0f} | {on['resident_mib']:,.0f} | "
                     f"{off['peak_resident_mib']:,.0f} | {on['peak_resident_mib']:,.0f} |")
    lines += ["", "Speed-up: the time per update with glibc's policy over the time with the memory reused "
              "(the medians' ratio). Resident memory at the end is higher with the memory reused: what the "
              "updates freed stays in the process for the next update, where glibc's policy returns it."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--child", nargs=2, metavar=("CASE", "REUSE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1] == "True")))
        return
    samples: dict[str, dict[str, list[dict]]] = {name: {"default_policy": [], "reused": []} for name in args.cases}
    for round_index in range(args.rounds):
        for name in args.cases:
            order = (False, True) if round_index % 2 == 0 else (True, False)
            for reuse in order:
                result = measure(name, reuse)
                samples[name]["reused" if reuse else "default_policy"].append(result)
                print(f"round {round_index + 1} {name} reuse={reuse}: {result}", flush=True)
    cases = {name: {side: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
                    for side, rows in sides.items()} for name, sides in samples.items()}
    results = {"machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                           "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M")},
               "rounds": args.rounds, "cases": cases, "samples": samples}
    write_results("freed_memory", results, markdown(results))


if __name__ == "__main__":
    main()
