"""Multirun bookkeeping that works with every launcher (basic, joblib, submitit, ray).

Each job writes ``outcome.json`` into its own dir (in the job's process, wherever it runs); the
``SweepSummary`` callback runs in the launching process after the last job, reads them all and
prints and writes ``sweep_summary.md``: which jobs finished, which failed and why. A failing job
never stops the others (rlkit catches its error and records it), and the command exits non-zero
when any job failed. Ctrl-C or SIGTERM stops the sweep itself: the running jobs save a checkpoint,
no later job starts, the summary is written and the command exits with 130 / 143 (submitit_local as
joblib below, through submitit's controllers; a local Ray instance's workers too, ``watch_ray_sweep``;
a cluster's jobs are not stopped). With the basic launcher the job runs in the launching process,
which exits after it (Hydra calls no callback after an exit, so the job writes the summary). With
joblib, the launching process and each worker record the signal instead of dying (a worker killed
while idle breaks joblib's pool, which then kills the workers that are saving): the launching
process forwards SIGTERM to the workers and writes ``STOP_FILE``, jobs that start after it do not
run (their outcome says so), and joblib returns once the running jobs have saved. A second Ctrl-C
stops at once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from rlkit.stop import STOP_SIGNALS, StopRequest

OUTCOME_FILE = "outcome.json"
SUMMARY_FILE = "sweep_summary.md"
SWEEPS_ROOT = "sweeps"
MULTIRUN_FILE = "multirun.yaml"  # Hydra writes it into every sweep dir
STOP_FILE = "sweep_stopped"  # in the sweep dir while a stopped sweep's jobs wind down: the signal's name
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
SUBMITIT_LOCAL_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
RAY_LAUNCHER = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
RAY_JOB_TITLE = "ray::_run_job"  # a Ray worker's process title while it runs hydra-ray-launcher's job function
RAY_OBJECT_STORE_BYTES = 78643200  # hydra-ray-launcher's default object_store_memory (its _core.launch)


class SweepState:
    """What this process knows of the sweep: in the launching process, what it learned at the end
    (read by ``python -m rlkit``); in a joblib worker, the signals it got."""

    failed_jobs = 0
    stopped_by: str | None = None  # the signal that stopped the sweep
    launcher_pid: int | None = None  # a job in another process runs in a launcher's worker
    stop: StopRequest | None = None  # the launching process's SweepStop (joblib, submitit_local, Ray), or a worker's
    restore_launcher: Any = None  # puts back what watch_*_sweep replaced in joblib or submitit, at the end


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
    keep = ("exit_code", "error", "env_step", "eval/return_mean", "stopped_by", "run_dir", "not_run")
    outcome = {"overrides": overrides, **{k: result[k] for k in keep if k in result}}
    outcome.setdefault("exit_code", 0)
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / OUTCOME_FILE).write_text(json.dumps(outcome, indent=1, default=str) + "\n")


def sweep_of(run_dir: Path) -> Path | None:
    """The sweep dir that holds ``run_dir`` as one of its jobs, None for a run of its own."""
    return run_dir.parent if (run_dir.parent / MULTIRUN_FILE).is_file() else None


def update_job_outcome(job_dir: Path, result: dict[str, Any]) -> None:
    """A sweep's job resumed on its own (``resume=<job dir>``): its outcome.json and the sweep's
    summary file say how the resume ended, not how the sweep's run of it did. Nothing for a run dir
    that is no sweep's job."""
    path = job_dir / OUTCOME_FILE
    if not (path.is_file() and sweep_of(job_dir) is not None):
        return
    try:
        write_outcome(job_dir, json.loads(path.read_text())["overrides"], result)
        write_summary(job_dir.parent)
    except (OSError, ValueError, KeyError) as err:  # the run itself is saved: its record stays as it was
        print(f"rlkit: could not update {path} ({type(err).__name__}: {err})", file=sys.stderr)


def read_outcomes(sweep_dir: Path) -> list[tuple[str, dict[str, Any] | None]]:
    """(job dir name, outcome or None when the job left none: killed or never started), by job number."""
    jobs = [p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()] if sweep_dir.is_dir() else []
    out = []
    for job in sorted(jobs, key=lambda p: int(p.name)):
        path = job / OUTCOME_FILE
        out.append((job.name, json.loads(path.read_text()) if path.is_file() else None))
    return out


def summary_markdown(outcomes: list[tuple[str, dict[str, Any] | None]]) -> tuple[str, int, int]:
    """A Markdown table of the jobs, the number that failed and the number a signal stopped after they
    had started (their checkpoint saved: resumable)."""
    lines = ["| job | overrides | status | env steps | final eval return | error |", "|---|---|---|---|---|---|"]
    failed = stopped = 0
    for name, outcome in outcomes:
        if outcome is None:
            failed += 1
            lines.append(f"| {name} | ? | no outcome (killed?) | - | - | - |")
            continue
        ok = outcome["exit_code"] == 0
        if outcome.get("stopped_by") and not outcome.get("not_run"):  # a target or the health verdict
            status = f"stopped by {outcome['stopped_by']}" + ("" if ok else f" (exit {outcome['exit_code']})")
            stopped += not ok  # (ok), or a signal (resumable)
        else:
            status = "ok" if ok else f"FAILED (exit {outcome['exit_code']})"
            if outcome.get("not_run"):
                status = f"not run (the sweep was stopped by {outcome['stopped_by']})"
            failed += not ok
        final = outcome.get("eval/return_mean")
        error = str(outcome.get("error", "")).replace("|", "/").replace("\n", " ")
        lines.append(f"| {name} | {' '.join(outcome['overrides'])} | {status} | {outcome.get('env_step', '-')} |"
                     f" {'-' if final is None else f'{final:.2f}'} | {error} |")
    return "\n".join(lines), failed, stopped


def write_summary(sweep_dir: Path) -> tuple[str, int, int]:
    """sweep_summary.md from the jobs' outcomes: (the table, the jobs that failed, the jobs a signal stopped)."""
    table, failed, stopped = summary_markdown(read_outcomes(sweep_dir))
    (sweep_dir / SUMMARY_FILE).write_text(table + "\n")
    return table, failed, stopped


def report_sweep(sweep_dir: Path, stopped_by: str | None = None) -> int:
    """Print and write the sweep's summary; returns the number of jobs that did not finish."""
    from rlkit.launch import command

    table, failed, stopped = write_summary(sweep_dir)
    (sweep_dir / STOP_FILE).unlink(missing_ok=True)  # the sweep is over: a rerun in this dir starts its jobs
    parts = ([f"{failed} job(s) FAILED"] if failed else []) + (
        [f"{stopped} job(s) stopped by a signal, checkpoint saved (resume with {command()} resume=<its dir>)"]
        if stopped else [])
    verdict = "; ".join(parts) or "all jobs finished"
    if stopped_by is not None:
        verdict = (f"stopped by {stopped_by}: the jobs after the last one below did not start, nor did those"
                   f" marked 'not run' (resume a stopped one with {command()} resume=<its dir>)")
    # the report reads the jobs' metrics: where no job wrote any (every job refused), there is nothing to compare
    compare = (f"\ncompare: {command('rlkit.report')} {sweep_dir}" if any(sweep_dir.glob("*/metrics.jsonl"))
               else "")
    print(f"\nsweep {sweep_dir}: {verdict}\n{table}{compare}", flush=True)
    return failed + stopped


def mark_stopped(sweep_dir: Path, name: str) -> None:
    """Write ``STOP_FILE`` (the first signal's name stays): jobs that start later do not run, even
    in a worker that joblib starts after the signal. Without it (an unwritable dir) the workers'
    own record of the signal still keeps their later jobs from running."""
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        with open(sweep_dir / STOP_FILE, "x") as handle:
            handle.write(name + "\n")
    except OSError:  # FileExistsError: marked already
        pass


def read_stop_file(sweep_dir: Path) -> str | None:
    try:
        return (sweep_dir / STOP_FILE).read_text().strip() or None
    except OSError:
        return None


def share_worker_stop(sweep_dir: Path) -> None:
    """A signal this process got (a joblib worker's, its jobs' loops hand theirs back; or the
    launching process's when joblib runs the jobs there) stops the whole sweep, as it does with the
    basic launcher: ``STOP_FILE``. Nothing for other launchers (no ``SweepState.stop``)."""
    if SweepState.stop is not None and SweepState.stop.received is not None:
        mark_stopped(sweep_dir, SweepState.stop.received)


def sweep_stopped(sweep_dir: Path) -> str | None:
    """The signal that stopped the sweep before a job's start, None while it runs."""
    share_worker_stop(sweep_dir)
    return read_stop_file(sweep_dir)


def in_launching_process() -> bool:
    """The job runs in the process that launched the sweep (the basic launcher; joblib with n_jobs=1),
    which a job stopped by a signal ends."""
    return SweepState.launcher_pid == os.getpid()


class SweepStop(StopRequest):
    """The launching process of a joblib, submitit_local or local Ray sweep: the first SIGINT /
    SIGTERM marks the sweep stopped and forwards SIGTERM to the processes ``job_processes`` names (by
    default its children: joblib's workers, loky's resource trackers ignore it, or submitit's
    controllers), whose running jobs stop at their next vector step and save. The handler does not
    raise, so the launcher keeps waiting for them and the summary is written; a second Ctrl-C raises
    KeyboardInterrupt (joblib then kills the workers at once)."""

    def __init__(self, sweep_dir: Path, job_processes=None) -> None:
        super().__init__()
        self.sweep_dir = sweep_dir
        self.job_processes = job_processes or (lambda: psutil.Process().children())

    def _signalled(self, name: str) -> None:
        first = self.received is None
        super()._signalled(name)
        if not first:
            return
        mark_stopped(self.sweep_dir, name)
        for child in self.job_processes():
            try:
                child.send_signal(signal.SIGTERM)
            except psutil.Error:  # it ended meanwhile
                pass


def protect_worker() -> None:
    """Each joblib worker's initializer, before it takes a job: a SIGINT or SIGTERM (a Ctrl-C to the
    process group, or the launching process's forward) is recorded, never fatal. A worker killed by
    one while idle, or before its job's loop, would break joblib's pool, which then kills the other
    workers, saving or not; a job's loop takes the stop over (StopRequest), and no later job runs."""
    SweepState.stop = StopRequest(interrupt_twice=False)
    SweepState.stop.install()
    # (the worker started with them blocked, loky_starts_with_stop_signals_blocked; one that came
    # meanwhile is handled now)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


@contextlib.contextmanager
def stop_signals_held():
    """While the block runs, the processes it starts ignore SIGINT / SIGTERM until they install
    handlers of their own: SIG_IGN survives exec, and Python then leaves SIGINT alone. A signal to
    this process meanwhile is ignored."""
    handlers = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def loky_starts_with_stop_signals_blocked():
    """Every process loky starts from now on starts with SIGINT / SIGTERM blocked: the signal mask
    of the thread that forks is inherited and kept across exec. A worker loky starts in place of one
    that ended (from its manager thread, where no signal handler can be set) is covered as the first
    ones are. ``protect_worker`` unblocks them once its handlers are in place, so a signal meanwhile
    waits for them instead of killing the worker; loky's resource tracker ignores both. Returns the
    function that puts loky back."""
    from joblib.externals.loky.backend import fork_exec as loky_fork_exec

    fork_exec = loky_fork_exec.fork_exec

    @functools.wraps(fork_exec)
    def fork_exec_blocked(*args, **kwargs):
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # this thread's mask only
        try:
            return fork_exec(*args, **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def restore() -> None:
        loky_fork_exec.fork_exec = fork_exec
    loky_fork_exec.fork_exec = fork_exec_blocked
    return restore


def watch_joblib_sweep(sweep_dir: Path) -> None:
    """Joblib's workers start with SIGINT / SIGTERM blocked (``loky_starts_with_stop_signals_blocked``,
    replacements included) and run ``protect_worker`` first (the launcher names the "loky" backend:
    its factory is replaced); while they run the jobs the launching process handles SIGINT / SIGTERM
    with a ``SweepStop``. With n_jobs=1 joblib runs the jobs in the launching process, one after the
    other: they stop the sweep as the basic launcher's do."""
    import joblib
    from joblib.parallel import LokyBackend

    class WorkersProtected(LokyBackend):
        """Loky whose workers run ``protect_worker`` first; with more than one, the launching process
        handles the stop signals (``SweepStop``) from the start."""

        def configure(self, n_jobs=1, **kwargs):
            if self.effective_n_jobs(n_jobs) > 1 and SweepState.stop is None:
                SweepState.stop = SweepStop(sweep_dir)
                SweepState.stop.install()
            return super().configure(n_jobs=n_jobs, **kwargs)

    joblib.register_parallel_backend("loky", functools.partial(WorkersProtected, initializer=protect_worker))
    if SweepState.restore_launcher is None:  # a signal in a worker's first moments would kill it
        SweepState.restore_launcher = loky_starts_with_stop_signals_blocked()


SUBMITIT_CONTROLLER, RLKIT_CONTROLLER = "submitit.local._local", "rlkit.sweep_controller"


class _StartsRlkitController:
    """The subprocess module as submitit's local module sees it while it starts a controller: the
    same, but its Popen runs ``rlkit.sweep_controller`` in place of submitit's controller module."""

    def __init__(self, module) -> None:
        self._module = module

    def __getattr__(self, name: str):
        return getattr(self._module, name)

    def Popen(self, command, *args, **kwargs):  # noqa: N802 (subprocess's name)
        if isinstance(command, str):  # (submitit runs it through a shell when the executor has setup lines)
            swapped = command.replace(f"-m {SUBMITIT_CONTROLLER} ", f"-m {RLKIT_CONTROLLER} ")
        else:
            swapped = [RLKIT_CONTROLLER if part == SUBMITIT_CONTROLLER else part for part in command]
        if swapped == command:
            raise RuntimeError(f"submitit_local starts its controller in a way rlkit does not know: {command!r}")
        return self._module.Popen(swapped, *args, **kwargs)


def watch_submitit_local_sweep(sweep_dir: Path) -> None:
    """submitit_local runs each job in a task process under a controller process of its own, a child
    of the launching process. While the jobs run, the launching process handles SIGINT / SIGTERM with
    a ``SweepStop``: it marks the sweep stopped and forwards SIGTERM to the controllers, which forward
    it to their tasks, so each running job saves and stops, and the summary is written once they
    have returned. Until they end, submitit's controllers are started with SIGINT / SIGTERM ignored:
    a controller that a Ctrl-C reaches kills its task (SIGINT, then SIGKILL a second later), saving
    or not (its own SIGTERM handler, which forwards, replaces the ignore; SIGINT stays ignored, and
    its tasks inherit that until the job records signals itself, ``rlkit.__main__``). Their tasks
    start with SIGTERM ignored too: one killed before submitit's handler is in place would end the
    launcher in submitit's error for a job without a result, and no summary: the controllers are
    ``rlkit.sweep_controller``, submitit's with that closed. A job that missed the signal that way
    finds the sweep marked stopped and does not run. (A cluster launcher's jobs are
    not the launching process's: a Ctrl-C there ends the launching process only, and the jobs run
    on.)"""
    from submitit.local import local

    if SweepState.stop is None:
        SweepState.stop = SweepStop(sweep_dir)
        SweepState.stop.install()
    if SweepState.restore_launcher is not None:
        return
    start_controller = local.start_controller

    @functools.wraps(start_controller)
    def start_controller_held(*args, **kwargs):
        # not blocked: the controller could not unblock them; a signal to the launching process in
        # these milliseconds is lost
        with stop_signals_held():
            local.subprocess = _StartsRlkitController(subprocess)
            try:
                return start_controller(*args, **kwargs)
            finally:
                local.subprocess = subprocess

    def restore() -> None:
        local.start_controller = start_controller
    local.start_controller = start_controller_held
    SweepState.restore_launcher = restore


def ray_job_processes() -> list[psutil.Process]:
    """This machine's Ray workers that run a job of this process's sweep: descendants titled
    ``RAY_JOB_TITLE``. Ray's own processes and its idle workers are left alone (SIGTERM ends them)."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            title = process.cmdline()
        except psutil.Error:  # it ended meanwhile
            continue
        if title and title[0].startswith(RAY_JOB_TITLE):
            found.append(process)
    return found


def watch_ray_sweep(sweep_dir: Path, ray_config: DictConfig) -> None:
    """A Ray sweep on a local Ray instance (no ``hydra.launcher.ray.init.address``): Ray is started
    here with the launcher's settings (the launcher then finds it running), so that a ``SweepStop``
    replaces the SIGTERM handler ``ray.init`` installs, which ends the launching process and with it
    every job unsaved. The stop forwards SIGTERM to the workers running jobs; their jobs save and stop
    (``rlkit.__main__``), and the jobs Ray starts later find the sweep stopped. Ray starts its own
    processes, and hence its workers, with SIGINT blocked: a Ctrl-C to the terminal's process group
    reaches the launching process only. A cluster's workers are not this machine's processes: they
    are left to the cluster, as a submitit_slurm sweep's jobs are."""
    import ray

    init_config = ray_config.get("init")  # (the launcher's schema: a dict, address null by default)
    init = {} if init_config is None else OmegaConf.to_container(init_config, resolve=True)
    if init.get("address") not in (None, "local"):
        return
    if not ray.is_initialized():
        ray.init(**{"object_store_memory": RAY_OBJECT_STORE_BYTES, **init})
    if SweepState.stop is None:
        SweepState.stop = SweepStop(sweep_dir, job_processes=ray_job_processes)
        SweepState.stop.install()


class SweepSummary(Callback):
    """Hydra callback (conf/config.yaml, hydra.callbacks): prints and writes the sweep's summary; a
    joblib, submitit_local or local Ray sweep's Ctrl-C / SIGTERM handling (``watch_joblib_sweep``,
    ``watch_submitit_local_sweep``, ``watch_ray_sweep``) is set up at its start."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        SweepState.launcher_pid = os.getpid()
        launcher = config.hydra.launcher.get("_target_")
        if launcher == JOBLIB_LAUNCHER:
            watch_joblib_sweep(Path(config.hydra.sweep.dir))
        elif launcher == SUBMITIT_LOCAL_LAUNCHER:
            watch_submitit_local_sweep(Path(config.hydra.sweep.dir))
        elif launcher == RAY_LAUNCHER:
            watch_ray_sweep(Path(config.hydra.sweep.dir), config.hydra.launcher.ray)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        end_sweep(Path(config.hydra.sweep.dir))


def end_sweep(sweep_dir: Path) -> None:
    """The summary, once the jobs returned (or a second Ctrl-C ended them); the launching process's
    handlers are put back. A signal a worker alone got stopped the sweep too (its STOP_FILE)."""
    stop = SweepState.stop
    SweepState.stopped_by = (stop.received if stop is not None else None) or read_stop_file(sweep_dir)
    if stop is not None:
        stop.restore()
        SweepState.stop = None
    if SweepState.restore_launcher is not None:
        SweepState.restore_launcher()
        SweepState.restore_launcher = None
    SweepState.failed_jobs = report_sweep(sweep_dir, stopped_by=SweepState.stopped_by)
