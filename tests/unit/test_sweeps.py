"""How a sweep's workers and controllers start (rlkit/sweeps.py); the sweeps themselves: tests/smoke/test_sweeps.py."""

import os
import signal
import subprocess
import sys
import threading
import types

import pytest

from rlkit.sweeps import _StartsRlkitController, loky_starts_with_stop_signals_blocked

REPORT_MASK = ("import signal, sys; blocked = signal.pthread_sigmask(signal.SIG_BLOCK, []); "
               "open(sys.argv[1], 'w').write(' '.join(sorted(s.name for s in blocked)))")


def _start_from_a_thread(path) -> str:
    """Start a child the way loky starts a replacement worker: its fork_exec, from a thread that is not
    the main one; what the child's first instruction finds blocked."""
    from joblib.externals.loky.backend import fork_exec as loky_fork_exec

    pids = []
    thread = threading.Thread(target=lambda: pids.append(loky_fork_exec.fork_exec(
        [sys.executable, "-c", REPORT_MASK, str(path)], keep_fds=())))
    thread.start()
    thread.join()
    _, status = os.waitpid(pids[0], 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return path.read_text()


def test_loky_starts_its_workers_with_the_stop_signals_blocked_until_put_back(tmp_path):
    from joblib.externals.loky.backend import fork_exec as loky_fork_exec

    original = loky_fork_exec.fork_exec
    assert _start_from_a_thread(tmp_path / "before") == ""  # loky's own: a worker's first moments unprotected
    restore = loky_starts_with_stop_signals_blocked()
    try:
        assert _start_from_a_thread(tmp_path / "held") == "SIGINT SIGTERM"
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()  # this process's threads: untouched
    finally:
        restore()
    assert loky_fork_exec.fork_exec is original
    assert _start_from_a_thread(tmp_path / "after") == ""


def test_the_launching_process_starts_rlkits_controller_in_place_of_submitits():
    started = []
    shim = _StartsRlkitController(types.SimpleNamespace(Popen=lambda command, **kwargs: started.append(command),
                                                        PIPE=subprocess.PIPE))
    shim.Popen(["/venv/python", "-m", "submitit.local._local", "/sweep/.submitit/%j"], shell=False)
    shim.Popen("source env.sh && /venv/python -m submitit.local._local /sweep/.submitit/%j", shell=True)
    assert started == [["/venv/python", "-m", "rlkit.sweep_controller", "/sweep/.submitit/%j"],
                       "source env.sh && /venv/python -m rlkit.sweep_controller /sweep/.submitit/%j"]
    assert shim.PIPE == subprocess.PIPE  # the rest of the module as it is
    with pytest.raises(RuntimeError, match="does not know"):
        shim.Popen(["/venv/python", "-m", "submitit.local.other", "/sweep"])
