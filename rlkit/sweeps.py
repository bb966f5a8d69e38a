"""Multirun bookkeeping that works with every launcher (basic, joblib, submitit, ray).

Each job writes ``outcome.json`` into its own dir (in the job's process, wherever it runs); the
``SweepSummary`` callback runs in the launching process after the last job, reads them all and
prints and writes ``sweep_summary.md``: which jobs finished, which failed and why. A failing job
never stops the others (rlkit catches its error and records it), and the command exits non-zero
when any job failed. Ctrl-C or SIGTERM stops the sweep itself: the running job saves a checkpoint,
the summary is written then (Hydra calls no callback after an exit), and the command exits 130 / 143.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

OUTCOME_FILE = "outcome.json"
SUMMARY_FILE = "sweep_summary.md"
SWEEPS_ROOT = "sweeps"


class SweepState:
    """What the launching process learned at the end of the sweep (read by ``python -m rlkit``)."""

    failed_jobs = 0


def sweep_name(sweep_dir: Path) -> str:
    """The W&B group of a sweep's jobs: its dir below outputs/sweeps/ (e.g.
    ``study_lr_cpu/2026-11-25/09-30-00-123456``), or the dir's own name elsewhere."""
    parts = sweep_dir.parts
    if SWEEPS_ROOT in parts:
        below = parts[len(parts) - parts[::-1].index(SWEEPS_ROOT):]
        if below:
            return "/".join(below)
    return sweep_dir.name


def write_outcome(job_dir: Path, overrides: list[str], result: dict[str, Any]) -> None:
    """Record how one job ended: exit code 0 = finished; else the error message."""
    keep = ("exit_code", "error", "env_step", "eval/return_mean", "stopped_by", "run_dir")
    outcome = {"overrides": overrides, **{k: result[k] for k in keep if k in result}}
    outcome.setdefault("exit_code", 0)
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / OUTCOME_FILE).write_text(json.dumps(outcome, indent=1, default=str) + "\n")


def read_outcomes(sweep_dir: Path) -> list[tuple[str, dict[str, Any] | None]]:
    """(job dir name, outcome or None when the job left none: killed or never started), by job number."""
    jobs = [p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()] if sweep_dir.is_dir() else []
    out = []
    for job in sorted(jobs, key=lambda p: int(p.name)):
        path = job / OUTCOME_FILE
        out.append((job.name, json.loads(path.read_text()) if path.is_file() else None))
    return out


def summary_markdown(outcomes: list[tuple[str, dict[str, Any] | None]]) -> tuple[str, int]:
    """A Markdown table of the jobs and the number that failed."""
    lines = ["| job | overrides | status | env steps | final eval return | error |", "|---|---|---|---|---|---|"]
    failed = 0
    for name, outcome in outcomes:
        if outcome is None:
            failed += 1
            lines.append(f"| {name} | ? | no outcome (killed?) | - | - | - |")
            continue
        ok = outcome["exit_code"] == 0
        failed += not ok
        status = "ok" if ok else f"FAILED (exit {outcome['exit_code']})"
        if outcome.get("stopped_by"):  # a target or the health verdict (ok), or a signal (resumable)
            status = f"stopped by {outcome['stopped_by']}" + ("" if ok else f" (exit {outcome['exit_code']})")
        final = outcome.get("eval/return_mean")
        error = str(outcome.get("error", "")).replace("|", "/").replace("\n", " ")
        lines.append(f"| {name} | {' '.join(outcome['overrides'])} | {status} | {outcome.get('env_step', '-')} |"
                     f" {'-' if final is None else f'{final:.2f}'} | {error} |")
    return "\n".join(lines), failed


def report_sweep(sweep_dir: Path, stopped_by: str | None = None) -> int:
    """Print and write the sweep's summary; returns the number of jobs that did not finish."""
    from rlkit.launch import command

    table, failed = summary_markdown(read_outcomes(sweep_dir))
    (sweep_dir / SUMMARY_FILE).write_text(table + "\n")
    verdict = f"{failed} job(s) FAILED" if failed else "all jobs finished"
    if stopped_by is not None:
        verdict = (f"stopped by {stopped_by}: the jobs after the last one below did not start (resume the"
                   f" stopped one with {command()} resume=<its dir>)")
    print(f"\nsweep {sweep_dir}: {verdict}\n{table}\ncompare: {command('rlkit.report')} {sweep_dir}", flush=True)
    return failed


class SweepSummary(Callback):
    """Hydra callback (conf/config.yaml, hydra.callbacks): prints and writes the sweep's summary."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        SweepState.failed_jobs = report_sweep(Path(config.hydra.sweep.dir))
