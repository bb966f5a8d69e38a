"""make bench-denormals: what ``hardware.flush_denormals`` saves in DQN's updates as a run goes on.

An Adam moment whose gradient stays zero (the weights of a unit that stopped firing) decays by
beta1 (beta2) each update until it is denormal, and then stays denormal: 0.9 times the smallest
denormal rounds back to it. Where denormals are kept, every Adam step computes on them, and x86
CPUs can take a slow microcode assist for each operation that produces one; their number grows over a
run. With the setting (the default) they are flushed to zero, in every torch thread.

The setting is process-wide (a register of each thread, copied when torch's threads start), so each
side is a process of its own: rlkit's agent at bench-peers' matched settings, built as a run builds
it, with a replay of random transitions. The two processes stay up and take turns: each block of
updates (a sample and an update each, the env step advancing as the loop's would, so the target
net syncs on its period) runs on one side, then the same block on the other, in alternating order.
Per block and side: the time per update and the denormal values in Adam's moments.

Writes benchmarks/results/denormals.json and denormals.md. Run on idle cores.
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

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import cpu_description, matched_dqn_learner, write_results  # noqa: E402

RESULT = "RESULT "  # the child's answer lines (rlkit's start lines share its stdout)
SIDES = {"flushed": True, "kept": False}
# name -> bench-peers' matched case, its batch size, the random env steps in the replay, updates
# per block and blocks (fewer for the pixel update, which takes several times as long)
SETTINGS = {
    "ram_batch_64": ("dqn_boxing_ram", 64, 5000, 2000, 20),
    "pixels_batch_32": ("dqn_boxing_pixels", 32, 2000, 500, 10),
}


def denormal_moments(optimizer: torch.optim.Adam) -> dict[str, int]:
    """The nonzero values below float32's smallest normal in Adam's first and second moments."""
    tiny = torch.finfo(torch.float32).tiny
    counts = {"exp_avg": 0, "exp_avg_sq": 0}
    for state in optimizer.state.values():
        for key in counts:
            moment = state[key]
            counts[key] += int(((moment != 0) & (moment.abs() < tiny)).sum())
    return counts


def child(name: str, flush: bool, block_updates: int) -> None:
    """One side (run with ``--child``): set up, then a block of updates per line read from stdin."""
    case, batch_size, env_steps, _, _ = SETTINGS[name]
    run, learner, replay, rng = matched_dqn_learner(case, batch_size, env_steps,
                                                    [f"hardware.flush_denormals={str(flush).lower()}"])
    env_steps_per_update = round(1 / run.schedule.updates_per_env_step)
    env_step, updates_done = env_steps, 0
    print(RESULT + json.dumps({"ready": True}), flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        for _ in range(block_updates):
            env_step += env_steps_per_update
            learner.update(replay.sample(batch_size, rng), env_step)
        seconds = (time.perf_counter() - start) / block_updates
        learner.pop_metrics()  # (the sums a log point would read and clear)
        updates_done += block_updates
        print(RESULT + json.dumps({"updates_done": updates_done, "update_ms": round(seconds * 1000, 3),
                                   **denormal_moments(learner.optimizer)}), flush=True)


class Side:
    """A child process kept up between blocks."""

    def __init__(self, name: str, flush: bool, block_updates: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--child", name, str(flush), str(block_updates)],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.answer()  # ready

    def answer(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(RESULT):
                return json.loads(line[len(RESULT):])
        raise RuntimeError(f"the child exited with {self.proc.wait()} before answering")

    def block(self) -> dict:
        self.proc.stdin.write("block\n")
        self.proc.stdin.flush()
        return self.answer()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def measure(name: str, blocks: int, block_updates: int) -> list[dict]:
    """Each block's results on both sides, the sides alternating which goes first."""
    sides = {side: Side(name, flush, block_updates) for side, flush in SIDES.items()}
    rows = []
    try:
        for index in range(blocks):
            order = list(SIDES) if index % 2 == 0 else list(reversed(SIDES))
            row = {side: sides[side].block() for side in order}
            rows.append(row)
            print(f"{name} block {index + 1}/{blocks}: {row}", flush=True)
    finally:
        for side in sides.values():
            side.close()
    return rows


def summary(rows: list[dict]) -> dict:
    """The first and last quarter's medians of each side's time per update, and their ratios."""
    quarter = max(1, len(rows) // 4)
    out = {}
    for part, chosen in (("first_quarter", rows[:quarter]), ("last_quarter", rows[-quarter:])):
        kept = statistics.median(r["kept"]["update_ms"] for r in chosen)
        flushed = statistics.median(r["flushed"]["update_ms"] for r in chosen)
        out[part] = {"kept_ms": kept, "flushed_ms": flushed, "speed_up": round(kept / flushed, 3)}
    return out


def markdown(results: dict) -> str:
    lines = ["# Flushing denormals in DQN's updates (make bench-denormals)", "",
             f"Machine: {results['machine']['cpu']}, {results['machine']['cpus']} CPUs, torch "
             f"{results['machine']['torch']}, {results['machine']['date']}. Two processes at bench-peers' matched "
             "settings (DQN, 1 env, torch threads auto), one with `hardware.flush_denormals=true` (the default), one "
             "with `false`, taking turns block by block. Per block: the time per update (the sample included) "
             "and the denormal values in Adam's moments where they are kept (where flushed there are none).", ""]
    for name, case in results["cases"].items():
        s = case["summary"]
        lines += [f"## {name}", "",
                  f"Time per update, first quarter of the blocks: kept {s['first_quarter']['kept_ms']:.3f} ms, "
                  f"flushed {s['first_quarter']['flushed_ms']:.3f} ms ({s['first_quarter']['speed_up']:.2f}x); "
                  f"last quarter: kept {s['last_quarter']['kept_ms']:.3f} ms, flushed "
                  f"{s['last_quarter']['flushed_ms']:.3f} ms ({s['last_quarter']['speed_up']:.2f}x).", "",
                  "| updates done | kept: ms per update | flushed: ms per update | kept / flushed | kept: denormal "
                  "first moments | second moments | flushed: denormal moments |", "|---|---|---|---|---|---|---|"]
        for row in case["blocks"]:
            kept, flushed = row["kept"], row["flushed"]
            lines.append(f"| {kept['updates_done']:,} | {kept['update_ms']:.3f} | {flushed['update_ms']:.3f} | "
                         f"{kept['update_ms'] / flushed['update_ms']:.2f} | {kept['exp_avg']:,} | "
                         f"{kept['exp_avg_sq']:,} | {flushed['exp_avg'] + flushed['exp_avg_sq']:,} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--blocks", type=int, help="blocks per case (default: the case's own)")
    parser.add_argument("--block-updates", type=int, help="updates per block (default: the case's own)")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "FLUSH", "UPDATES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1] == "True", int(args.child[2]))
        return
    cases = {}
    for name in args.cases:
        rows = measure(name, args.blocks or SETTINGS[name][4], args.block_updates or SETTINGS[name][3])
        cases[name] = {"summary": summary(rows), "blocks": rows}
    results = {"machine": {"cpu": cpu_description(), "cpus": len(os.sched_getaffinity(0)),
                           "python": platform.python_version(), "torch": torch.__version__,
                           "date": time.strftime("%Y-%m-%d %H:%M")}, "cases": cases}
    write_results("denormals", results, markdown(results))


if __name__ == "__main__":
    main()
