"""One run at a glance: ``<run dir>/curves.png``, drawn at the end of training and by
``python -m rlkit.report <run dir>``. Panels against env steps (Atari frames on the top axis):
training and evaluation return, loss, grad norm before clipping (mean and max per log row), SPS,
and the exploration value (epsilon, the Boltzmann temperature, SAC's alpha or PPO's policy std)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rlkit.logging import METRICS_FILE, read_metrics  # noqa: E402

CURVES_FILE = "curves.png"
EXPLORATION_KEYS = (("epsilon", "epsilon (exploration)"), ("temperature_explore", "Boltzmann temperature"),
                    ("alpha", "entropy temperature alpha"), ("policy_std", "policy std (mean over actions)"))


def series(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    points = [(r["env_step"], r[key]) for r in rows if key in r and r[key] is not None]
    return [p[0] for p in points], [p[1] for p in points]


def exploration_key(rows: list[dict[str, Any]]) -> tuple[str, str] | None:
    return next(((k, label) for k, label in EXPLORATION_KEYS if any(k in r for r in rows)), None)


def plot_run(run_dir: Path) -> Path | None:
    """Write ``curves.png`` into ``run_dir``; None when the run has no metric rows yet."""
    path = run_dir / METRICS_FILE
    rows = read_metrics(path) if path.is_file() else []
    if not rows:
        return None
    frames_per_step = next((r["atari_frames"] / r["env_step"] for r in rows
                            if r.get("env_step") and "atari_frames" in r), None)
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5), constrained_layout=True, sharex=True)
    ax = axes[0, 0]
    x, y = series(rows, "train/episode_return_mean")
    ax.plot(x, y, color="tab:blue", label="training (mean of the last 100 episodes)")
    x, y = series(rows, "eval/return_mean")
    _, std = series(rows, "eval/return_std")
    ax.errorbar(x, y, yerr=std if len(std) == len(y) else None, fmt="o", color="tab:orange", capsize=3,
                label="evaluation (mean +- std over its episodes)")
    ax.set_title("return")
    ax.legend(fontsize=8, loc="best")
    panels = [(axes[0, 1], [("loss", "loss", "tab:red")], "loss"),
              (axes[0, 2], [("grad_norm", "mean", "tab:purple"), ("grad_norm_max", "max", "tab:pink")],
               "grad norm before clipping (per log row)"),
              (axes[1, 0], [("sps", "env steps / s", "tab:green")], "speed (SPS over each log interval)")]
    explore = exploration_key(rows)
    if explore:
        panels.append((axes[1, 1], [(explore[0], explore[1], "tab:brown")], explore[1]))
    panels.append((axes[1, 2], [("lr", "learning rate", "tab:gray")], "learning rate"))
    for axis, keys, title in panels:
        for key, label, color in keys:
            x, y = series(rows, key)
            if x:
                axis.plot(x, y, color=color, label=label)
        axis.set_title(title)
        if len(keys) > 1 and axis.get_legend_handles_labels()[0]:  # (a run too short to log draws nothing)
            axis.legend(fontsize=8)
    if not explore:
        axes[1, 1].set_visible(False)
    for axis in axes.flat:
        axis.set_xlabel("env steps")
        axis.grid(alpha=0.3)
        if frames_per_step:
            top = axis.secondary_xaxis("top", functions=(lambda s: s * frames_per_step, lambda f: f / frames_per_step))
            top.set_xlabel("Atari frames", fontsize=8)
    fig.suptitle(f"{run_dir.name}: {rows[-1]['env_step']:,} env steps", fontsize=11)
    out = run_dir / CURVES_FILE
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
