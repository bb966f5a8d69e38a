"""`rlkit [group=option ...] [key=value ...]` (or `python -m rlkit ...`): validate -> build -> run.

The configs ship inside the package (rlkit/conf), so both entries work from any directory and
after a non-editable install; a user's own config groups join through Hydra's search path
(`hydra.searchpath=[file://./my_conf]`, see the README)."""

import sys
import tempfile
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig

from rlkit.config import register_schemas

register_schemas()


def _given(argv: list[str], key: str) -> str | None:
    """The last command-line value of ``key`` (``key=value`` or ``+key=value``), None when unset."""
    values = [arg.split("=", 1)[1] for arg in argv if "=" in arg and arg.split("=", 1)[0].lstrip("+") == key]
    return values[-1] if values else None


def _output_dir_key(argv: list[str]) -> str:
    return "hydra.sweep.dir" if "-m" in argv or "--multirun" in argv else "hydra.run.dir"


DEFAULT_OUTPUT_DIRS = {"hydra.run.dir": "outputs/runs/", "hydra.sweep.dir": "outputs/sweeps/"}  # conf/config.yaml's


def nearest_existing_output_dir(argv: list[str]) -> Path:
    """The nearest existing dir at or above the static part of hydra.run.dir (hydra.sweep.dir with
    -m): what Hydra's making of the run dir leaves as it was."""
    key = _output_dir_key(argv)
    given = _given(argv, key)
    probe = Path((given if given is not None else DEFAULT_OUTPUT_DIRS[key]).split("${", 1)[0] or ".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def unwritable_output_dir(argv: list[str]) -> str | None:
    """Hydra creates the run dir before rlkit runs and fails with a traceback if it cannot: check the
    static part of hydra.run.dir (hydra.sweep.dir with -m) first: its nearest existing ancestor must
    take a file. Returns an error message, or None when the dir can be written."""
    key = _output_dir_key(argv)
    given = _given(argv, key)
    value = given if given is not None else DEFAULT_OUTPUT_DIRS[key]
    probe = nearest_existing_output_dir(argv)
    try:
        if not probe.is_dir():
            raise NotADirectoryError(f"{probe} is not a directory")
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        name = key if given is not None else "the output dir"
        return f"{name}={value!r} is not allowed: a writable directory that rlkit can create ({err})"
    return None


# Hydra plugins that are optional extras: the config group option, its package and the extra
OPTIONAL_PLUGINS = {("hydra/sweeper", "optuna"): ("hydra_plugins.hydra_optuna_sweeper", "optuna"),
                    ("hydra/launcher", "ray"): ("hydra_plugins.hydra_ray_launcher", "ray")}


def missing_plugin(argv: list[str]) -> str | None:
    """A sweeper or launcher that is an optional extra not installed here, chosen on the command line
    or by the experiment: an error message naming the extra (Hydra would only say it cannot find
    the option), else None."""
    conf = Path(__file__).resolve().parent / "conf"
    experiment = _given(argv, "experiment")
    experiment_file = conf / "experiment" / f"{experiment}.yaml"
    chosen_by = {f"{group}={option}": f"{group}={option}" for group, option in OPTIONAL_PLUGINS if
                 _given(argv, group) == option}
    if experiment is not None and experiment_file.is_file():
        text = experiment_file.read_text()
        chosen_by.update({f"{group}={option}": f"experiment={experiment}" for group, option in OPTIONAL_PLUGINS
                          if f"override /{group}: {option}" in text})
    for (group, option), (package, extra) in OPTIONAL_PLUGINS.items():
        key = f"{group}={option}"
        if key in chosen_by and not _importable(package):
            return (f"{chosen_by[key]} is not allowed here: {key} needs the optional extra '{extra}', which is not"
                    f" installed (in the repo: .venv/bin/pip install -e \".[{extra}]\")")
    return None


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def prepare_sweep_dir(argv: list[str]) -> str | None:
    """A sweep pointed at a fixed dir whose jobs hold runs already: an error message. Checked before
    Hydra starts, which would rewrite the sweep's multirun.yaml; each job checks its own dir again
    (rlkit.launch.refuse_taken_run_dir), as does a single run. A dir whose jobs all failed before
    they ran (bad input) is reused: their outcomes and the old summary are removed first, so the new
    sweep's summary holds its own jobs only. With resume=auto the jobs continue their runs: only a
    stop mark left by a killed launching process goes. Returns None when the sweep may start."""
    from rlkit import checkpoint
    from rlkit.launch import RESUME_AUTO, taken_run_dir_problem
    from rlkit.sweeps import OUTCOME_FILE, STOP_FILE, SUMMARY_FILE

    auto = _given(argv, "resume") == RESUME_AUTO
    if (not ("-m" in argv or "--multirun" in argv) or _given(argv, "check") is not None
            or (_given(argv, "resume") is not None and not auto)):
        return None
    given = _given(argv, "hydra.sweep.dir")
    if given is None or "${" in given or not Path(given).is_dir():
        return None
    path = Path(given)
    if auto:
        (path / STOP_FILE).unlink(missing_ok=True)
        return None
    jobs = sorted((p for p in path.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    taken = [(job, problem) for job, problem in zip(jobs, map(taken_run_dir_problem, jobs)) if problem]
    if taken:
        resumable = all(checkpoint.list_checkpoints(job) for job, _ in taken)
        return (f"hydra.sweep.dir={str(path)!r} is not allowed: {taken[0][1]}"
                + ("; or continue the whole sweep: the same command with resume=auto" if resumable else ""))
    for job in jobs:
        (job / OUTCOME_FILE).unlink(missing_ok=True)
        try:
            job.rmdir()
        except OSError:  # it holds something else: left as it is
            pass
    for name in (SUMMARY_FILE, STOP_FILE):  # (a stop file: its sweep's launching process was killed)
        (path / name).unlink(missing_ok=True)
    return None


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict | float | None:
    from rlkit.launch import EXIT_CODES, JobContext, run_job
    from rlkit.stop import StopRequest, pass_on_preemption, preemption_received
    from rlkit.sweeps import SweepState, in_launching_process, share_worker_stop, sweep_stopped, write_outcome

    ctx = JobContext.from_hydra()
    if ctx.sweep_dir is None:
        result = run_job(cfg, ctx)
        if cfg.resume and result.get("run_dir"):  # a sweep's job resumed alone: its sweep's record follows
            from rlkit.sweeps import update_job_outcome

            update_job_outcome(Path(result["run_dir"]), result)
        if result.get("exit_code", 0) != 0:
            label = "" if result["exit_code"] in EXIT_CODES.values() else "error: "
            print(f"rlkit: {label}{result['error']}", file=sys.stderr)
            sys.exit(result["exit_code"])
        return result
    job_stop = None
    if not in_launching_process() and SweepState.stop is None:
        # a job in a process a launcher started for it (a submitit task, a Ray worker): a SIGINT /
        # SIGTERM from here on is recorded and stops its run at the first step (the run takes it
        # over), and the launching process marked the sweep stopped before forwarding an earlier one.
        # The launcher's preemption signal stays its own until the run takes it over
        job_stop = StopRequest(interrupt_twice=False, take_preemption=False)
        job_stop.install()
    try:
        stopped_by = sweep_stopped(ctx.sweep_dir)
        if stopped_by is not None:  # (a parallel sweep's job dispatched before the stop): it does not run
            write_outcome(ctx.output_dir, ctx.task_overrides,
                          {"exit_code": EXIT_CODES.get(stopped_by, 1), "stopped_by": stopped_by, "not_run": True})
            return None
        try:  # in a sweep, one job's failure must not end the others: record it, go on
            result = run_job(cfg, ctx)
            if result.get("run_dir_taken"):  # every job of a sweep dir that holds a sweep would collide: stop,
                print(f"rlkit: error: {result['error']}", file=sys.stderr)  # leaving that job's outcome as it was
                sys.exit(2)
        except Exception as err:  # noqa: BLE001 - a crash of this job, reported in the sweep summary
            traceback.print_exc()
            result = {"error": f"{type(err).__name__}: {err}", "exit_code": 1}
    finally:  # (before the preemption is passed on: the launcher's own handler must be back)
        if job_stop is not None:
            job_stop.restore()
    write_outcome(ctx.output_dir, ctx.task_overrides, result)
    if result.get("exit_code", 0) != 0:  # (a stop by a signal is no error: its job resumes)
        label = "" if result["exit_code"] in EXIT_CODES.values() else "error in "
        print(f"rlkit: {label}job {ctx.output_dir.name}: {result['error']}", file=sys.stderr)
    if preemption_received():  # a cluster launcher's: this job alone stops, its checkpoint saved
        not_requeued = pass_on_preemption()  # the launcher requeues the job (and exits here), or says why not
        if not_requeued:
            result = {**result, "error": f"{result.get('error', 'stopped')}; the launcher did not requeue the"
                                         f" job ({not_requeued})"}
            write_outcome(ctx.output_dir, ctx.task_overrides, result)
            print(f"rlkit: job {ctx.output_dir.name}: the launcher did not requeue it: {not_requeued}",
                  file=sys.stderr)
        return None
    if result.get("exit_code") in EXIT_CODES.values():  # Ctrl-C / SIGTERM stops the sweep, not only this job:
        if in_launching_process():  # here by exiting (the basic launcher)
            from rlkit.sweeps import report_sweep

            report_sweep(ctx.sweep_dir, stopped_by=result["stopped_by"])
            sys.exit(result["exit_code"])
        share_worker_stop(ctx.sweep_dir)  # in a joblib worker: no later job runs; the launching process ends it
    # A sweep job's value is its final evaluation return (what the Optuna sweeper maximizes); None
    # for a failed or stopped job (Optuna records a failed trial). Everything else is in outcome.json.
    final = result.get("eval/return_mean")
    return None if final is None else float(final)


GROUPS_SHOWN = ("env", "algo", "network", "schedule", "hardware", "logger", "experiment")
EXAMPLES = (
    ("rlkit", "the default job: DQN on Boxing RAM, CPU-sized"),
    ("rlkit algo=iqn env=boxing", "IQN on Boxing pixels"),
    ("rlkit algo=ppo env=hopper", "PPO on MuJoCo Hopper-v5, 1M env steps"),
    ("rlkit env=gym env.id=Acrobot-v1", "DQN on any gymnasium id"),
    ("rlkit -m experiment=cartpole_dqn schedule.lr=1e-4,1e-3 seed=0,1,2", "a sweep: 6 runs"),
    ("rlkit check algo=iqn env=boxing schedule.batch_size=64", "validate a config, run nothing"),
    ("rlkit resume=outputs/runs/<date>/<time>", "continue a run from its last checkpoint"),
)


def help_text() -> str:
    """rlkit's own --help: the groups and their options (from the shipped configs), examples, outputs."""
    conf = Path(__file__).resolve().parent / "conf"
    lines = ["rlkit: reinforcement-learning experiments composed with Hydra", "",
             "usage: rlkit [group=option ...] [key=value ...]      (or: python -m rlkit ...)",
             "       rlkit -m [key=a,b ...]                        a multirun sweep over the values",
             "       rlkit check [group=option ...] [key=value ...] validate only: nothing is run or written",
             "", "config groups (group=option):"]
    for group in GROUPS_SHOWN:
        options = sorted(p.stem for p in (conf / group).glob("*.yaml"))
        lines.append(f"  {group:<11}{', '.join(options)}")
    lines += ["", "examples:"]
    lines += [f"  {cmd:<68}{what}" for cmd, what in EXAMPLES]
    lines += ["", "outputs: ./outputs/runs/<date>/<time>/ (sweeps: ./outputs/sweeps/<date>/<time>/<job>/):",
              "  config.yaml, overrides.yaml, launch.yaml, metrics.jsonl, checkpoints/, curves.png, wandb/",
              "every key with its value: rlkit --cfg job [overrides]; keys and their meaning: rlkit/config.py and",
              "the schema beside each component; Hydra's own options: rlkit --hydra-help"]
    return "\n".join(lines)


def cli() -> None:
    """The console script `rlkit` and `python -m rlkit`."""
    if "--help" in sys.argv[1:] or "-h" in sys.argv[1:]:
        print(help_text())
        return
    if sys.argv[1:2] == ["check"]:
        sys.argv[1:2] = ["check=true"]
    problem = missing_plugin(sys.argv[1:]) or unwritable_output_dir(sys.argv[1:]) or prepare_sweep_dir(sys.argv[1:])
    if problem:
        print(f"rlkit: error: {problem}", file=sys.stderr)
        sys.exit(2)
    from rlkit import launch

    given = _given(sys.argv[1:], _output_dir_key(sys.argv[1:]))
    if given is None or not given.startswith("${"):  # (a dir that starts with an interpolation: unknown)
        launch.existing_output_dir = nearest_existing_output_dir(sys.argv[1:]).resolve()
    run_sweep_or_job()


def run_sweep_or_job() -> None:
    """Hydra's run; then the exit status a sweep earned: 130 / 143 when a signal stopped it, 1 when a
    job failed. A second Ctrl-C in a joblib sweep ends it at once: its summary is still written."""
    from rlkit.sweeps import SweepState, SweepStop, end_sweep

    try:
        main()
    except KeyboardInterrupt:
        if not (isinstance(SweepState.stop, SweepStop) and SweepState.stop.requested):
            raise
        end_sweep(SweepState.stop.sweep_dir)
    if SweepState.stopped_by is not None:
        from rlkit.launch import EXIT_CODES

        sys.exit(EXIT_CODES.get(SweepState.stopped_by, 1))
    if SweepState.failed_jobs:
        sys.exit(1)


if __name__ == "__main__":
    cli()
