"""How often would the learning-health verdict stop a run that goes on to learn?

Replays rlkit's HealthTracker over the log rows of finished runs (their metrics.jsonl), exactly as
the loop feeds it, and reports per run the first env step at which it would have been stopped
(after health.judge_after_fraction of the run's budget) next to its final evaluation return.
False-positive rate = stopped runs among those that learned (final return >= --learned-at);
hit rate = stopped runs among those that did not.

    python experiments/health_calibration.py outputs/sweeps/health_fpr_cpu/<date>/<time> [more dirs]
        [--learned-at 195] [--out benchmarks/results/health_calibration.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlkit.algos import ALGOS  # noqa: E402
from rlkit.build import health_limits  # noqa: E402
from rlkit.config import HealthConfig  # noqa: E402
from rlkit.health import DEFAULT_MAX_GRAD_NORM_OVER_CLIP, HealthTracker  # noqa: E402
from rlkit.logging import METRICS_FILE, read_metrics  # noqa: E402
from rlkit.report import find_run_dirs  # noqa: E402


def replay(run_dir: Path, health: HealthConfig) -> dict:
    """The step at which the verdict would have stopped this run (None: never) and its final return."""
    config = OmegaConf.load(run_dir / "config.yaml")
    total = int(config.schedule.total_env_steps)
    clip = config.algo.get("grad_clip_norm")  # every algorithm's key, as the runner's tracker reads it
    limits = health_limits(health, config.algo.name, clip)
    tracker = HealthTracker(limits, stop_hopeless=True, judge_from_env_step=int(health.judge_after_fraction * total))
    rows = read_metrics(run_dir / METRICS_FILE)
    stop_step = None
    for row in rows:
        if "sps" not in row:  # evaluation rows are not fed to the tracker
            continue
        if tracker.should_stop(tracker.observe(row), row["env_step"]):
            stop_step = row["env_step"]
            break
    evals = [r["eval/return_mean"] for r in rows if "eval/return_mean" in r]
    overrides = OmegaConf.load(run_dir / "overrides.yaml") if (run_dir / "overrides.yaml").exists() else []
    return {"run": str(run_dir), "overrides": " ".join(overrides), "total_env_steps": total,
            "final_eval_return": evals[-1] if evals else None, "would_stop_at": stop_step}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--learned-at", type=float, default=195.0, help="final evaluation return that counts as learned")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    health = HealthConfig()
    results = [replay(d, health) for d in find_run_dirs(args.paths)]
    not_judged = [name for name in ALGOS.names() if not ALGOS.entry(name).traits.get("health_judges_over_clip", True)]
    over_clip = (f"{DEFAULT_MAX_GRAD_NORM_OVER_CLIP} (not judged for {', '.join(not_judged)})"
                 if health.max_grad_norm_over_clip is None else health.max_grad_norm_over_clip)
    learned = [r for r in results if r["final_eval_return"] is not None and r["final_eval_return"] >= args.learned_at]
    failed = [r for r in results if r not in learned]
    false_positives = [r for r in learned if r["would_stop_at"] is not None]
    hits = [r for r in failed if r["would_stop_at"] is not None]
    lines = [f"# Health verdict calibration (defaults: judge after {health.judge_after_fraction:.0%} of the budget,"
             f" recent return trend < {health.min_return_trend} and grad-norm growth > {health.max_grad_norm_growth}"
             f" or jitter > {health.max_grad_norm_jitter} or grad norm / clip > {over_clip})", "",
             "| run | overrides | final eval return | would stop at env step |", "|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['overrides']} | {r['final_eval_return']} | {r['would_stop_at'] or '-'} |"
              for r in results]
    lines += ["", f"runs that learned (final >= {args.learned_at:g}): {len(learned)};"
                  f" stopped by mistake: {len(false_positives)}"
                  f" (false-positive rate {len(false_positives) / max(len(learned), 1):.2f})",
              f"runs that did not learn: {len(failed)}; stopped: {len(hits)}"
              f" (hit rate {len(hits) / max(len(failed), 1):.2f})"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
