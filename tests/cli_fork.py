"""Many `python -m rlkit ...` commands for the price of one interpreter start.

``run_commands`` starts one driver process that imports rlkit once (torch and the env libraries
take most of a CLI start), then forks a child per command. Each child is a fresh process for the
command: its own argv, working dir and environment, stdout and stderr in files, rlkit's own
``cli()`` entry, and the exit status Python would give (``sys.exit`` codes; 1 and a traceback on
stderr for an uncaught exception). Nothing of Hydra is initialized in the driver, so no state
carries from one command to the next."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run_commands(commands: list[list[str]], env: dict[str, str], parallel: int = 2, timeout_s: float = 600
                 ) -> list[Outcome]:
    """The outcome of ``python -m rlkit <args>`` for each args list (run from the repo root)."""
    from tests.cores import use_all_cores  # here: the driver runs this file as a script, without tests/ importable

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"commands": commands, "out_dir": tmp, "parallel": parallel}))
        proc = subprocess.run([sys.executable, __file__, str(spec)], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=timeout_s, preexec_fn=use_all_cores)
        assert proc.returncode == 0, f"the fork driver failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        codes = json.loads((Path(tmp) / "codes.json").read_text())
        return [Outcome(codes[i], (Path(tmp) / f"{i}.out").read_text(), (Path(tmp) / f"{i}.err").read_text())
                for i in range(len(commands))]


def _child(args: list[str], out: str, err: str) -> None:
    """Runs in the forked child; never returns."""
    code = 1
    try:
        for fd, path in ((1, out), (2, err)):
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(handle, fd)
            os.close(handle)
        sys.argv = ["rlkit", *args]
        from rlkit.__main__ import cli

        try:
            cli()
            code = 0
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                code = exit_.code or 0
            else:  # sys.exit("message"): printed to stderr, status 1, as Python does
                print(exit_.code, file=sys.stderr)
                code = 1
    except BaseException:  # noqa: BLE001 - an uncaught exception: traceback and status 1, as Python does
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _drive(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    import importlib

    importlib.import_module("rlkit.__main__")  # the expensive imports, once, before any fork

    out_dir, commands, codes, running = spec["out_dir"], spec["commands"], {}, {}
    pending = list(enumerate(commands))
    while pending or running:
        while pending and len(running) < spec["parallel"]:
            index, args = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                _child(args, f"{out_dir}/{index}.out", f"{out_dir}/{index}.err")
            running[pid] = index
        pid, status = os.wait()
        codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    Path(out_dir, "codes.json").write_text(json.dumps([codes[i] for i in range(len(commands))]))


if __name__ == "__main__":
    _drive(sys.argv[1])
