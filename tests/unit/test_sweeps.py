"""How a sweep's workers and controllers start (rlkit/sweeps.py); the sweeps themselves: tests/smoke/test_sweeps.py."""

import json
import os
import signal
import subprocess
import sys
import threading
import types

import pytest

from rlkit.sweeps import OUTCOME_FILE, _StartsRlkitController, loky_starts_with_stop_signals_blocked, report_sweep

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


def test_a_ray_sweeps_stop_signals_only_the_workers_running_its_jobs():
    """Ray's own processes and its idle workers end on a SIGTERM: the stop must pass them by."""
    import time

    import psutil

    from rlkit.sweeps import RAY_JOB_TITLE, ray_job_processes

    titles = [f"{RAY_JOB_TITLE} job", "ray::IDLE", "raylet"]
    children = [subprocess.Popen(["bash", "-c", f'exec -a "{title}" sleep 60']) for title in titles]
    try:
        deadline = time.monotonic() + 10
        while (time.monotonic() < deadline  # (until each exec has given its child the title; mid-exec
               # a process's cmdline reads empty)
               and sorted((psutil.Process(c.pid).cmdline() or [""])[0] for c in children) != sorted(titles)):
            time.sleep(0.05)
        assert [p.pid for p in ray_job_processes()] == [children[0].pid]
    finally:
        for child in children:
            child.kill()
            child.wait()


def test_a_local_ray_sweep_starts_ray_before_its_stop_handlers_and_a_cluster_sweep_is_left_alone(monkeypatch):
    """ray.init installs a SIGTERM handler that ends the process: rlkit starts Ray first, with the
    launcher's settings and default, then installs its own; a cluster's workers are not this machine's."""
    from omegaconf import OmegaConf

    from rlkit import sweeps

    calls = []
    fake_ray = types.SimpleNamespace(is_initialized=lambda: bool(calls), init=lambda **kw: calls.append(kw))
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    monkeypatch.setattr(sweeps.SweepState, "stop", None)
    sweeps.watch_ray_sweep(sweeps.Path("/unused"), OmegaConf.create({"init": {"address": "auto"}}))
    assert calls == [] and sweeps.SweepState.stop is None
    before = signal.getsignal(signal.SIGTERM)
    sweeps.watch_ray_sweep(sweeps.Path("/unused"), OmegaConf.create({"init": {"address": None, "num_cpus": 2}}))
    try:
        assert calls == [{"object_store_memory": sweeps.RAY_OBJECT_STORE_BYTES, "address": None, "num_cpus": 2}]
        stop = sweeps.SweepState.stop
        assert isinstance(stop, sweeps.SweepStop) and stop.job_processes is sweeps.ray_job_processes
        assert signal.getsignal(signal.SIGTERM) not in (before, signal.SIG_DFL)
    finally:
        sweeps.SweepState.stop.restore()
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_sweep_whose_jobs_all_failed_before_training_prints_no_compare_command(tmp_path, capsys):
    job = tmp_path / "0"
    job.mkdir()
    (job / OUTCOME_FILE).write_text(json.dumps({"overrides": ["hardware=cuda"], "exit_code": 1, "error": "no GPU"}))
    assert report_sweep(tmp_path) == 1
    out = capsys.readouterr().out
    assert "1 job(s) FAILED" in out and "compare:" not in out  # rlkit.report would find no metrics.jsonl
    (job / "metrics.jsonl").write_text('{"env_step": 10}\n')
    report_sweep(tmp_path)
    assert f"rlkit.report {tmp_path}" in capsys.readouterr().out
