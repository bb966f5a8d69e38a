"""One job: resolve resume, validate, build, train, report. Config stops at this file's edge:
below it, components get typed objects and keyword arguments."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from rlkit import build, checkpoint, seeding
from rlkit.checkpoint import CheckpointError, DiskFullError
from rlkit.config import ConfigValueError, RootConfig, to_run_config
from rlkit.episodes import EpisodesStopped
from rlkit.loading import typed_run_config
from rlkit.logging import (LAUNCH_FILE, METRICS_FILE, RANDOM_BASELINE_FILE, TENSORBOARD_DIR, MetricsFile,
                           TensorBoardSink, WandbSink, check_tensorboard)
from rlkit.progress import ProgressLine
from rlkit.algos.common import NonFiniteError
from rlkit.networks import count_parameters
from rlkit.registry import UnknownComponentError
from rlkit.run_outputs import RunOutputs
from rlkit.stop import StopRequest, preemption_received
from rlkit.run_curves import plot_run
from rlkit.runner import CHECKPOINT_FORMAT, EnvFailure, Runner
from rlkit.stats import welch_t_test_greater
from rlkit.sweeps import sweep_name, sweep_of

CONFIG_FILE = "config.yaml"
OVERRIDES_FILE = "overrides.yaml"
RUN_ID_FILE = "run_id.txt"
RUN_CONTROL_KEYS = ("resume", "allow_config_change", "check")
# resume=auto: continue the run in hydra.run.dir (a sweep job's dir) if it holds one, else start it
# there; rerunning one command continues it (a requeued cluster job, a stopped sweep)
RESUME_AUTO = "auto"
SEARCH_PATH_KEY = "hydra.searchpath"
USER_ERRORS = (ConfigValueError, UnknownComponentError, CheckpointError)


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def latest_per_key(overrides: list[str]) -> list[str]:
    """One override per key, the latest value, in the order the keys first appeared."""
    latest = {_override_key(o): o for o in overrides}
    return [latest[key] for key in dict.fromkeys(_override_key(o) for o in overrides)]


def command(module: str = "rlkit") -> str:
    """How to run rlkit again from here, pasteable: the console script when it is this install's,
    else this interpreter (relative to the working directory when it lives below it)."""
    executable = Path(sys.executable)
    script = executable.parent / "rlkit"
    if module == "rlkit" and script.is_file() and shutil.which("rlkit") == str(script):
        return "rlkit"
    try:
        shown = executable.relative_to(Path.cwd())
    except ValueError:
        shown = executable
    return f"{shown} -m {module}"


# 128 + the signal number, the shell's convention (SIGUSR1 / SIGUSR2: a launcher's preemption signal)
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143, "SIGUSR1": 138, "SIGUSR2": 140}


def stop_exit_code(stopped_by: str) -> int:
    """The exit status of a run stopped by ``stopped_by``: 128 + the signal's number, 0 for a stop of
    the run's own (the health verdict)."""
    if stopped_by in EXIT_CODES:
        return EXIT_CODES[stopped_by]
    return 128 + signal.Signals[stopped_by].value if stopped_by in signal.Signals.__members__ else 0


EXIT_DISK_FULL = 5


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


# Keys the schema gained after runs were saved, with their defaults: a run saved before a key existed
# ran as its default does, so the default is no difference from that run's config.
ADDED_KEYS = {"hardware.compile_mode": "default"}


def config_differences(saved: DictConfig | dict, new: DictConfig | dict) -> list[str]:
    """'key: old -> new' for every leaf that differs (run-control keys aside)."""
    def leaves(config):
        return _flatten(OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else config)
    a, b = {**ADDED_KEYS, **leaves(saved)}, {**ADDED_KEYS, **leaves(new)}
    keys = sorted((set(a) | set(b)) - set(RUN_CONTROL_KEYS))
    absent = "<absent>"  # (not None: a key missing on one side differs from a null on the other)
    return [f"{k}: {a.get(k, absent)!r} -> {b.get(k, absent)!r}" for k in keys if a.get(k, absent) != b.get(k, absent)]


# Keys that shape the saved state (weights, replay, per-env trackers): a resume cannot change them.
STRUCTURAL_KEYS = ("env.", "network.", "algo.name", "hardware.num_envs", "schedule.replay_capacity_transitions",
                   "schedule.rollout_transitions")


def _structural(differences: list[str]) -> list[str]:
    return [d for d in differences if d.split(":", 1)[0].startswith(STRUCTURAL_KEYS)]


# Schema defaults that changed: (key, the old default, the new one). A run saved under the old default,
# resumed without naming the key, keeps its value, so it continues unchanged and needs no
# allow_config_change.
CHANGED_DEFAULTS = (("hardware.replay_device", "cpu", "auto"), ("health.max_grad_norm_over_clip", 5.0, None))


def _keep_old_defaults(saved: DictConfig, composed: DictConfig, overrides: list[str]) -> None:
    named = {_override_key(o) for o in overrides}
    for key, old, new in CHANGED_DEFAULTS:
        if key not in named and OmegaConf.select(saved, key) == old and OmegaConf.select(composed, key) == new:
            OmegaConf.update(composed, key, old)


def resolve_resume(cfg: DictConfig, task_overrides: list[str]) -> tuple[Path, DictConfig, list[str], bool]:
    """The config to continue a run with: the run's own overrides plus any new ones, refused if they
    change the run's config unless allow_config_change=true (and always if they change its shapes).
    Returns the run dir, the config, the run's overrides from now on, and whether they changed."""
    from hydra import compose

    run_dir = Path(cfg.resume)
    if not run_dir.is_dir():
        raise ConfigValueError("resume", cfg.resume, "an existing run directory")
    if not (run_dir / CONFIG_FILE).is_file() or not (run_dir / OVERRIDES_FILE).is_file():
        raise ConfigValueError("resume", cfg.resume, f"a run directory written by rlkit ({CONFIG_FILE} missing)")
    saved = OmegaConf.load(run_dir / CONFIG_FILE)
    saved_overrides = list(OmegaConf.load(run_dir / OVERRIDES_FILE))
    new_overrides = [o for o in task_overrides if _override_key(o) not in RUN_CONTROL_KEYS]
    composed = compose(config_name="config", overrides=latest_per_key(saved_overrides + new_overrides))
    _keep_old_defaults(saved, composed, saved_overrides + new_overrides)
    differences = config_differences(saved, composed)
    if _structural(differences):
        raise ConfigValueError("resume", cfg.resume, "overrides that keep the run's env, network, algo and buffer"
                               " shapes; these keys cannot change on resume: " + "; ".join(_structural(differences)))
    if differences and not cfg.allow_config_change:
        raise ConfigValueError("resume", cfg.resume, "a config equal to the run's own; these keys differ: "
                               + "; ".join(differences) + " (add allow_config_change=true to accept)")
    composed.resume = str(run_dir)
    composed.allow_config_change = cfg.allow_config_change
    return run_dir, composed, latest_per_key(saved_overrides + new_overrides), bool(differences)


def check_checkpoint_config(state: dict, path: Path, cfg: DictConfig, allow_config_change: bool) -> None:
    """A checkpoint carries the config that wrote it: refuse one written by another config."""
    if "config" not in state:
        return
    differences = config_differences(state["config"], cfg)
    if _structural(differences) or (differences and not allow_config_change):
        raise CheckpointError(f"checkpoint {path} was written by another config than this run's: "
                              + "; ".join(differences))


def run_files_in(path: Path) -> list[str]:
    """The files of an rlkit run that ``path`` holds already (none for a new or an empty dir)."""
    names = (CONFIG_FILE, METRICS_FILE, checkpoint.CHECKPOINT_DIR)
    return [name for name in names if (path / name).exists()]


class RunDirTaken(ConfigValueError):
    """A new run pointed at a dir that holds a run already."""


def taken_run_dir_problem(path: Path) -> str | None:
    """Why a new run cannot start in ``path`` (it holds another run's files), with what to do
    instead; None for a new or an empty dir. Appending to another run's metrics and checkpoints
    would mix two runs that a resume or rlkit.report then read as one."""
    found = run_files_in(path)
    if not found:
        return None
    if checkpoint.list_checkpoints(path):
        how = f"to continue that run: {command()} resume={path}"
    else:
        how = f"that run saved no checkpoint, so it cannot be resumed: remove it (rm -r {path}) or choose another dir"
    return f"a directory without a run in it ({path} holds {', '.join(found)}); {how}"


def refuse_taken_run_dir(path: Path, key: str, value: Path) -> None:
    """``taken_run_dir_problem`` as the error of the key (and its value) that chose ``path``."""
    problem = taken_run_dir_problem(path)
    if problem:
        raise RunDirTaken(key, str(value), problem)


# the nearest dir at or above the run dir that existed before Hydra made the run dir (`rlkit`'s entry
# sets it); None (a job started another way): the run dir and the default layout's date dir are Hydra's
existing_output_dir: Path | None = None


def _remove_if_empty(path: Path) -> None:
    """Remove the run dir Hydra made for a job that wrote nothing, and the empty dirs above it that
    Hydra made for it (up to ``existing_output_dir``; without it, the default layout's date dir,
    outputs/runs/<date>/)."""
    path = path.resolve()
    if existing_output_dir is not None:  # (the run dir itself, when it was there: kept)
        made = [path, *path.parents]
        folders = made[:made.index(existing_output_dir)] if existing_output_dir in made else []
    else:
        folders = [path, path.parent] if re.fullmatch(r"\d{4}-\d{2}-\d{2}", path.parent.name) else [path]
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _write_run_config(run_dir: Path, cfg: DictConfig, overrides: list[str]) -> None:
    for name, content in ((CONFIG_FILE, OmegaConf.to_yaml(cfg, resolve=True)),
                          (OVERRIDES_FILE, OmegaConf.to_yaml(OmegaConf.create(overrides)))):
        checkpoint.atomic_write(run_dir / name, lambda handle, text=content: handle.write(text.encode()))


def _write_new_run_files(run_dir: Path, cfg: DictConfig, task_overrides: list[str], launch: dict[str, Any]) -> str:
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_launch(run_dir, launch)  # first: a requeued job knows its dir by it (requeued_here)
    _write_run_config(run_dir, cfg, [o for o in task_overrides if _override_key(o) not in RUN_CONTROL_KEYS])
    run_id = uuid.uuid4().hex[:12]
    (run_dir / RUN_ID_FILE).write_text(run_id + "\n")
    return run_id


def _write_launch(run_dir: Path, launch: dict[str, Any]) -> None:
    text = OmegaConf.to_yaml(OmegaConf.create(launch))
    checkpoint.atomic_write(run_dir / LAUNCH_FILE, lambda handle: handle.write(text.encode()))


def launcher_job_id() -> str | None:
    """The id of the cluster job this process runs, where the launcher requeues a job under its id
    (submitit: a SLURM job keeps its id when requeued, and so does its local executor's); None
    outside such a job."""
    if "submitit" not in sys.modules:  # (Hydra's submitit launcher imports it in each job)
        return None
    try:
        return str(sys.modules["submitit"].JobEnvironment().job_id)
    except Exception:  # noqa: BLE001 - not inside a submitit job
        return None


def _how_it_continues(resume_hint: str) -> str:
    if preemption_received():
        return f"a cluster launcher's preemption signal: a requeued job continues the run, or {resume_hint}"
    return resume_hint


def requeued_here(run_dir: Path) -> bool:
    """``run_dir`` holds a run this very cluster job started: the launcher requeued the job
    (preemption, time limit), and it continues the run instead of refusing its dir."""
    job_id, path = launcher_job_id(), run_dir / LAUNCH_FILE
    if job_id is None or not path.is_file():
        return False
    return str(OmegaConf.load(path).get("launcher_job_id")) == job_id


def new_run_launch(run: RootConfig, ctx: "JobContext") -> dict[str, Any]:
    """A new run's launch.yaml: its group choices, and its W&B name (its overrides) and group (the
    logger's, else its sweep's); in a cluster job that can be requeued, the job's id."""
    name = ",".join(o for o in ctx.task_overrides
                    if _override_key(o) not in (*RUN_CONTROL_KEYS, SEARCH_PATH_KEY)) or "default"
    group = run.logger.wandb_group
    if group is None and ctx.sweep_dir is not None:
        group = sweep_name(ctx.sweep_dir)
    launch = {"choices": ctx.choices, "wandb_name": name, "wandb_group": group}
    job_id = launcher_job_id()
    return launch if job_id is None else {**launch, "launcher_job_id": job_id}


def resumed_run_launch(run_dir: Path, run: RootConfig, new_overrides: list[str]) -> dict[str, Any]:
    """A resumed run's launch.yaml: the W&B name and group of its start (a resume's own overrides
    rename nothing), its choices with the groups the resume's overrides choose anew. A run from
    before launch.yaml is named from its overrides and grouped by the sweep dir that holds it."""
    path = run_dir / LAUNCH_FILE
    if path.is_file():
        launch = OmegaConf.to_container(OmegaConf.load(path))
    else:
        saved = [str(o) for o in OmegaConf.load(run_dir / OVERRIDES_FILE)]
        launch = new_run_launch(run, JobContext(run_dir, saved, sweep_of(run_dir), choices=None))
    choices = launch.get("choices")
    for override in new_overrides:
        key, _, value = override.partition("=")
        if choices is not None and key in choices:
            choices[key] = None if value == "null" else value
        if key.lstrip("+") == "logger.wandb_group":  # (a group the resume names: W&B regroups the run)
            launch["wandb_group"] = run.logger.wandb_group
    job_id = launcher_job_id()  # (the job that continues it now, should it be requeued in turn)
    if job_id is not None:
        launch["launcher_job_id"] = job_id
    return launch


@dataclass(frozen=True)
class JobContext:
    """What Hydra decided for this job: its output dir, the command-line overrides, the sweep."""

    output_dir: Path
    # the command line's overrides that compose the run's config: the task's, and hydra.searchpath
    # (a user's own config groups), which a resume needs to compose the run's config again
    task_overrides: list[str]
    sweep_dir: Path | None = None  # set in multirun
    parallel_jobs: int = 1  # jobs a launcher runs at once on this machine (joblib's n_jobs), sharing its cores
    choices: dict[str, str | None] | None = None  # the config groups' options, e.g. {"env": "boxing_ram", ...}

    @staticmethod
    def from_hydra() -> "JobContext":
        hydra_cfg = HydraConfig.get()
        multirun = hydra_cfg.mode == RunMode.MULTIRUN
        n_jobs = hydra_cfg.launcher.get("n_jobs") if multirun else None
        parallel = (os.cpu_count() or 1) if n_jobs is not None and n_jobs < 0 else int(n_jobs or 1)
        search_path = [o for o in hydra_cfg.overrides.hydra if _override_key(o) == SEARCH_PATH_KEY]
        choices = {group: option for group, option in hydra_cfg.runtime.choices.items()
                   if not group.startswith(("hydra/", "schema/"))}
        return JobContext(Path(hydra_cfg.runtime.output_dir), [*hydra_cfg.overrides.task, *search_path],
                          Path(hydra_cfg.sweep.dir) if multirun else None, parallel, choices)


def load_resume_state(run: RootConfig, run_dir: Path, cfg: DictConfig) -> tuple[dict, dict | None]:
    """The newest checkpoint of the run being resumed (and its replay snapshot), checked."""
    found = checkpoint.list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"resume={run.resume}: the run has no checkpoint yet; start it again in a new"
                              f" directory (or remove this one: rm -r {run_dir})")
    step, path = found[-1]
    state = checkpoint.load_checkpoint(path)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} was written by an earlier rlkit (before the one-runner engine)"
                              " and cannot be resumed by this one; start the run again")
    check_checkpoint_config(state, path, cfg, run.allow_config_change)
    return state, checkpoint.load_replay(run_dir, step) if state.get("has_replay") else None


def lr_change_note(saved_schedule: Any, schedule: Any, env_step: int) -> str | None:
    """A resume whose config changes the lr's schedule (a longer budget moves a decay laid over it):
    the lr before and after at ``env_step``, from each schedule's own ``lr_schedule()``; None when
    the lr stays or a schedule has none."""
    if not (hasattr(saved_schedule, "lr_schedule") and hasattr(schedule, "lr_schedule")):
        return None
    old_lr, new_lr = saved_schedule.lr_schedule()(env_step), schedule.lr_schedule()(env_step)
    if math.isclose(old_lr, new_lr, rel_tol=1e-9, abs_tol=0.0):
        return None
    keep = ""
    def decays_over_budget(sched: Any) -> bool:  # a value-based lr decay whose length is the budget
        return getattr(sched, "lr_final", None) is not None and getattr(sched, "lr_decay_env_steps", 0) is None
    budget_moved = saved_schedule.total_env_steps != schedule.total_env_steps
    if budget_moved and decays_over_budget(saved_schedule) and decays_over_budget(schedule):
        keep = f"; schedule.lr_decay_env_steps={saved_schedule.total_env_steps} keeps the run's decay"
    return (f"note: the lr at env step {env_step:,} goes from {old_lr:.4g} to {new_lr:.4g}: it follows the new"
            f" config's schedule from here{keep}")


def finished_already(run: RootConfig, state: dict) -> bool:
    """The run ended (budget or target reached) and this resume gives it nothing more to do."""
    target = run.schedule.stop_at_eval_return
    reached = target is not None and state["last_eval"].get("eval/return_mean", -float("inf")) >= target
    return state["finished"] and (state["counters"]["env_step"] >= run.schedule.total_env_steps or reached)


def run_job(cfg: DictConfig, ctx: JobContext) -> dict[str, Any]:
    """Returns a result dict; {"error": message, "exit_code": 2} for input the user must fix."""
    hydra_dir = ctx.output_dir
    task_overrides = ctx.task_overrides
    multirun = ctx.sweep_dir is not None
    resume_state = resume_replay = None
    try:
        run_dir, run_overrides, config_changed = hydra_dir, None, False
        requeued = cfg.resume in (None, RESUME_AUTO) and requeued_here(hydra_dir)
        if requeued and checkpoint.list_checkpoints(hydra_dir):
            print(f"rlkit: cluster job {launcher_job_id()} was requeued: it continues its run in {hydra_dir}")
            cfg.resume = str(hydra_dir)
        elif requeued:  # stopped before its first checkpoint: the run starts again, its rows from the top
            print(f"rlkit: cluster job {launcher_job_id()} was requeued before its run saved a checkpoint: it"
                  f" starts the run again in {hydra_dir}")
            cfg.resume = None
            (hydra_dir / METRICS_FILE).unlink(missing_ok=True)
            shutil.rmtree(hydra_dir / TENSORBOARD_DIR, ignore_errors=True)
        if cfg.resume == RESUME_AUTO:  # continue the run in this job's own dir if it holds one, else start it
            cfg.resume = str(hydra_dir) if checkpoint.list_checkpoints(hydra_dir) else None
            if not cfg.resume and run_files_in(hydra_dir):  # this job's failure, not its sweep's (RunDirTaken)
                raise ConfigValueError("resume", RESUME_AUTO, f"a dir with a checkpoint to continue, or none of a run's"
                                       f" files ({hydra_dir} holds a run that saved no checkpoint: remove it,"
                                       f" rm -r {hydra_dir}, to start it again)")
        if cfg.resume:
            run_dir, cfg, run_overrides, config_changed = resolve_resume(cfg, task_overrides)
        elif not cfg.check and not requeued:
            refuse_taken_run_dir(hydra_dir, *(("hydra.sweep.dir", ctx.sweep_dir) if multirun
                                              else ("hydra.run.dir", hydra_dir)))
        run = to_run_config(cfg)
        if run.logger.tensorboard:
            check_tensorboard()
        entry = build.algo_entry(run)
        device = build.select_device(run, ctx.parallel_jobs)
        seeding.seed_everything(run.seed)
        envs, eval_envs = build.build_envs(run, entry)
        try:
            agent = build.build_agent(run, entry, envs, device)
            if run.resume:
                resume_state, resume_replay = load_resume_state(run, run_dir, cfg)
        except BaseException:
            envs.close()
            eval_envs.close()
            raise
    except USER_ERRORS as err:
        if not multirun:
            _remove_if_empty(hydra_dir)
        return {"error": str(err), "exit_code": 2, "run_dir_taken": isinstance(err, RunDirTaken)}
    if run.check or (resume_state is not None and finished_already(run, resume_state)):
        envs.close()
        _remove_if_empty(hydra_dir)
        if run.check:
            eval_envs.close()
            print(f"rlkit check: the config is valid: algo={run.algo.name} on {envs.spec.env_id}, network"
                  f" {run.network.name} ({count_parameters(agent.network):,} parameters), {run.hardware.num_envs}"
                  f" envs, {run.schedule.total_env_steps:,} env steps; nothing was run or written")
            return {"exit_code": 0, "checked": True}
        done = resume_state["counters"]["env_step"]
        result = {"env_step": done, "finished_already": True, "run_dir": str(run_dir), "exit_code": 0,
                  **resume_state["last_eval"], "eval_returns": resume_state["last_eval_returns"]}
        # stopped during its random-policy episodes: those are what is left to do
        baseline_left = (run.random_baseline_episodes > 0 and bool(result["eval_returns"])
                         and not (run_dir / RANDOM_BASELINE_FILE).exists())
        left = "the random-policy episodes it was stopped in" if baseline_left else "nothing"
        print(f"run {run_dir} finished training at {done:,} env steps (budget {run.schedule.total_env_steps:,}):"
              f" {left} to do. To extend it: {command()} resume={run_dir} schedule.total_env_steps=<more>"
              " allow_config_change=true")
        if baseline_left:
            stopped = _compare_unless_stopped(run, eval_envs, result, run_dir)
            if stopped is not None:
                eval_envs.close()
                return stopped
            _print_random_baseline(result)
        eval_envs.close()
        return result
    if run_dir != hydra_dir:
        _remove_if_empty(hydra_dir)
    try:
        if run.resume:
            run_id = (run_dir / RUN_ID_FILE).read_text().strip()
            launch = resumed_run_launch(run_dir, run, [o for o in task_overrides
                                                       if _override_key(o) not in RUN_CONTROL_KEYS])
            _write_launch(run_dir, launch)
            if config_changed:  # accepted changes hold for later resumes too
                _write_run_config(run_dir, cfg, run_overrides)
        else:
            launch = new_run_launch(run, ctx)
            run_id = _write_new_run_files(run_dir, cfg, task_overrides, launch)
    except OSError as err:
        return {"error": f"cannot write the run directory {run_dir}: {err}", "exit_code": 2}
    return _train(run, cfg, run_dir, run_id, agent, envs, eval_envs, resume_state, resume_replay, launch)


def _train(run: RootConfig, cfg: DictConfig, run_dir: Path, run_id: str, agent, envs, eval_envs, resume_state,
           resume_replay, launch: dict[str, Any]) -> dict[str, Any]:
    spec = envs.spec
    print(f"run dir: {run_dir}")
    # the network group's option as chosen (mlp_small, a preset of the mlp schema), else the schema's name
    network = (launch.get("choices") or {}).get("network") or run.network.name
    print(f"env: {spec.env_id}, {envs.num_envs} envs; algo: {run.algo.name}; network: {network}"
          f" ({count_parameters(agent.network):,} parameters); device: {run.hardware.device}")
    start_env_step = resume_state["counters"]["env_step"] if resume_state else 0
    if resume_state:
        print(f"resuming from env step {start_env_step:,}")
        try:
            saved_schedule = typed_run_config(resume_state["config"]).schedule
        except Exception:  # noqa: BLE001 - a checkpoint without its config, or one no schema takes now: no note
            saved_schedule = None
        note = lr_change_note(saved_schedule, run.schedule, start_env_step)
        if note:
            print(note)
    wandb = WandbSink(run.logger.wandb_mode, project=run.logger.wandb_project, entity=run.logger.wandb_entity,
                      group=launch["wandb_group"], name=launch["wandb_name"], job_type=run.algo.name,
                      tags=[run.algo.name, spec.env_id.split()[0], *run.logger.tags],
                      config=OmegaConf.to_container(cfg, resolve=True), run_dir=run_dir, run_id=run_id,
                      init_timeout_s=run.logger.wandb_init_timeout_s)
    outputs = RunOutputs(run_dir=run_dir,
                         metrics=MetricsFile(run_dir / METRICS_FILE,
                                             resume_env_step=start_env_step if resume_state else None),
                         wandb=wandb,
                         console=ProgressLine(run.schedule.total_env_steps, start_env_step, run.logger.progress_bar),
                         keep_checkpoints=run.keep_checkpoints, frames_per_env_step=spec.frames_per_env_step,
                         config=OmegaConf.to_container(cfg, resolve=True),
                         started=time.monotonic() - (resume_state["wall_time_s"] if resume_state else 0.0),
                         tensorboard=TensorBoardSink(run_dir, start_env_step if resume_state else None)
                         if run.logger.tensorboard else None)
    exit_code = 1
    video = None
    if run.logger.video_interval_env_steps is not None:
        from rlkit.video import PeriodicVideo

        video = PeriodicVideo(run, agent, run_dir, wandb, start_env_step)
    runner = Runner(agent, envs, eval_envs, run.schedule, build.health_tracker(run), outputs, run.seed, video=video)
    try:
        result = runner.run(resume_state, resume_replay)
        exit_code = 0
    except NonFiniteError as err:
        return {"error": f"{err}: the run stopped; {_last_checkpoint_text(run_dir)};"
                         f" {run_dir / 'nonfinite_diagnostic.json'} holds the values and recent grad norms",
                "exit_code": 3, "run_dir": str(run_dir)}
    except EnvFailure as err:
        return {"error": f"{err}; a checkpoint was saved; resume with: {command()} resume={run_dir}",
                "exit_code": 4, "run_dir": str(run_dir)}
    except DiskFullError as err:
        return {"error": f"{err}; {_last_checkpoint_text(run_dir)}; free space, then resume: {command()}"
                         f" resume={run_dir}",
                "exit_code": EXIT_DISK_FULL, "run_dir": str(run_dir)}
    finally:
        outputs.close(exit_code)
        envs.close()
        if exit_code != 0:  # (a finished run keeps them for its random-baseline episodes)
            eval_envs.close()
        if video is not None:
            video.close()
    curves = plot_run(run_dir)
    if "stopped_by" in result:
        message = (f"stopped by {result['stopped_by']} at env step {result['env_step']:,}; checkpoint saved;"
                   f" {_how_it_continues(f'resume: {command()} resume={run_dir}')}")
        eval_envs.close()
        exit_code = stop_exit_code(result["stopped_by"])
        if exit_code == 0:
            print(message)
        return {**result, "run_dir": str(run_dir), "exit_code": exit_code,
                **({"error": message} if exit_code else {})}
    if run.random_baseline_episodes > 0:
        outputs.console.status(f"random baseline: {run.random_baseline_episodes} episodes")
        stopped = _compare_unless_stopped(run, eval_envs, result, run_dir)
        if stopped is not None:
            eval_envs.close()
            return stopped
    eval_envs.close()
    _print_summary(result, run_dir, wandb.mode)
    if curves is not None:
        print(f"curves: {curves}")
    return {**result, "run_dir": str(run_dir), "exit_code": 0}


def random_baseline(result: dict[str, Any]) -> dict[str, Any]:
    """The final evaluation against the random policy's episodes: both samples, their means and
    population stds, and a one-sided Welch test that the agent's mean is higher (beats at p < 0.05)."""
    agent, random = np.asarray(result["eval_returns"]), np.asarray(result["random_returns"])
    test = welch_t_test_greater(agent, random)
    return {"env_step": result["env_step"],
            "agent_returns": agent.tolist(), "agent_mean": float(agent.mean()), "agent_std": float(agent.std()),
            "random_returns": random.tolist(), "random_mean": float(random.mean()), "random_std": float(random.std()),
            "welch_t": float(test.t), "welch_dof": float(test.dof), "p_value": float(test.p_value),
            "beats_random": bool(test.p_value < 0.05)}


def random_baseline_json(baseline: dict[str, Any]) -> str:
    """``random_baseline``'s dict as strict JSON: JSON has no infinity (two constant samples give an
    infinite t and dof), so non-finite numbers are written as null."""
    finite = {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
              for key, value in baseline.items()}
    return json.dumps(finite, indent=1, allow_nan=False)


def _last_checkpoint_text(run_dir: Path) -> str:
    found = checkpoint.list_checkpoints(run_dir)
    return f"the last good checkpoint is {found[-1][1]}" if found else "no checkpoint was written yet"


def _compare_unless_stopped(run: RootConfig, eval_envs, result: dict[str, Any], run_dir: Path) -> dict | None:
    """``_compare_with_random_policy`` where Ctrl-C or SIGTERM ends the random policy's episodes at
    their next vector step: then the stop's result (exit 130 / 143; the run itself is finished and
    saved, and a resume plays the episodes), else None."""
    stop = StopRequest()
    stop.install()
    try:
        _compare_with_random_policy(run, eval_envs, result, run_dir, should_stop=lambda: stop.requested)
    except EpisodesStopped:
        message = (f"stopped by {stop.signal_name} during the random policy's episodes; the run finished at"
                   f" {result['env_step']:,} env steps and is saved; "
                   + _how_it_continues(f"{command()} resume={run_dir} plays them"))
        return {**result, "stopped_by": stop.signal_name, "run_dir": str(run_dir),
                "exit_code": stop_exit_code(stop.signal_name), "error": message}
    finally:
        stop.restore()
    return None


def _compare_with_random_policy(run: RootConfig, eval_envs, result: dict[str, Any], run_dir: Path,
                                should_stop: Callable[[], bool]) -> None:
    """The random policy's episodes against ``result``'s final evaluation: adds ``random_returns``,
    ``random_baseline`` and ``random_baseline_file`` (the path, or None where it could not be written).
    ``should_stop`` (asked before each vector step) ends the episodes with ``EpisodesStopped``."""
    result["random_returns"] = build.random_policy_returns(eval_envs, run.random_baseline_episodes, run.seed,
                                                           should_stop).tolist()
    result["random_baseline"] = random_baseline(result)
    path = run_dir / RANDOM_BASELINE_FILE
    text = random_baseline_json(result["random_baseline"])
    try:  # whole or not at all
        checkpoint.atomic_write(path, lambda handle: handle.write(text.encode()))
        result["random_baseline_file"] = str(path)
    except OSError as err:
        print(f"could not write {path} ({err}); the comparison is printed below", file=sys.stderr)
        result["random_baseline_file"] = None


def _print_random_baseline(result: dict[str, Any]) -> None:
    baseline = result["random_baseline"]
    verdict = "beats" if baseline["beats_random"] else "does NOT beat"
    print(f"random policy: {baseline['random_mean']:.2f} +- {baseline['random_std']:.2f} over"
          f" {len(baseline['random_returns'])} episodes; one-sided Welch t = {baseline['welch_t']:.2f},"
          f" dof = {baseline['welch_dof']:.1f}, p = {baseline['p_value']:.2g}: the agent {verdict} the random"
          f" policy (p < 0.05)")
    if result["random_baseline_file"] is not None:
        print(f"random baseline: {result['random_baseline_file']}")


def _print_summary(result: dict[str, Any], run_dir: Path, wandb_mode: str) -> None:
    returns = np.asarray(result["eval_returns"])
    print(f"\nrun dir: {run_dir}")
    print(f"final evaluation return: {returns.mean():.2f} +- {returns.std():.2f} over {len(returns)} episodes"
          f" at {result['env_step']:,} env steps")
    if "random_baseline" in result:
        _print_random_baseline(result)
    print(f"extend: {command()} resume={run_dir} schedule.total_env_steps=<more> allow_config_change=true")
    print(f"compare runs: {command('rlkit.report')} {run_dir} [more run dirs...]  (metrics: {run_dir / METRICS_FILE})")
    print(f"evaluate and watch: {command('rlkit.evaluate')} {run_dir} episodes=10 video=true panel=true")
    if wandb_mode == "offline":
        print(f"W&B (offline): wandb sync {run_dir / 'wandb'}/offline-run-*")
