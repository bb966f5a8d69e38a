"""make bench-scaling: DQN on Boxing pixels, env steps per second against the number of envs
(1, 4, 8, 16) and the batch size (32, 256), everything else at rlkit's defaults for env=boxing
(schedule=cpu_small_pixels: one update per 8 env steps). The rate is measured as in
benchmarks/peers.py: `python -m rlkit` runs, the window after the warm-up. The replay's sample time
against its size is in `make bench-memory`.

Writes benchmarks/results/scaling.{json,md}. Run on idle cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import DQN_WARMUP_KEYS, RESULTS, rlkit_run  # noqa: E402

# batch size -> (total env steps, warm-up, log interval): a window of several hundred updates' worth
WINDOWS = {32: (4_000, 2_000, 500), 256: (2_600, 2_000, 200)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256], choices=sorted(WINDOWS))
    parser.add_argument("--overlap-num-envs", type=int, nargs="*", default=[1, 8],
                        help="also measured with hardware.overlap_env_steps=true (batch 32)")
    args = parser.parse_args()
    rows = []
    for num_envs in args.overlap_num_envs:  # acting and learning overlapped, beside the synchronous rows below
        total, warmup, interval = WINDOWS[32]
        result = rlkit_run(["algo=dqn", "env=boxing", f"hardware.num_envs={num_envs}", "schedule.batch_size=32",
                            "hardware.overlap_env_steps=true"], total, warmup, interval, DQN_WARMUP_KEYS)
        rows.append({"num_envs": num_envs, "batch_size": 32, "overlap": True, **result})
        print(rows[-1], flush=True)
    for batch in args.batch_sizes:
        for num_envs in args.num_envs:
            total, warmup, interval = WINDOWS[batch]
            result = rlkit_run(["algo=dqn", "env=boxing", f"hardware.num_envs={num_envs}",
                                f"schedule.batch_size={batch}"], total, warmup, interval, DQN_WARMUP_KEYS)
            rows.append({"num_envs": num_envs, "batch_size": batch, "overlap": False, **result})
            print(rows[-1], flush=True)
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")
    sps = {(r["num_envs"], r["batch_size"]): r["sps"] for r in rows if not r["overlap"]}
    overlapped = {r["num_envs"]: r["sps"] for r in rows if r["overlap"]}
    lines = ["# DQN on Boxing pixels: env steps per second against num_envs and batch size (make bench-scaling)", "",
             "rlkit's defaults for env=boxing otherwise (one update per 8 env steps, torch threads auto); "
             "the window after the warm-up.", "",
             "| num_envs | " + " | ".join(f"batch {b}" for b in args.batch_sizes) + " |",
             "|---|" + "---|" * len(args.batch_sizes)]
    for n in args.num_envs:
        lines.append(f"| {n} | " + " | ".join(f"{sps[(n, b)]:.1f}" for b in args.batch_sizes) + " |")
    if overlapped and 32 in args.batch_sizes:
        lines += ["", "With `hardware.overlap_env_steps=true` (batch 32):", "",
                  "| num_envs | synchronous | overlapped |", "|---|---|---|"]
        lines += [f"| {n} | {sps[(n, 32)]:.1f} | {v:.1f} |" for n, v in overlapped.items() if (n, 32) in sps]
    (RESULTS / "scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
