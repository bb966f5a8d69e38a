"""What a new user meets first: exact budgets, a warm-up past the budget refused, interrupted runs
told apart by exit code (tests/smoke/test_run_lifecycle.py), a finished run resumed without a
larger budget left alone, an extended one continued without duplicate rows, rlkit's own help and
`rlkit check`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

from rlkit.logging import METRICS_FILE, RANDOM_BASELINE_FILE, read_metrics
from rlkit.stats import welch_t_test_greater
from tests.conftest import REPO, run_in_process

QUIET = ["logger.progress_bar=false"]


def test_ppo_stops_at_the_budget_with_a_last_partial_rollout(tmp_path):
    result = run_in_process(["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke", "schedule.total_env_steps=400",
                             *QUIET], tmp_path / "run")
    assert result["exit_code"] == 0
    assert 400 <= result["env_step"] < 408  # 8 envs: within one vector step, not a whole extra rollout of 128


def test_a_warmup_at_or_past_the_budget_is_refused_naming_both_keys(tmp_path):
    result = run_in_process(["algo=iqn", "env=cartpole", "schedule.total_env_steps=1000",
                             "schedule.warmup_env_steps=1000", *QUIET], tmp_path / "run")
    assert result["exit_code"] == 2
    assert "schedule.warmup_env_steps=1000" in result["error"] and "total_env_steps (1000)" in result["error"]
    assert not (tmp_path / "run").exists()


def test_a_finished_run_is_left_alone_and_an_extended_one_continues(tmp_path):
    run_dir = tmp_path / "run"
    base = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800", *QUIET]
    first = run_in_process(base, run_dir)
    rows_before = (run_dir / METRICS_FILE).read_text()
    files_before = sorted(p.name for p in run_dir.rglob("*"))
    again = run_in_process([f"resume={run_dir}"], tmp_path / "unused")
    assert again["exit_code"] == 0 and again["finished_already"] and again["env_step"] == first["env_step"]
    assert (run_dir / METRICS_FILE).read_text() == rows_before  # nothing written
    assert sorted(p.name for p in run_dir.rglob("*")) == files_before and not (tmp_path / "unused").exists()

    extended = run_in_process([f"resume={run_dir}", "schedule.total_env_steps=1600", "allow_config_change=true"],
                              tmp_path / "unused2")
    assert extended["exit_code"] == 0 and extended["env_step"] >= 1600
    rows = read_metrics(run_dir / METRICS_FILE)
    eval_steps = [r["env_step"] for r in rows if "eval/return_mean" in r]
    assert len(eval_steps) == len(set(eval_steps))  # no second evaluation at the first run's end
    train_steps = [r["env_step"] for r in rows if "loss" in r]
    assert train_steps == sorted(set(train_steps))
    walls = [r["wall_time_s"] for r in rows]
    assert walls == sorted(walls)  # wall time continues across the resume
    overrides = OmegaConf.load(run_dir / "overrides.yaml")
    keys = [o.split("=", 1)[0] for o in overrides]
    assert len(keys) == len(set(keys)) and "schedule.total_env_steps=1600" in list(overrides)


def test_the_random_baseline_is_written_beside_the_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    result = run_in_process(["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800",
                             "schedule.eval_episodes=4", "random_baseline_episodes=5", *QUIET], run_dir)
    assert result["exit_code"] == 0
    baseline = json.loads((run_dir / RANDOM_BASELINE_FILE).read_text())
    assert baseline["env_step"] == result["env_step"]
    assert baseline["agent_returns"] == result["eval_returns"] and len(baseline["agent_returns"]) == 4
    assert baseline["random_returns"] == result["random_returns"] and len(baseline["random_returns"]) == 5
    assert baseline["random_mean"] == pytest.approx(np.mean(result["random_returns"]))
    assert baseline["agent_std"] == pytest.approx(np.std(result["eval_returns"]))  # population std, as printed
    test = welch_t_test_greater(np.asarray(result["eval_returns"]), np.asarray(result["random_returns"]))
    assert (baseline["welch_t"], baseline["p_value"]) == pytest.approx((test.t, test.p_value))
    assert baseline["beats_random"] == (test.p_value < 0.05)
    out = capsys.readouterr().out
    assert f"random baseline: {run_dir / RANDOM_BASELINE_FILE}" in out
    assert ("the agent beats the random" in out) == baseline["beats_random"]
    assert not list(run_dir.glob("*.tmp"))


def test_a_finished_run_stopped_before_its_baseline_gets_it_on_resume(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert run_in_process(["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800",
                           "random_baseline_episodes=3", *QUIET], run_dir)["exit_code"] == 0
    written = (run_dir / RANDOM_BASELINE_FILE).read_text()
    (run_dir / RANDOM_BASELINE_FILE).unlink()  # as if stopped during the random-policy episodes
    capsys.readouterr()
    again = run_in_process([f"resume={run_dir}"], tmp_path / "unused")
    assert again["exit_code"] == 0 and again["finished_already"]
    assert (run_dir / RANDOM_BASELINE_FILE).read_text() == written  # the same seeded episodes, the same numbers
    out = capsys.readouterr().out
    assert "random policy: " in out and ": the random-policy episodes it was stopped in to do." in out
    assert run_in_process([f"resume={run_dir}"], tmp_path / "unused")["finished_already"]
    assert (run_dir / RANDOM_BASELINE_FILE).read_text() == written  # present: left alone
    out = capsys.readouterr().out
    assert ": nothing to do." in out and "random policy: " not in out


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_stop_during_the_random_baseline_exits_130_or_143_with_the_run_saved_and_resume_plays_it(
        tmp_path, monkeypatch, signal_name):
    import signal

    from rlkit import build

    random_policy_returns = build.random_policy_returns

    def signalled_first(*args, **kwargs):  # the signal arrives as the random policy's episodes start
        os.kill(os.getpid(), getattr(signal, signal_name))
        return random_policy_returns(*args, **kwargs)

    monkeypatch.setattr(build, "random_policy_returns", signalled_first)
    before = signal.getsignal(signal.SIGINT)  # (SIG_IGN in a background job of a non-interactive shell)
    run_dir = tmp_path / "run"
    overrides = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800", "random_baseline_episodes=3", *QUIET]
    result = run_in_process(overrides, run_dir)
    assert result["exit_code"] == {"SIGINT": 130, "SIGTERM": 143}[signal_name] and result["stopped_by"] == signal_name
    assert result["error"].startswith(f"stopped by {signal_name} during the random policy's episodes; the run finished")
    assert f"resume={run_dir} plays them" in result["error"] and not (run_dir / RANDOM_BASELINE_FILE).exists()
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are back
    monkeypatch.setattr(build, "random_policy_returns", random_policy_returns)
    again = run_in_process([f"resume={run_dir}"], tmp_path / "unused")
    assert again["exit_code"] == 0 and again["finished_already"] and (run_dir / RANDOM_BASELINE_FILE).is_file()


def test_a_baseline_that_cannot_be_written_is_still_printed(tmp_path, capsys, monkeypatch):
    from rlkit import checkpoint

    atomic_write = checkpoint.atomic_write

    def failing_for_the_baseline(path, write_fn, needed_bytes=None):
        if path.name == RANDOM_BASELINE_FILE:
            raise OSError(28, "No space left on device")
        return atomic_write(path, write_fn, needed_bytes)

    monkeypatch.setattr(checkpoint, "atomic_write", failing_for_the_baseline)
    run_dir = tmp_path / "run"
    result = run_in_process(["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800",
                             "random_baseline_episodes=3", *QUIET], run_dir)
    assert result["exit_code"] == 0 and result["random_baseline_file"] is None
    assert not (run_dir / RANDOM_BASELINE_FILE).exists() and not list(run_dir.glob("*.tmp"))
    captured = capsys.readouterr()
    assert f"could not write {run_dir / RANDOM_BASELINE_FILE}" in captured.err
    assert "random policy: " in captured.out and "random baseline: " not in captured.out


def test_no_random_baseline_file_without_baseline_episodes(tmp_path):
    run_dir = tmp_path / "run"
    assert run_in_process(["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800", *QUIET],
                          run_dir)["exit_code"] == 0
    assert not (run_dir / RANDOM_BASELINE_FILE).exists()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rlkit", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "WANDB_MODE": "disabled"}, timeout=300)


def test_help_lists_the_groups_and_their_options_not_the_schemas():
    proc = _cli("--help")
    assert proc.returncode == 0
    assert "powered by Hydra" not in proc.stdout and "schema" not in proc.stdout.split("examples:")[0]
    assert "algo       dqn, iqn, ppo" in proc.stdout and "hardware   cpu, cuda, cuda_amp" in proc.stdout
    assert proc.stdout.count("\n  rlkit ") >= 5 and "outputs/runs" in proc.stdout


def test_check_validates_like_a_run_and_writes_nothing(tmp_path):
    ok = _cli("check", "env=cartpole", f"hydra.run.dir={tmp_path / 'a'}")
    assert ok.returncode == 0 and "the config is valid" in ok.stdout and not (tmp_path / "a").exists()
    bad = _cli("check", "env=hopper", "algo=dqn", f"hydra.run.dir={tmp_path / 'b'}")
    assert bad.returncode == 2 and "algo.name='dqn'" in bad.stderr and not (tmp_path / "b").exists()
