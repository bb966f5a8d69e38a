"""python -m rlkit.report RUN_OR_SWEEP_DIR... : compare runs from their metrics files.

Finds every run dir (a folder holding metrics.jsonl) under the given paths and prints one
Markdown row per run: its overrides, env steps, the last training return (mean of the last 100
episodes), the last and best evaluation returns, and the median SPS. Reads the files written by
the runs, never W&B. ``--out FILE`` also writes the table to a file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from omegaconf import OmegaConf

from rlkit.logging import METRICS_FILE, read_metrics


def find_run_dirs(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if (path / METRICS_FILE).is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob(METRICS_FILE)))
    return found


def summarize(run_dir: Path) -> dict:
    rows = read_metrics(run_dir / METRICS_FILE)
    overrides_file = run_dir / "overrides.yaml"
    overrides = " ".join(OmegaConf.load(overrides_file)) if overrides_file.is_file() else ""
    train = [r["train/episode_return_mean"] for r in rows if "train/episode_return_mean" in r]
    evals = [(r["env_step"], r["eval/return_mean"], r.get("eval/return_std", 0.0)) for r in rows
             if "eval/return_mean" in r]
    sps = [r["sps"] for r in rows if r.get("sps")]
    return {"run": str(run_dir), "overrides": overrides or "(defaults)",
            "env_steps": max((r["env_step"] for r in rows), default=0),
            "train_return": train[-1] if train else None,
            "eval_return": evals[-1][1] if evals else None, "eval_std": evals[-1][2] if evals else None,
            "best_eval_return": max(e[1] for e in evals) if evals else None,
            "sps": statistics.median(sps) if sps else None}


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_table(summaries: list[dict]) -> str:
    lines = ["| run | overrides | env steps | train return | eval return | best eval | SPS |",
             "|---|---|---|---|---|---|---|"]
    for s in summaries:
        eval_text = "-" if s["eval_return"] is None else f"{s['eval_return']:.1f} +- {s['eval_std']:.1f}"
        lines.append(f"| {s['run']} | {s['overrides']} | {s['env_steps']:,} | {_fmt(s['train_return'])} |"
                     f" {eval_text} | {_fmt(s['best_eval_return'])} | {_fmt(s['sps'], 0)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlkit.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="run dirs or sweep dirs")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"rlkit.report: error: no such path: {', '.join(missing)}", file=sys.stderr)
        return 2
    run_dirs = find_run_dirs(args.paths)
    if not run_dirs:
        print(f"rlkit.report: error: no {METRICS_FILE} under {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 2
    table = markdown_table([summarize(d) for d in run_dirs])
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
