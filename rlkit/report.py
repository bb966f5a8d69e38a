"""python -m rlkit.report RUN_OR_SWEEP_DIR... [--out-dir DIR] : compare runs from their files.

Finds every run dir (a folder holding metrics.jsonl) under the given paths and groups the runs into
variants: runs whose overrides.yaml lists the same overrides once ``seed=...`` is removed are seeds
of one variant. The swept keys are the override keys whose values differ across runs (seed aside).

A run's final score is its last evaluation return (``eval/return_mean`` of its last eval row), or
its last training return (``train/episode_return_mean``) when it has no eval row. Per variant the
report gives the mean and the interquartile mean (IQM) of the final scores over seeds, a 95%
percentile-bootstrap CI of that mean, the number of seeds and the median SPS (env steps per second).

Writes to DIR (default: the first path when it is a sweep dir, else <first path>/report/):
  report.md               the variant table, one row per run, and links to the figures
  curves.png              per variant, the return against env steps: the mean over seeds and a 95%
                          bootstrap band, on the env steps that every seed covers
  response_<key>.png      per swept key, the final score (mean, 95% CI) against the key's value
and prints the Markdown and the paths written. ``--out FILE`` also writes the per-run table to
FILE. Reads only the files written by the runs, never W&B.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from rlkit.logging import METRICS_FILE, read_metrics  # noqa: E402
from rlkit.stats import bootstrap_ci, iqm  # noqa: E402

EVAL_RETURN = "eval/return_mean"
TRAIN_RETURN = "train/episode_return_mean"
SEED_KEY = "seed"
CONFIDENCE = 0.95
REPORT_FILE = "report.md"
REPORT_DIR = "report"  # a run's report goes to <run dir>/report/
CURVES_FILE = "curves.png"
UNSET = "(unset)"  # the value of a swept key in a run whose overrides do not set it


# ---- reading run dirs -------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One run dir's files: its command-line overrides and its metrics rows."""

    path: Path
    overrides: list[str]
    rows: list[dict[str, Any]]


def find_run_dirs(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if (path / METRICS_FILE).is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob(METRICS_FILE)))
    return found


def is_sweep_dir(path: Path) -> bool:
    """A Hydra multirun dir: no metrics of its own, and a multirun.yaml or numbered job subdirs."""
    if not path.is_dir() or (path / METRICS_FILE).is_file():
        return False
    return (path / "multirun.yaml").is_file() or any(
        child.name.isdigit() and (child / METRICS_FILE).is_file() for child in path.iterdir())


def load_run(run_dir: Path) -> Run:
    overrides_file = run_dir / "overrides.yaml"
    overrides = [str(o) for o in OmegaConf.load(overrides_file)] if overrides_file.is_file() else []
    return Run(run_dir, overrides, read_metrics(run_dir / METRICS_FILE))


# ---- one run ----------------------------------------------------------------------------------

def summarize_run(run: Run) -> dict:
    """The per-run table's numbers: env steps, last train return, last/best eval return, median SPS."""
    rows = run.rows
    train = [r[TRAIN_RETURN] for r in rows if TRAIN_RETURN in r]
    evals = [(r["env_step"], r[EVAL_RETURN], r.get("eval/return_std", 0.0)) for r in rows if EVAL_RETURN in r]
    sps = [r["sps"] for r in rows if r.get("sps")]
    stops = [i for i, r in enumerate(rows) if "health/stopped" in r]
    later_training = stops and any("sps" in r for r in rows[stops[-1]:])  # resumed past the stop
    return {"run": str(run.path), "overrides": " ".join(run.overrides) or "(defaults)",
            "health_stopped_at": rows[stops[-1]]["env_step"] if stops and not later_training else None,
            "env_steps": max((r["env_step"] for r in rows), default=0),
            "train_return": train[-1] if train else None,
            "eval_return": evals[-1][1] if evals else None, "eval_std": evals[-1][2] if evals else None,
            "best_eval_return": max(e[1] for e in evals) if evals else None,
            "sps": statistics.median(sps) if sps else None}


def summarize(run_dir: Path) -> dict:
    return summarize_run(load_run(run_dir))


def return_series(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, returns) of the rows holding a finite ``key``, in env-step order."""
    points = sorted((r["env_step"], r[key]) for r in rows if key in r and math.isfinite(r[key]))
    steps, values = zip(*points) if points else ((), ())
    return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)


def final_score(rows: list[dict[str, Any]]) -> float | None:
    """The last eval return, else the last training return, else None."""
    for key in (EVAL_RETURN, TRAIN_RETURN):
        _, values = return_series(rows, key)
        if values.size:
            return float(values[-1])
    return None


# ---- variants ---------------------------------------------------------------------------------

def split_override(override: str) -> tuple[str, str]:
    """``schedule.lr=0.001`` -> ("schedule.lr", "0.001"); Hydra's ``+``/``++`` prefixes are dropped."""
    key, _, value = override.partition("=")
    return key.lstrip("+"), value


def settings_of(overrides: list[str]) -> dict[str, str]:
    """{key: value} of the overrides but ``seed=...``, in command-line order."""
    return {key: value for key, value in map(split_override, overrides) if key != SEED_KEY}


def without_seed(overrides: list[str]) -> tuple[str, ...]:
    """The overrides that define a variant: all but ``seed=...``, sorted."""
    return tuple(sorted(o for o in overrides if split_override(o)[0] != SEED_KEY))


def swept_keys(override_lists: list[list[str]]) -> list[str]:
    """Override keys (seed aside) whose value differs across runs, in first-seen command-line order.

    A key that some runs do not set counts as differing.
    """
    settings = [settings_of(overrides) for overrides in override_lists]
    keys = list(dict.fromkeys(key for setting in settings for key in setting))
    return [key for key in keys if len({setting.get(key, UNSET) for setting in settings}) > 1]


def as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def value_order(value: str) -> tuple[int, float, str]:
    """Sort key: numbers by value first, then other strings alphabetically."""
    number = as_number(value)
    return (0, number, "") if number is not None else (1, 0.0, value)


@dataclass(frozen=True)
class Variant:
    """Runs that differ only in seed. ``settings`` maps each swept key to its value here."""

    label: str
    settings: dict[str, str]
    runs: list[Run]


def group_variants(runs: list[Run]) -> tuple[list[str], list[Variant]]:
    """(swept keys, variants ordered by their swept values); runs differing only in seed share a variant."""
    keys = swept_keys([run.overrides for run in runs])
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(without_seed(run.overrides), []).append(run)
    variants = []
    for overrides, members in groups.items():
        setting = settings_of(members[0].overrides)
        settings = {key: setting.get(key, UNSET) for key in keys}
        label = (" ".join(f"{k}={v}" for k, v in settings.items() if v != UNSET)
                 or " ".join(overrides) or "(defaults)")
        variants.append(Variant(label, settings, members))
    variants.sort(key=lambda v: [value_order(v.settings[key]) for key in keys])
    return keys, variants


@dataclass(frozen=True)
class VariantStats:
    """Final scores over a variant's seeds (in return units) and its median SPS (env steps / s)."""

    seeds: int
    mean: float | None
    iqm: float | None
    ci_low: float | None
    ci_high: float | None
    sps: float | None


def variant_stats(scores: list[float], sps: list[float]) -> VariantStats:
    """Mean, IQM and 95% bootstrap CI of the mean of ``scores``; median of the runs' ``sps``."""
    median_sps = statistics.median(sps) if sps else None
    if not scores:
        return VariantStats(0, None, None, None, None, median_sps)
    low, high = bootstrap_ci(scores, np.mean, CONFIDENCE)
    return VariantStats(len(scores), float(np.mean(scores)), iqm(scores), low, high, median_sps)


def stats_of(variant: Variant) -> VariantStats:
    scores = [s for s in (final_score(run.rows) for run in variant.runs) if s is not None]
    sps = [s["sps"] for s in map(summarize_run, variant.runs) if s["sps"] is not None]
    return variant_stats(scores, sps)


# ---- learning curves --------------------------------------------------------------------------

def align_curves(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Put curves (env steps, values) on one env-step grid by linear interpolation.

    The grid is every env step logged by any curve within the range all curves cover (from the
    latest first step to the earliest last step); returns (grid [P], values [curves, P]). The grid
    is empty when the ranges do not overlap.
    """
    start = max(steps[0] for steps, _ in curves)
    end = min(steps[-1] for steps, _ in curves)
    all_steps = np.concatenate([steps for steps, _ in curves])
    grid = np.unique(all_steps[(all_steps >= start) & (all_steps <= end)])
    return grid, np.stack([np.interp(grid, steps, values) for steps, values in curves])


@dataclass(frozen=True)
class Curve:
    """A variant's return against env steps: mean over seeds and its 95% bootstrap band."""

    label: str
    metric: str  # "eval" or "train"
    env_steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def variant_curve(variant: Variant) -> Curve | None:
    """Eval returns when every seed has evals, else training returns; None without common env steps."""
    metric, key = ("eval", EVAL_RETURN)
    if not all(return_series(run.rows, EVAL_RETURN)[0].size for run in variant.runs):
        metric, key = ("train", TRAIN_RETURN)
    curves = [c for c in (return_series(run.rows, key) for run in variant.runs) if c[0].size]
    if not curves:
        return None
    grid, values = align_curves(curves)
    if grid.size == 0:
        return None
    low, high = bootstrap_ci(values, lambda resample: resample.mean(axis=0), CONFIDENCE)
    return Curve(variant.label, metric, grid, values.mean(axis=0), low, high)


# ---- figures ----------------------------------------------------------------------------------

def response_file(key: str) -> str:
    """``response_<key>.png`` with characters unsafe in file names replaced by ``_``."""
    return f"response_{re.sub(r'[^A-Za-z0-9._-]', '_', key)}.png"


def plot_curves(curves: list[Curve], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    for curve in curves:
        label = curve.label if curve.metric == "eval" else f"{curve.label} (train return)"
        marker = "o" if curve.env_steps.size == 1 else None  # a lone point draws no line
        (line,) = ax.plot(curve.env_steps, curve.mean, marker=marker, label=label)
        ax.fill_between(curve.env_steps, curve.low, curve.high, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel("return (mean over seeds, 95% bootstrap CI)")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", fontsize="small")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_response(key: str, keys: list[str], variants: list[Variant], stats: list[VariantStats],
                  path: Path) -> None:
    """Final score (mean, 95% CI error bars) against ``key``; one series per setting of the other keys.

    The x axis is numeric when every value parses as a number (log-scaled when the positive values
    span two decades or more), else categorical.
    """
    others = [k for k in keys if k != key]
    values = [v.settings[key] for v in variants]
    numbers = [as_number(v) for v in values]
    categories = sorted(set(values), key=value_order)
    numeric = all(n is not None for n in numbers)
    series: dict[str, list[tuple[float, VariantStats]]] = {}
    for variant, stat, value, number in zip(variants, stats, values, numbers):
        if stat.mean is None:
            continue
        label = " ".join(f"{k}={variant.settings[k]}" for k in others if variant.settings[k] != UNSET) or "(defaults)"
        x = number if numeric else float(categories.index(value))
        series.setdefault(label, []).append((x, stat))
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    for label, points in series.items():
        points.sort(key=lambda point: point[0])
        xs = np.array([x for x, _ in points])
        mean = np.array([s.mean for _, s in points])
        errors = np.array([[s.mean - s.ci_low for _, s in points], [s.ci_high - s.mean for _, s in points]])
        ax.errorbar(xs, mean, yerr=errors, marker="o", capsize=4, label=label)
    if numeric and min(numbers) > 0 and max(numbers) / min(numbers) >= 100:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(key)
    ax.set_ylabel("final score (mean over seeds, 95% bootstrap CI)")
    ax.grid(alpha=0.3)
    if others:
        fig.legend(loc="outside lower center", fontsize="small")
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- Markdown ---------------------------------------------------------------------------------

def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_table(summaries: list[dict]) -> str:
    lines = ["| run | overrides | env steps | train return | eval return | best eval | SPS | stopped by health at |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        eval_text = "-" if s["eval_return"] is None else f"{s['eval_return']:.1f} +- {s['eval_std']:.1f}"
        stopped = "-" if s["health_stopped_at"] is None else f"{s['health_stopped_at']:,}"
        lines.append(f"| {s['run']} | {s['overrides']} | {s['env_steps']:,} | {_fmt(s['train_return'])} |"
                     f" {eval_text} | {_fmt(s['best_eval_return'])} | {_fmt(s['sps'], 0)} | {stopped} |")
    return "\n".join(lines)


def variant_table(variants: list[Variant], stats: list[VariantStats]) -> str:
    lines = ["| variant | seeds | mean | IQM | CI low | CI high | SPS |", "|---|---|---|---|---|---|---|"]
    for variant, s in zip(variants, stats):
        lines.append(f"| {variant.label} | {s.seeds} | {_fmt(s.mean, 2)} | {_fmt(s.iqm, 2)} |"
                     f" {_fmt(s.ci_low, 2)} | {_fmt(s.ci_high, 2)} | {_fmt(s.sps, 0)} |")
    return "\n".join(lines)


def report_markdown(keys: list[str], variant_text: str, run_text: str, figures: dict[str, str]) -> str:
    """report.md: the variant table, the per-run table and image links (``figures``: file -> caption)."""
    swept = ", ".join(keys) or "none"
    return "\n".join([
        "# rlkit report", "",
        f"Swept keys: {swept}. Final score: a run's last evaluation return (its last training return "
        f"when it has no evaluation). CI: {CONFIDENCE:.0%} percentile bootstrap of the mean over seeds. "
        "SPS: median over seeds of each run's median env steps per second.", "",
        "## Variants", "", variant_text, "",
        "## Runs", "", run_text, "",
        "## Figures", "", *(f"![{caption}]({name})" for name, caption in figures.items()),
    ]).rstrip() + "\n"


# ---- CLI --------------------------------------------------------------------------------------

def write_report(runs: list[Run], out_dir: Path) -> tuple[str, str, list[Path]]:
    """Write report.md and the figures to ``out_dir``: (Markdown, per-run table, paths written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys, variants = group_variants(runs)
    stats = [stats_of(v) for v in variants]
    figures: dict[str, str] = {}
    curves = [c for c in map(variant_curve, variants) if c is not None]
    if curves:
        plot_curves(curves, out_dir / CURVES_FILE)
        figures[CURVES_FILE] = "return against env steps"
    if any(s.mean is not None for s in stats):
        for key in keys:
            plot_response(key, keys, variants, stats, out_dir / response_file(key))
            figures[response_file(key)] = f"final score against {key}"
    run_text = markdown_table([summarize_run(run) for run in runs])
    markdown = report_markdown(keys, variant_table(variants, stats), run_text, figures)
    (out_dir / REPORT_FILE).write_text(markdown)
    return markdown, run_text, [out_dir / REPORT_FILE, *(out_dir / name for name in figures)]


def default_out_dir(path: Path) -> Path:
    """A sweep dir's report goes into the sweep dir, any other path's (a run dir's) into <path>/report/."""
    return path if is_sweep_dir(path) else path / REPORT_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlkit.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="run dirs or sweep dirs")
    parser.add_argument("--out-dir", type=Path,
                        help="where report.md and the figures go (default: the first path if it is a "
                             f"sweep dir, else <first path>/{REPORT_DIR})")
    parser.add_argument("--out", type=Path, help="also write the per-run table to this file")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"rlkit.report: error: no such path: {', '.join(missing)}", file=sys.stderr)
        return 2
    run_dirs = find_run_dirs(args.paths)
    if not run_dirs:
        print(f"rlkit.report: error: no {METRICS_FILE} under {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 2
    out_dir = args.out_dir or default_out_dir(args.paths[0])
    markdown, run_text, written = write_report([load_run(d) for d in run_dirs], out_dir)
    if args.out:
        args.out.write_text(run_text + "\n")
        written.append(args.out)
    print(markdown)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
