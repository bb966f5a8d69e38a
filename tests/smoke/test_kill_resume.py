"""Kill test: SIGKILL a run at random moments and while it writes a checkpoint, resume it each
time, and check the counters, the checkpoint files and the metrics file after every resume and
at the end (CartPole and Boxing RAM, 6 kills each)."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import REPO

KILLS = ("random", "during_write", "random", "during_write", "random", "during_write")
CARTPOLE = dict(args=["env=cartpole", "schedule=smoke", "schedule.total_env_steps=40000",
                      "schedule.warmup_env_steps=500", "schedule.replay_capacity_transitions=300000",
                      "schedule.log_interval_env_steps=500", "schedule.save_interval_env_steps=1000",
                      "schedule.eval_interval_env_steps=4000"],
                total=40000, warmup=500, log=500, eval=4000, updates_per_env_step=0.25)
BOXING_RAM = dict(args=["env=boxing_ram", "schedule=smoke", "schedule.total_env_steps=12000",
                        "schedule.warmup_env_steps=500", "schedule.replay_capacity_transitions=60000",
                        "schedule.batch_size=32", "schedule.log_interval_env_steps=500",
                        "schedule.save_interval_env_steps=500", "schedule.eval_interval_env_steps=3000",
                        "schedule.eval_episodes=1"],
                  total=12000, warmup=500, log=500, eval=3000, updates_per_env_step=0.25)
NUM_ENVS = 8  # hardware=cpu


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, WANDB_MODE="disabled")
    return subprocess.Popen([sys.executable, "-m", "rlkit", *args, "logger.progress_bar=false"], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout_s: float = 240.0, poll_s: float = 0.01) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll_s)


def _writing_checkpoint(run_dir: Path, since: float) -> bool:
    """A checkpoint or replay file being written now (not a stale .tmp of an earlier killed process)."""
    try:
        entries = list(os.scandir(run_dir / checkpoint.CHECKPOINT_DIR))
    except FileNotFoundError:
        return False
    for entry in entries:
        try:
            if entry.name.endswith(".tmp") and entry.stat().st_mtime >= since:
                return True
        except FileNotFoundError:  # renamed between the listing and the stat
            pass
    return False


def _latest(run_dir: Path) -> int:
    found = checkpoint.list_checkpoints(run_dir)
    return found[-1][0] if found else -1


def _log_has(logs: list[tuple[Path, int]], text: str) -> bool:
    return bool(logs) and text in logs[-1][0].read_text()


def _last_row_step(run_dir: Path) -> int:
    try:
        rows = read_metrics(run_dir / METRICS_FILE)
    except FileNotFoundError:
        return -1
    return rows[-1]["env_step"] if rows else -1


def _check_latest_checkpoint_loads(run_dir: Path) -> int:
    step, path = checkpoint.list_checkpoints(run_dir)[-1]
    state = checkpoint.load_checkpoint(path)
    assert state["counters"]["env_step"] == step
    assert state["has_replay"]
    replay = checkpoint.load_replay(run_dir, step)
    assert int(replay["num_added_transitions"]) == step  # the snapshot is the checkpoint's own
    return step


def _check_metrics(run_dir: Path, spec: dict, final_env_step: int | None = None) -> None:
    rows = read_metrics(run_dir / METRICS_FILE)
    steps = [r["env_step"] for r in rows]
    assert steps == sorted(steps), "metrics rows out of order"
    train_steps = [r["env_step"] for r in rows if "sps" in r]
    assert len(train_steps) == len(set(train_steps)), "a duplicated training row"
    for k, step in enumerate(train_steps, start=1):  # one row per log interval, none missing
        assert k * spec["log"] <= step < k * spec["log"] + NUM_ENVS, (k, step)
    if final_env_step is not None:
        assert len(train_steps) == final_env_step // spec["log"]
        eval_steps = [r["env_step"] for r in rows if "eval/return_mean" in r]
        assert len(eval_steps) == len(set(eval_steps))
        assert len(eval_steps) == final_env_step // spec["eval"] + (final_env_step % spec["eval"] >= NUM_ENVS)


def _kill_resume_cycle(spec: dict, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    run_dir = tmp_path / "run"
    proc = _start(spec["args"] + [f"hydra.run.dir={run_dir}"], tmp_path / "start.log")
    logs = []
    for k, how in enumerate(KILLS):
        before = _latest(run_dir)
        if logs:  # a resumed process: let it reach its checkpoint before choosing the moment
            _wait_for(lambda: _log_has(logs, "resuming from"), proc, f"kill {k}: the resume to start")
        if how == "during_write":
            since = time.time()
            _wait_for(lambda: _writing_checkpoint(run_dir, since), proc, f"kill {k}: a checkpoint write",
                      poll_s=0.0002)
        else:
            # training under way: a first checkpoint exists, or this resumed process logged a row past it
            _wait_for(lambda: _latest(run_dir) > before or (_log_has(logs, "resuming from")
                                                             and _last_row_step(run_dir) > before),
                      proc, f"kill {k}: training progress")
            time.sleep(rng.uniform(0.1, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"kill {k} ({how}) came after the run ended"
        step = _check_latest_checkpoint_loads(run_dir)  # a kill mid-write never breaks the latest one
        _check_metrics(run_dir, spec)
        log = tmp_path / f"resume{k}.log"
        logs.append((log, step))
        proc = _start([f"resume={run_dir}", f"hydra.run.dir={tmp_path / f'unused{k}'}"], log)
    assert proc.wait(timeout=600) == 0, (tmp_path / f"resume{len(KILLS) - 1}.log").read_text()[-3000:]
    for log, step in logs:  # each resume started from the latest complete checkpoint
        text = log.read_text()
        match = re.search(r"resuming from env step ([\d,]+)", text)
        assert match, text[-2000:]
        assert int(match.group(1).replace(",", "")) == step
    final_step = _check_latest_checkpoint_loads(run_dir)
    assert spec["total"] <= final_step < spec["total"] + NUM_ENVS
    _check_metrics(run_dir, spec, final_env_step=final_step)
    assert not [p for p in (run_dir / checkpoint.CHECKPOINT_DIR).iterdir() if p.name.endswith(".tmp")]
    assert len(list((run_dir / checkpoint.CHECKPOINT_DIR).glob("replay_*.npz"))) == 1  # one replay snapshot
    state = checkpoint.load_checkpoint(checkpoint.list_checkpoints(run_dir)[-1][1])
    learner, counters = state["agent"]["learner"], state["counters"]
    earned = (final_step - spec["warmup"]) * spec["updates_per_env_step"]  # nothing lost or redone
    assert abs(learner["num_updates"] + state["agent"]["update_credit"] - earned) <= NUM_ENVS * spec["updates_per_env_step"]
    adam_steps = {int(s["step"]) for s in learner["optimizer"]["state"].values()}
    assert adam_steps == {learner["num_updates"]}  # the optimizer state survived every resume
    eval_rows = [r for r in read_metrics(run_dir / METRICS_FILE) if "eval/return_mean" in r]
    assert counters["evaluations"] == len(eval_rows)


def test_cartpole_survives_kills_at_random_moments_and_during_checkpoint_writes(tmp_path):
    _kill_resume_cycle(CARTPOLE, tmp_path, seed=0)


def test_boxing_ram_survives_kills_at_random_moments_and_during_checkpoint_writes(tmp_path):
    _kill_resume_cycle(BOXING_RAM, tmp_path, seed=1)
