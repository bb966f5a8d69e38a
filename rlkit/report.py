"""python -m rlkit.report RUN_OR_SWEEP_DIR... [--out-dir DIR] : compare runs from their files.

Finds every run dir (a folder holding metrics.jsonl) under the given paths and groups the runs into
variants: runs that ran with the same settings but their seed are seeds of one variant. The settings
are the keys any run's overrides.yaml sets (seed, logger.* and the other IGNORED_KEYS aside), each
with the value the run ran with: read from its config.yaml, so a run that leaves a key at its
default has that default's value. The swept keys are the settings whose values differ between
variants. A variant is named by its swept values (``schedule.lr=0.001 algo=dqn``), a run by its
variant's name and, where the variant has several runs, its seed; the tables and figures use only
these names.

A run's final score is its last evaluation return (``eval/return_mean`` of its last eval row), or
its last training return (``train/episode_return_mean``) when it has no eval row. Per variant the
report gives the mean and the interquartile mean (IQM) of the final scores over seeds, a 95%
Student-t CI of that mean (none for a single seed; ``rlkit.stats.mean_confidence_interval`` says why
not the bootstrap), the number of seeds and the median SPS (env steps per second).

Writes to DIR (default: the first path when it is a sweep dir, else <first path>/report/):
  report.md               the variant table, one row per run, and links to the figures
  curves.png              per variant, against env steps: the training return (mean of the last 100
                          episodes) as a line and the evaluation returns as markers; over several
                          seeds their mean with a 95% Student-t band / bars
  response_<key>.png      the final score (mean, 95% CI) against a swept key's value, one series per
                          group of variants that differ in that key alone; only for keys that some
                          such group compares
and prints the Markdown and the paths written. ``--out FILE`` also writes the per-run table to
FILE. Reads only the files written by the runs, never W&B.
"""

from __future__ import annotations

import argparse
import json
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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402
import numpy as np  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from rlkit.logging import LAUNCH_FILE, METRICS_FILE, RANDOM_BASELINE_FILE, read_metrics  # noqa: E402
from rlkit.stats import iqm, mean_confidence_interval  # noqa: E402
from rlkit.sweeps import MULTIRUN_FILE  # noqa: E402

EVAL_RETURN = "eval/return_mean"
TRAIN_RETURN = "train/episode_return_mean"
SEED_KEY = "seed"
CONFIDENCE = 0.95
REPORT_FILE = "report.md"
REPORT_DIR = "report"  # a run's report goes to <run dir>/report/
CURVES_FILE = "curves.png"
CONFIG_FILE = "config.yaml"
OVERRIDES_FILE = "overrides.yaml"
TRAIN_RETURN_WINDOW = 100  # train/episode_return_mean averages the last 100 episodes (rlkit.episodes.EpisodeTracker)
# Keys that never change what a run learns or scores: they tell no variants apart and get no figure.
# (hydra.searchpath: where a run's own config groups live; random_baseline_episodes: a test after training)
IGNORED_KEYS = ("resume", "allow_config_change", "keep_checkpoints", "logger", "hydra", "random_baseline_episodes")
DEFAULT = "(default)"  # a key's value in a run whose overrides leave it and whose config.yaml lacks it
DEFAULTS_LABEL = "(defaults)"  # the name of a variant whose runs set nothing but their seed


# ---- reading run dirs -------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One run dir's files: its command-line overrides, its metrics rows, its resolved config
    (config.yaml as plain dicts and lists; None when the run dir has none) and its comparison with
    the random policy (random_baseline.json; None when the run made none)."""

    path: Path
    overrides: list[str]
    rows: list[dict[str, Any]]
    config: dict[str, Any] | None = None
    random_baseline: dict[str, Any] | None = None
    choices: dict[str, Any] | None = None  # the config groups' options (launch.yaml); None: not recorded


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """The run dirs at or under ``paths``, each once (paths that overlap name some twice)."""
    found: list[Path] = []
    for path in paths:
        if (path / METRICS_FILE).is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob(METRICS_FILE)))
    seen: set[Path] = set()
    return [run_dir for run_dir in found if not (run_dir.resolve() in seen or seen.add(run_dir.resolve()))]


def is_sweep_dir(path: Path) -> bool:
    """A Hydra multirun dir: no metrics of its own, and a multirun.yaml or numbered job subdirs."""
    if not path.is_dir() or (path / METRICS_FILE).is_file():
        return False
    return (path / MULTIRUN_FILE).is_file() or any(
        child.name.isdigit() and (child / METRICS_FILE).is_file() for child in path.iterdir())


def load_run(run_dir: Path) -> Run:
    overrides_file, config_file = run_dir / OVERRIDES_FILE, run_dir / CONFIG_FILE
    overrides = [str(o) for o in OmegaConf.load(overrides_file)] if overrides_file.is_file() else []
    config = OmegaConf.to_container(OmegaConf.load(config_file)) if config_file.is_file() else None
    baseline_file = run_dir / RANDOM_BASELINE_FILE
    baseline = json.loads(baseline_file.read_text()) if baseline_file.is_file() else None
    launch_file = run_dir / LAUNCH_FILE
    choices = OmegaConf.to_container(OmegaConf.load(launch_file)).get("choices") if launch_file.is_file() else None
    return Run(run_dir, overrides, read_metrics(run_dir / METRICS_FILE), config, baseline, choices)


# ---- one run ----------------------------------------------------------------------------------

def summarize_run(run: Run) -> dict:
    """The per-run table's numbers: env steps, last train return, last/best eval return, the random
    policy's mean return and the Welch test's p against it (random_baseline.json), median SPS."""
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
            "random_return": run.random_baseline["random_mean"] if run.random_baseline else None,
            "random_p_value": run.random_baseline["p_value"] if run.random_baseline else None,
            "random_env_step": run.random_baseline["env_step"] if run.random_baseline else None,
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


def is_ignored(key: str) -> bool:
    return any(key == ignored or key.startswith(ignored + ".") for ignored in IGNORED_KEYS)


def setting_keys(runs: list[Run]) -> list[str]:
    """The keys any run's overrides set (seed and the IGNORED_KEYS aside), in first-seen command-line order."""
    keys = dict.fromkeys(split_override(o)[0] for run in runs for o in run.overrides)
    return [key for key in keys if key != SEED_KEY and not is_ignored(key)]


_ABSENT = object()


def config_value(config: dict | None, key: str) -> Any:
    """The node at dotted ``key`` of a config.yaml, or _ABSENT."""
    node: Any = config if config is not None else _ABSENT
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def format_value(value: Any) -> str:
    """A config value as the command line writes it: ``null``, ``true``, ``0.0003``, ``[64,64]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(map(format_value, value)) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def resolved_settings(runs: list[Run], keys: list[str]) -> list[dict[str, str]]:
    """Per run, {key: the value the run ran with} for ``keys``.

    A key that names a value in the run's config.yaml (``schedule.lr``) reads it there, set or not.
    A config group (``algo``, whose config.yaml entry is a section) reads the run's override; a run
    that leaves the group at its default reads the option Hydra chose (launch.yaml), else (a run
    from before launch.yaml) takes the choice of another run with the same section, else the
    section's ``name`` (``algo.name: dqn``). DEFAULT only when the run's files do not say.
    """
    written = [settings_of(run.overrides) for run in runs]
    out = []
    for run, own in zip(runs, written):
        setting = {}
        for key in keys:
            node = config_value(run.config, key)
            if node is not _ABSENT and not isinstance(node, dict):
                setting[key] = format_value(node)
            elif key in own:
                setting[key] = own[key]
            elif run.choices is not None and run.choices.get(key) is not None:
                setting[key] = str(run.choices[key])
            else:
                same = [other_own[key] for other, other_own in zip(runs, written)
                        if key in other_own and node is not _ABSENT and config_value(other.config, key) == node]
                name = node.get("name") if isinstance(node, dict) else None
                setting[key] = same[0] if same else format_value(name) if name is not None else DEFAULT
        out.append(setting)
    return out


def varying_keys(settings: list[dict[str, str]]) -> list[str]:
    """The keys (in the settings' order) whose value is not the same in every setting."""
    keys = list(dict.fromkeys(key for setting in settings for key in setting))
    return [key for key in keys if len({setting.get(key, DEFAULT) for setting in settings}) > 1]


def as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def value_order(value: str) -> tuple[int, float, str]:
    """Sort key: numbers by value first, then other strings alphabetically."""
    number = as_number(value)
    return (0, number, "") if number is not None else (1, 0.0, value)


def seed_of(run: Run) -> str | None:
    """The run's seed: from its config.yaml, else its overrides; None when neither says."""
    seed = config_value(run.config, SEED_KEY)
    if seed is not _ABSENT:
        return format_value(seed)
    return next((value for key, value in map(split_override, run.overrides) if key == SEED_KEY), None)


@dataclass(frozen=True)
class Variant:
    """Runs that differ only in seed, and the one name of the variant and of each of its runs.

    ``settings`` maps each swept key (a key whose value differs between variants) to its value here;
    ``label`` joins them (``schedule.lr=0.001 algo=dqn``). A run's name is the label, followed by its
    seed where the variant has several runs. Tables, legends and file names use only these names.
    """

    label: str
    settings: dict[str, str]
    runs: list[Run]
    run_names: list[str]


def group_variants(runs: list[Run]) -> tuple[list[str], list[Variant]]:
    """(swept keys, variants ordered by their swept values); runs differing only in seed share a variant.

    A run's settings are the values it ran with (see resolved_settings), so a run that leaves a key
    at its default is grouped, named and plotted with that default's value.
    """
    keys = setting_keys(runs)
    settings = resolved_settings(runs, keys)
    swept = varying_keys(settings)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, setting in enumerate(settings):
        groups.setdefault(tuple(setting[key] for key in keys), []).append(index)
    ordered = sorted(groups.values(), key=lambda members: [value_order(settings[members[0]][k]) for k in swept])
    variants = []
    for members in ordered:
        setting = settings[members[0]]
        shown = swept or keys  # with nothing swept, the one variant is named by all its settings
        label = " ".join(f"{key}={setting[key]}" for key in shown) or DEFAULTS_LABEL
        member_runs = [runs[i] for i in members]
        if len(member_runs) == 1:
            names = [label]
        else:
            prefix = "" if label == DEFAULTS_LABEL else label + " "
            seeds = [seed_of(run) for run in member_runs]
            names = [f"{prefix}seed={seed}" if seed is not None else label for seed in seeds]
            # runs of one seed (or of unknown seeds) add their dir's name
            names = [name if names.count(name) == 1 else f"{name} ({run.path.name})"
                     for name, run in zip(names, member_runs)]
        variants.append(Variant(label, {key: setting[key] for key in swept}, member_runs, names))
    return swept, variants


def comparisons(key: str, keys: list[str], variants: list[Variant]) -> dict[str, list[Variant]]:
    """The groups of variants that compare ``key``: {what they share, the variants}.

    Variants share a group when every other swept key has the same value in them; the group
    compares ``key`` only when ``key`` takes two values or more in it. ``key`` gets a response
    figure only when some group compares it, and the figure draws only those groups.
    """
    groups: dict[str, list[Variant]] = {}
    for variant in variants:
        shared = " ".join(f"{k}={variant.settings[k]}" for k in keys if k != key)
        groups.setdefault(shared, []).append(variant)
    return {shared: members for shared, members in groups.items()
            if len({variant.settings[key] for variant in members}) > 1}


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
    """Mean, IQM and 95% Student-t CI of the mean of ``scores`` (None for one score); median of the
    runs' ``sps``."""
    median_sps = statistics.median(sps) if sps else None
    if not scores:
        return VariantStats(0, None, None, None, None, median_sps)
    low, high = mean_confidence_interval(scores, CONFIDENCE) or (None, None)
    return VariantStats(len(scores), float(np.mean(scores)), iqm(scores), low, high, median_sps)


def seed_units(runs: list[Run]) -> list[list[Run]]:
    """The runs grouped by seed, in first-seen order: the runs of one seed (a rerun, a copy of a
    sweep) are one sample of the variant, not several; a run whose files name no seed is its own."""
    units: dict[Any, list[Run]] = {}
    for index, run in enumerate(runs):
        seed = seed_of(run)
        units.setdefault(seed if seed is not None else (None, index), []).append(run)
    return list(units.values())


def repeated_seeds(variant: Variant) -> list[str]:
    """The seeds of which ``variant`` holds more than one run."""
    return [str(seed_of(unit[0])) for unit in seed_units(variant.runs) if len(unit) > 1]


def stats_of(variant: Variant) -> VariantStats:
    """Final scores per seed (the mean of a seed's runs) and the runs' SPS."""
    unit_scores = ([s for s in map(final_score, (run.rows for run in unit)) if s is not None]
                   for unit in seed_units(variant.runs))
    scores = [float(np.mean(unit)) for unit in unit_scores if unit]
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
class Band:
    """Returns against env steps over a variant's seeds: their mean and its 95% Student-t CI (None
    for one seed)."""

    env_steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    seeds: int


def band(env_steps: np.ndarray, values: np.ndarray) -> Band:
    """``values`` [seeds, points] -> mean and 95% Student-t CI per point (None for one seed)."""
    low, high = mean_confidence_interval(values, CONFIDENCE) or (None, None)
    return Band(env_steps, values.mean(axis=0), low, high, len(values))


def per_unit_mean(values: np.ndarray, unit_of: list[int]) -> np.ndarray:
    """values [runs, P] -> [units, P]: the mean over each seed's runs (``unit_of``: a run's unit)."""
    units = sorted(set(unit_of))
    return np.stack([values[[i for i, u in enumerate(unit_of) if u == unit]].mean(axis=0) for unit in units])


def training_band(units: list[list[Run]]) -> Band | None:
    """Training returns of the runs that log them, on the env steps every such run covers; the runs
    of one seed averaged first (``units``: runs grouped by seed)."""
    curves, unit_of = [], []
    for unit_index, unit in enumerate(units):
        for run in unit:
            steps, values = return_series(run.rows, TRAIN_RETURN)
            if steps.size:
                curves.append((steps, values))
                unit_of.append(unit_index)
    if not curves:
        return None
    grid, values = align_curves(curves)
    return band(grid, per_unit_mean(values, unit_of)) if grid.size else None


def evaluation_points(run: Run) -> dict[Any, tuple[float, float]]:
    """{which evaluation: (env step, return)} of a run. An evaluation runs at the first vector step at
    or past a multiple of ``schedule.eval_interval_env_steps``, so its interval index names it across
    seeds, and the final one (at the budget) is "final". A run whose config.yaml lacks them names
    its evaluations by their order; a second evaluation of one index (a resume) replaces the first."""
    steps, values = return_series(run.rows, EVAL_RETURN)
    interval = config_value(run.config, "schedule.eval_interval_env_steps")
    total = config_value(run.config, "schedule.total_env_steps")
    if not (isinstance(interval, int) and isinstance(total, int)):
        return {index: point for index, point in enumerate(zip(steps.tolist(), values.tolist()))}
    return {"final" if step >= total else int(step) // interval: (step, value)
            for step, value in zip(steps.tolist(), values.tolist())}


def evaluation_band(units: list[list[Run]]) -> Band | None:
    """Evaluation returns of the runs that evaluate: for each evaluation every such run made (its
    interval index, see evaluation_points), the seeds' returns averaged at their median env step
    (the runs of one seed averaged first). No interpolation: a marker stands for evaluations that
    took place, and an evaluation some run skipped (a stop that came during it) is left out."""
    points, unit_of = [], []
    for unit_index, unit in enumerate(units):
        for run in unit:
            run_points = evaluation_points(run)
            if run_points:
                points.append(run_points)
                unit_of.append(unit_index)
    shared = set.intersection(*(set(p) for p in points)) if points else set()
    if not shared:
        return None
    order = sorted(shared, key=lambda key: min(p[key][0] for p in points))
    steps = np.median(np.array([[p[key][0] for key in order] for p in points]), axis=0)
    values = np.array([[p[key][1] for key in order] for p in points])
    return band(steps, per_unit_mean(values, unit_of))


@dataclass(frozen=True)
class Curves:
    """A variant's training returns (a line) and evaluation returns (markers); either may be None."""

    label: str
    train: Band | None
    evals: Band | None


def variant_curves(variant: Variant) -> Curves | None:
    units = seed_units(variant.runs)
    train, evals = training_band(units), evaluation_band(units)
    return None if train is None and evals is None else Curves(variant.label, train, evals)


def eval_episodes_text(runs: list[Run]) -> str:
    """``mean of 10 episodes``: how many episodes an evaluation return averages, from the eval rows
    (``eval/episodes``), else from the runs' config (``schedule.eval_episodes``)."""
    counts = {int(r["eval/episodes"]) for run in runs for r in run.rows if EVAL_RETURN in r and "eval/episodes" in r}
    if not counts:
        configured = (config_value(run.config, "schedule.eval_episodes") for run in runs)
        counts = {int(n) for n in configured if isinstance(n, int)}
    if not counts:
        return "mean over its episodes"
    low, high = min(counts), max(counts)
    return f"mean of {low} episodes" if low == high else f"mean of {low} to {high} episodes"


# ---- figures ----------------------------------------------------------------------------------

EVAL_MARKER = "o"


def response_file(key: str) -> str:
    """``response_<key>.png`` with characters unsafe in file names replaced by ``_``."""
    return f"response_{re.sub(r'[^A-Za-z0-9._-]', '_', key)}.png"


def colors(count: int) -> list:
    """Distinct colors: the default cycle up to 10, tab20 up to 20, then a continuous map."""
    if count <= 10:
        return [f"C{i}" for i in range(count)]
    cmap = plt.get_cmap("tab20" if count <= 20 else "viridis")
    return [cmap(i / max(count - 1, 1)) if count > 20 else cmap(i) for i in range(count)]


def plot_curves(curves: list[Curves], eval_text: str, path: Path) -> None:
    """Per variant (one color): the training return as a line (band: 95% CI over seeds) and the
    evaluation returns as markers (bars: 95% CI over seeds). The y label names both returns."""
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    handles = []
    several_seeds = False
    for curve, color in zip(curves, colors(len(curves))):
        if curve.train is not None:
            t = curve.train
            marker = "." if t.env_steps.size == 1 else None  # a lone point draws no line
            ax.plot(t.env_steps, t.mean, color=color, lw=1.3, alpha=0.85, marker=marker)
            if t.seeds > 1:
                ax.fill_between(t.env_steps, t.low, t.high, color=color, alpha=0.15, lw=0)
                several_seeds = True
        if curve.evals is not None:
            e = curve.evals
            if e.seeds > 1:
                ax.errorbar(e.env_steps, e.mean, yerr=[e.mean - e.low, e.high - e.mean], fmt=EVAL_MARKER,
                            color=color, ms=6, mec="white", mew=0.8, capsize=3, elinewidth=1.2, zorder=3)
                several_seeds = True
            else:
                ax.plot(e.env_steps, e.mean, EVAL_MARKER, color=color, ms=6, mec="white", mew=0.8, zorder=3)
        handles.append(Line2D([], [], color=color, lw=1.3 if curve.train is not None else 0,
                              marker=EVAL_MARKER if curve.evals is not None else None, label=curve.label))
    has_train = any(c.train is not None for c in curves)
    has_evals = any(c.evals is not None for c in curves)
    train_text = f"training return (mean of last {TRAIN_RETURN_WINDOW} episodes)"
    eval_text = f"evaluation return ({eval_text})"
    if has_train and has_evals:
        ax.set_ylabel(f"{eval_text}: markers\n{train_text}: line")
        handles += [Line2D([], [], color="0.3", lw=0, marker=EVAL_MARKER, label="markers: evaluation return"),
                    Line2D([], [], color="0.3", lw=1.3, label="line: training return")]
    else:
        ax.set_ylabel(eval_text if has_evals else train_text)
    ax.set_xlabel("env steps")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_title("return against env steps" + (" (mean over seeds; band and bars: 95% Student-t CI)"
                                               if several_seeds else ""), fontsize="medium")
    ax.grid(alpha=0.3)
    fig.legend(handles=handles, loc="outside lower center", fontsize="small",
               ncols=1 if max(len(h.get_label()) for h in handles) > 40 else 2)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_response(key: str, groups: dict[str, list[Variant]], stats: dict[str, VariantStats],
                  score_text: str, path: Path) -> None:
    """Final score (mean, 95% CI bars) against ``key``, one series per group of compared variants
    (``comparisons``), labelled by what the group shares: the rest of its variants' names.

    The x axis is numeric when every value parses as a number (log-scaled when the positive values
    span two decades or more), else categorical; its ticks are the values as the names write them.
    """
    values = sorted({v.settings[key] for members in groups.values() for v in members}, key=value_order)
    numbers = [as_number(v) for v in values]
    numeric = all(n is not None for n in numbers)
    position = dict(zip(values, numbers if numeric else range(len(values))))
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    several = len(groups) > 1
    offsets = np.linspace(-0.08, 0.08, len(groups)) if several and not numeric else np.zeros(len(groups))
    for (shared, members), color, offset in zip(groups.items(), colors(len(groups)), offsets):
        points = sorted(((position[v.settings[key]], stats[v.label]) for v in members), key=lambda p: p[0])
        xs = np.array([x for x, _ in points]) + offset
        mean = np.array([s.mean for _, s in points])
        # a one-seed variant has no interval: NaN bars are not drawn
        errors = np.array([[np.nan if s.ci_low is None else s.mean - s.ci_low for _, s in points],
                           [np.nan if s.ci_high is None else s.ci_high - s.mean for _, s in points]])
        # categorical values (null beside numbers, backup names) have no scale between them: no line joins them
        ax.errorbar(xs, mean, yerr=errors, marker=EVAL_MARKER, linestyle="-" if numeric else "none", color=color,
                    capsize=4, label=shared or None)
    if numeric and min(numbers) > 0 and max(numbers) / min(numbers) >= 100:
        ax.set_xscale("log")
    ax.set_xticks([position[v] for v in values], values)
    ax.minorticks_off()
    if not numeric:
        ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(key)
    ax.set_ylabel(f"final score: {score_text}\n(mean over seeds, 95% Student-t CI)")
    ax.set_title(f"final score against {key}", fontsize="medium")
    ax.grid(alpha=0.3)
    if any(groups):
        fig.legend(loc="outside lower center", fontsize="small", title="runs that share")
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- Markdown ---------------------------------------------------------------------------------

def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_table(named_summaries: list[tuple[str, dict]]) -> str:
    """The per-run table: (run name, summarize_run's dict) per row."""
    lines = ["| run | dir | overrides | env steps | train return | eval return | best eval |"
             " random policy (one-sided Welch p) | SPS | stopped by health at |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in named_summaries:
        eval_text = "-" if s["eval_return"] is None else f"{s['eval_return']:.1f} +- {s['eval_std']:.1f}"
        random_text = "-" if s["random_return"] is None else f"{s['random_return']:.1f} (p {s['random_p_value']:.2g})"
        if s["random_env_step"] is not None and s["random_env_step"] != s["env_steps"]:  # an extension since
            random_text += f" against the evaluation at {s['random_env_step']:,}"
        stopped = "-" if s["health_stopped_at"] is None else f"{s['health_stopped_at']:,}"
        lines.append(f"| {name} | {s['run']} | {s['overrides']} | {s['env_steps']:,} | {_fmt(s['train_return'])} |"
                     f" {eval_text} | {_fmt(s['best_eval_return'])} | {random_text} | {_fmt(s['sps'], 0)} |"
                     f" {stopped} |")
    return "\n".join(lines)


def variant_table(variants: list[Variant], stats: list[VariantStats]) -> str:
    lines = ["| variant | seeds | mean | IQM | CI low | CI high | SPS |", "|---|---|---|---|---|---|---|"]
    for variant, s in zip(variants, stats):
        lines.append(f"| {variant.label} | {s.seeds} | {_fmt(s.mean, 2)} | {_fmt(s.iqm, 2)} |"
                     f" {_fmt(s.ci_low, 2)} | {_fmt(s.ci_high, 2)} | {_fmt(s.sps, 0)} |")
    return "\n".join(lines)


def repeated_seed_notes(variants: list[Variant]) -> list[str]:
    """A line per variant that holds several runs of one seed: they count as one seed, their mean."""
    notes = []
    for variant in variants:
        seeds = repeated_seeds(variant)
        if seeds:
            notes.append(f"{variant.label}: the runs of seed {', '.join(seeds)} count as one seed (their mean): a"
                         " rerun of a seed is no new sample")
    return notes


def report_markdown(keys: list[str], variant_text: str, run_text: str, figures: dict[str, str],
                    notes: list[str] = ()) -> str:
    """report.md: the variant table (and ``notes`` under it), the per-run table and image links
    (``figures``: file -> caption)."""
    swept = ", ".join(keys) or "none"
    return "\n".join([
        "# rlkit report", "",
        f"Swept keys (settings that differ between variants, as each run's config.yaml resolved them): {swept}. "
        "A variant is named by its swept values, a run by its variant's name and, where the variant has "
        "several runs, its seed. Final score: a run's last evaluation return (its last training return "
        f"when it has no evaluation). CI: {CONFIDENCE:.0%} Student-t interval of the mean over seeds (none for "
        "one seed). "
        "SPS: median over seeds of each run's median env steps per second.", "",
        "## Variants", "", variant_text, "", *(f"Note: {note}" for note in notes), *([""] if notes else []),
        "## Runs", "", run_text, "",
        "## Figures", "", *(f"![{caption}]({name})" for name, caption in figures.items()),
    ]).rstrip() + "\n"


# ---- CLI --------------------------------------------------------------------------------------

def score_text(runs: list[Run]) -> str:
    """What the final scores of ``runs`` are: evaluation returns, training returns or both."""
    kinds = {EVAL_RETURN if return_series(run.rows, EVAL_RETURN)[0].size else TRAIN_RETURN for run in runs}
    if kinds == {EVAL_RETURN}:
        return "last evaluation return"
    if kinds == {TRAIN_RETURN}:
        return f"last training return (mean of last {TRAIN_RETURN_WINDOW} episodes)"
    return "last evaluation return\n(last training return for runs without evaluation)"


def write_report(runs: list[Run], out_dir: Path) -> tuple[str, str, list[Path]]:
    """Write report.md and the figures to ``out_dir``: (Markdown, per-run table, paths written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys, variants = group_variants(runs)
    stats = [stats_of(v) for v in variants]
    figures: dict[str, str] = {}
    curves = [c for c in map(variant_curves, variants) if c is not None]
    if curves:
        plot_curves(curves, eval_episodes_text(runs), out_dir / CURVES_FILE)
        figures[CURVES_FILE] = "return against env steps"
    scored = [v for v, s in zip(variants, stats) if s.mean is not None]
    stats_by_label = {v.label: s for v, s in zip(variants, stats)}
    for key in keys:
        groups = comparisons(key, keys, scored)
        if groups:
            compared = [run for members in groups.values() for v in members for run in v.runs]
            plot_response(key, groups, stats_by_label, score_text(compared), out_dir / response_file(key))
            figures[response_file(key)] = f"final score against {key}"
    run_text = markdown_table([(name, summarize_run(run)) for v in variants for name, run in zip(v.run_names, v.runs)])
    markdown = report_markdown(keys, variant_table(variants, stats), run_text, figures, repeated_seed_notes(variants))
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
    if len(run_dirs) == 1 and not is_sweep_dir(args.paths[0]):  # one run: its panels too
        from rlkit.run_curves import plot_run

        figure = plot_run(run_dirs[0])
        if figure is not None:
            written.append(figure)
    if args.out:
        args.out.write_text(run_text + "\n")
        written.append(args.out)
    print(markdown)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
