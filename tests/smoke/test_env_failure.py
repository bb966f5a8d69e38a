"""An env worker that dies (subprocess backend) ends the run with a clear message, exit code 4 and a
resumable checkpoint, not a hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from rlkit import checkpoint
from tests.conftest import REPO

ARGS = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=200000", "schedule.save_interval_env_steps=2000",
        "hardware.env_backend=gymnasium_async", "hardware.num_envs=2", "hardware.eval_num_envs=1",
        "logger.progress_bar=false"]


def test_a_dead_env_worker_stops_the_run_with_a_resumable_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    env = dict(os.environ, WANDB_MODE="disabled")
    proc = subprocess.Popen([sys.executable, "-m", "rlkit", *ARGS, f"hydra.run.dir={run_dir}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not checkpoint.list_checkpoints(run_dir):  # training is under way
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    workers = sorted(psutil.Process(proc.pid).children(), key=lambda p: p.create_time())
    workers[0].send_signal(signal.SIGKILL)  # the first training env's worker
    out, err = proc.communicate(timeout=120)  # no hang
    assert proc.returncode == 4, out + err
    assert "Traceback" not in err
    assert "the training envs failed at env step" in err and f"resume={run_dir}" in err
    step, path = checkpoint.list_checkpoints(run_dir)[-1]
    state = checkpoint.load_checkpoint(path)
    assert state["counters"]["env_step"] == step and step > 2000  # saved at the failure, past the periodic one
    resumed = subprocess.run([sys.executable, "-m", "rlkit", f"resume={run_dir}", "schedule.total_env_steps=6000",
                              "allow_config_change=true", f"hydra.run.dir={tmp_path / 'unused'}"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming from env step {step:,}" in resumed.stdout


def _start(run_dir, extra=()):
    env = dict(os.environ, WANDB_MODE="disabled")
    return subprocess.Popen([sys.executable, "-m", "rlkit", *ARGS, *extra, f"hydra.run.dir={run_dir}"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # a process group of its own, as a terminal's job


def _wait_for_training(proc, run_dir):
    deadline = time.monotonic() + 180
    while not checkpoint.list_checkpoints(run_dir):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)


def test_ctrl_c_to_the_whole_process_group_saves_a_checkpoint_with_env_workers(tmp_path):
    run_dir = tmp_path / "run"
    proc = _start(run_dir)
    _wait_for_training(proc, run_dir)
    for worker in psutil.Process(proc.pid).children():  # the workers' share of a Ctrl-C first, alone: it would
        worker.send_signal(signal.SIGINT)  # fail the step in flight or the next one (a KeyboardInterrupt there)
    time.sleep(2.0)
    assert proc.poll() is None  # the run goes on
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "stopped by SIGINT" in err
    step, path = checkpoint.list_checkpoints(run_dir)[-1]
    assert step > 2000 and checkpoint.load_checkpoint(path)["counters"]["env_step"] == step  # the stop's own save


def test_a_dead_evaluation_worker_stops_the_run_with_a_resumable_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc = _start(run_dir, ["schedule.eval_interval_env_steps=6000"])
    _wait_for_training(proc, run_dir)
    workers = sorted(psutil.Process(proc.pid).children(), key=lambda p: p.create_time())
    workers[-1].send_signal(signal.SIGKILL)  # the evaluation env's worker (built after the training envs)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, out + err
    assert "Traceback" not in err and "the evaluation failed at env step 6,000" in err and f"resume={run_dir}" in err
    step, path = checkpoint.list_checkpoints(run_dir)[-1]
    assert step == 6000 and checkpoint.load_checkpoint(path)["counters"]["env_step"] == step
