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


def unwritable_output_dir(argv: list[str], default: str = "outputs") -> str | None:
    """Hydra creates the run dir before rlkit runs and fails with a traceback if it cannot: check the
    static part of hydra.run.dir (hydra.sweep.dir with -m) first: its nearest existing ancestor must
    take a file. Returns an error message, or None when the dir can be written."""
    multirun = "-m" in argv or "--multirun" in argv
    for key in ("hydra.sweep.dir",) if multirun else ("hydra.run.dir",):
        given = [arg.split("=", 1)[1] for arg in argv if arg.split("=", 1)[0].lstrip("+") == key]
        value = given[-1] if given else default
        static = Path(value.split("${", 1)[0] or ".")
        probe = static
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            if not probe.is_dir():
                raise NotADirectoryError(f"{probe} is not a directory")
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as err:
            name = key if given else "the output dir"
            return f"{name}={value!r} is not allowed: a writable directory that rlkit can create ({err})"
    return None


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict | float | None:
    from rlkit.launch import JobContext, run_job
    from rlkit.sweeps import write_outcome

    ctx = JobContext.from_hydra()
    if ctx.sweep_dir is None:
        result = run_job(cfg, ctx)
        if result.get("exit_code", 0) != 0:
            print(f"rlkit: error: {result['error']}", file=sys.stderr)
            sys.exit(result["exit_code"])
        return result
    try:  # in a sweep, one job's failure must not end the others: record it, go on
        result = run_job(cfg, ctx)
    except Exception as err:  # noqa: BLE001 - a crash of this job, reported in the sweep summary
        traceback.print_exc()
        result = {"error": f"{type(err).__name__}: {err}", "exit_code": 1}
    write_outcome(ctx.output_dir, ctx.task_overrides, result)
    if result.get("exit_code", 0) != 0:
        print(f"rlkit: error in job {ctx.output_dir.name}: {result['error']}", file=sys.stderr)
    # A sweep job's value is its final evaluation return (what the Optuna sweeper maximizes); None
    # for a failed or stopped job (Optuna records a failed trial). Everything else is in outcome.json.
    final = result.get("eval/return_mean")
    return None if final is None else float(final)


def cli() -> None:
    """The console script `rlkit` and `python -m rlkit`."""
    problem = unwritable_output_dir(sys.argv[1:])
    if problem:
        print(f"rlkit: error: {problem}", file=sys.stderr)
        sys.exit(2)
    main()
    from rlkit.sweeps import SweepState

    if SweepState.failed_jobs:
        sys.exit(1)


if __name__ == "__main__":
    cli()
