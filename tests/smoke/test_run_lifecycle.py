"""Seeding, resume and bad input at the job level (CartPole, in-process)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import REPO, run_in_process

NOISY_KEYS = {"wall_time_s", "sps", "system/cpu_percent", "system/rss_gb"}
DETERMINISM = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=2000", "schedule.warmup_env_steps=200",
               "schedule.log_interval_env_steps=250", "schedule.eval_interval_env_steps=1000",
               "schedule.save_interval_env_steps=1000", "logger.progress_bar=false"]


def _comparable(rows):
    return [{k: v for k, v in row.items() if k not in NOISY_KEYS} for row in rows]


def test_same_seed_same_metrics_including_updates(tmp_path):
    first = run_in_process(DETERMINISM + ["seed=3"], tmp_path / "a")
    second = run_in_process(DETERMINISM + ["seed=3"], tmp_path / "b")
    other = run_in_process(DETERMINISM + ["seed=4"], tmp_path / "c")
    rows_a = _comparable(read_metrics(tmp_path / "a" / METRICS_FILE))
    rows_b = _comparable(read_metrics(tmp_path / "b" / METRICS_FILE))
    rows_c = _comparable(read_metrics(tmp_path / "c" / METRICS_FILE))
    assert first["env_step"] == second["env_step"] >= 2000
    assert sum("loss" in r for r in rows_a) >= 6  # updates happened well before the end
    assert rows_a == rows_b
    assert rows_a != rows_c


def test_resume_continues_counters_and_metrics_without_duplicates(tmp_path):
    run_dir = tmp_path / "run"
    base = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800", "logger.progress_bar=false"]
    first = run_in_process(base, run_dir)
    assert first["exit_code"] == 0 and first["env_step"] >= 800
    resumed = run_in_process([f"resume={run_dir}", "schedule.total_env_steps=1600", "allow_config_change=true"],
                             tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    assert resumed["env_step"] >= 1600
    assert not (tmp_path / "unused").exists()  # the resume ran in the original run dir
    rows = read_metrics(run_dir / METRICS_FILE)
    train_steps = [r["env_step"] for r in rows if "loss" in r]
    assert train_steps == sorted(set(train_steps))  # no duplicate, increasing
    assert train_steps[-1] >= 1500
    assert checkpoint.list_checkpoints(run_dir)[-1][0] == resumed["env_step"]


def test_a_run_saved_under_an_old_default_or_before_a_key_existed_resumes_with_its_own_value(tmp_path):
    import torch
    from omegaconf import OmegaConf

    run_dir = tmp_path / "run"
    base = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=400", "logger.progress_bar=false"]
    assert run_in_process(base, run_dir)["exit_code"] == 0
    config = OmegaConf.load(run_dir / "config.yaml")
    config.hardware.replay_device = "cpu"  # hardware.replay_device's default before auto
    config.health.max_grad_norm_over_clip = 5.0  # its default before each algorithm had its own
    del config.hardware["compile_mode"]  # a key added later (launch.ADDED_KEYS)
    OmegaConf.save(config, run_dir / "config.yaml")
    for _, path in checkpoint.list_checkpoints(run_dir):  # each checkpoint carries the config that wrote it
        state = checkpoint.load_checkpoint(path)
        state["config"]["hardware"]["replay_device"] = "cpu"
        state["config"]["health"]["max_grad_norm_over_clip"] = 5.0
        del state["config"]["hardware"]["compile_mode"]
        torch.save(state, path)
    resumed = run_in_process([f"resume={run_dir}", "logger.progress_bar=false"], tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    saved = OmegaConf.load(run_dir / "config.yaml")
    assert saved.hardware.replay_device == "cpu" and saved.health.max_grad_norm_over_clip == 5.0
    named = run_in_process([f"resume={run_dir}", "hardware.replay_device=auto"], tmp_path / "unused")
    assert named["exit_code"] == 2 and "hardware.replay_device: 'cpu' -> 'auto'" in named["error"]


def test_a_requeued_cluster_job_continues_or_restarts_its_run_and_another_job_is_refused(tmp_path, monkeypatch):
    import shutil

    from rlkit import launch

    run_dir, base = tmp_path / "run", ["env=cartpole", "schedule=smoke", "logger.progress_bar=false"]
    monkeypatch.setattr(launch, "launcher_job_id", lambda: "7")
    first = run_in_process(base + ["schedule.total_env_steps=400"], run_dir)
    assert first["exit_code"] == 0 and "launcher_job_id: '7'" in (run_dir / "launch.yaml").read_text()
    again = run_in_process(base + ["schedule.total_env_steps=400"], run_dir)  # requeued after it finished
    assert again["exit_code"] == 0 and again["env_step"] == first["env_step"]
    shutil.rmtree(run_dir / "checkpoints")  # requeued before its first checkpoint: it starts again
    restarted = run_in_process(base + ["schedule.total_env_steps=400", "resume=auto"], run_dir)
    assert restarted["exit_code"] == 0 and restarted["env_step"] == first["env_step"]
    train_steps = [r["env_step"] for r in read_metrics(run_dir / METRICS_FILE) if "loss" in r]
    assert train_steps == sorted(set(train_steps))  # the first attempt's rows are gone
    monkeypatch.setattr(launch, "launcher_job_id", lambda: "8")  # another job in that dir: refused
    other = run_in_process(base + ["schedule.total_env_steps=400"], run_dir)
    assert other["exit_code"] == 2 and other["run_dir_taken"]


def test_resume_with_a_changed_config_is_refused_with_the_keys(tmp_path):
    run_dir = tmp_path / "run"
    run_in_process(["env=cartpole", "schedule=smoke", "logger.progress_bar=false"], run_dir)
    refused = run_in_process([f"resume={run_dir}", "schedule.lr=0.01", "algo.gamma=0.9"], tmp_path / "x")
    assert refused["exit_code"] == 2
    assert "schedule.lr" in refused["error"] and "algo.gamma" in refused["error"]
    assert "allow_config_change=true" in refused["error"]


@pytest.mark.parametrize("overrides,fragment", [
    (["env=cartpole", "schedule=smoke", "resume=/nonexistent/run"], "resume='/nonexistent/run'"),
    (["env=cartpole", "network=nature_cnn"], "network.name"),
    (["env=boxing_ram", "hardware.env_backend=ale_vector"], "hardware.env_backend"),
    pytest.param(["env=cartpole", "hardware=cuda"], "hardware.device",
                 marks=pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")),
    (["env=boxing", "schedule=smoke", "schedule.replay_capacity_transitions=100000000",
      "schedule.batch_size=32"], "schedule.replay_capacity_transitions"),
])
def test_bad_input_gives_one_message_and_no_run_dir(overrides, fragment, tmp_path):
    out = tmp_path / "runs" / "2026-12-04" / "03-50-00-000000"  # Hydra's default layout: <date>/<time>
    result = run_in_process(overrides + ["logger.progress_bar=false"], out)
    assert result["exit_code"] == 2
    assert fragment in result["error"]
    assert not out.parent.exists()  # nor the date dir made for it


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_ctrl_c_save_a_checkpoint_before_exiting(signum, tmp_path):
    run_dir = tmp_path / "run"
    env = dict(os.environ, WANDB_MODE="disabled")
    proc = subprocess.Popen([sys.executable, "-m", "rlkit", "env=cartpole", "schedule=smoke",
                             "schedule.total_env_steps=10000000", "schedule.save_interval_env_steps=1000000",
                             "logger.progress_bar=false", f"hydra.run.dir={run_dir}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / METRICS_FILE).exists() or len(read_metrics(run_dir / METRICS_FILE)) < 3:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, output  # 130 for Ctrl-C, 143 for SIGTERM: an interrupted run
    assert f"stopped by {signal.Signals(signum).name}" in output and f"resume={run_dir}" in output
    step, path = checkpoint.list_checkpoints(run_dir)[-1]  # the periodic save is 1M steps away: this is the stop's
    assert 200 <= step < 1_000_000 and checkpoint.load_checkpoint(path)["counters"]["env_step"] == step
    assert read_metrics(run_dir / METRICS_FILE)[-1]["env_step"] <= step


def test_a_resume_with_a_new_save_interval_uses_it_at_once(tmp_path):
    run_dir = tmp_path / "run"
    base = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=800", "schedule.save_interval_env_steps=400",
            "logger.progress_bar=false"]
    run_in_process(base, run_dir)
    resumed = run_in_process([f"resume={run_dir}", "schedule.total_env_steps=1400", "schedule.save_interval_env_steps=100",
                              "allow_config_change=true"], tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    steps = [s for s, _ in checkpoint.list_checkpoints(run_dir)]  # the newest 3
    assert len(steps) == 3 and steps[-1] >= 1400 and steps[-2] < 1400 and steps[-1] - steps[-3] <= 216


@pytest.mark.parametrize("overrides", [
    ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=2000"],
    # lr 1e-9: a run that does not learn (PPO balances the pendulum so fast that its returns can rise
    # at every row, a trend of exactly 1.0, which the limit below does not call hopeless)
    ["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke", "schedule.total_env_steps=1536", "schedule.lr=1e-9"],
], ids=["off_policy", "on_policy"])
def test_the_health_verdict_stops_a_run_only_when_asked(overrides, tmp_path):
    # limits a run that is not improving at every row cannot meet: "hopeless" once there are enough rows
    strict = ["health.min_return_trend=1.0", "health.max_grad_norm_over_clip=1e-9", "health.judge_after_fraction=0.5",
              "logger.progress_bar=false"]
    watched = run_in_process(overrides + strict, tmp_path / "watched")
    assert watched["exit_code"] == 0 and "stopped_by" not in watched  # measured, not acted on
    rows = read_metrics(tmp_path / "watched" / METRICS_FILE)
    assert any(r.get("health/hopeless") == 1.0 for r in rows)
    stopped = run_in_process(overrides + strict + ["health.stop_hopeless=true"], tmp_path / "stopped")
    assert stopped["stopped_by"] == "health verdict (hopeless)"
    total = int([o for o in overrides if o.startswith("schedule.total_env_steps=")][0].split("=")[1])
    assert total // 2 <= stopped["env_step"] < total  # not before judge_after_fraction of the budget
    rows = read_metrics(tmp_path / "stopped" / METRICS_FILE)
    assert rows[-1] == {**rows[-1], "env_step": stopped["env_step"], "health/stopped": 1.0}
    assert checkpoint.list_checkpoints(tmp_path / "stopped")[-1][0] == stopped["env_step"]


def test_a_run_composed_from_the_users_own_config_dir_resumes_without_naming_it_again(tmp_path):
    conf = tmp_path / "my_conf" / "env"
    conf.mkdir(parents=True)
    (conf / "my_cartpole.yaml").write_text("# @package _global_\ndefaults:\n  - /schema/env@env: gym\n"
                                           "  - override /network: mlp_small\nenv:\n  id: CartPole-v1\n")
    run_dir = tmp_path / "run"
    env = dict(os.environ, WANDB_MODE="disabled")
    common = ["schedule=smoke", "logger.progress_bar=false"]
    first = subprocess.run([sys.executable, "-m", "rlkit", "env=my_cartpole", *common, f"hydra.run.dir={run_dir}",
                            f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = subprocess.run([sys.executable, "-m", "rlkit", f"resume={run_dir}", "schedule.total_env_steps=600",
                              "allow_config_change=true", f"hydra.run.dir={tmp_path / 'unused'}"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert read_metrics(run_dir / METRICS_FILE)[-1]["env_step"] >= 600
    for proc in (first, resumed):  # the header names the network option chosen (mlp_small), not its schema (mlp)
        assert "network: mlp_small (17,410 parameters)" in proc.stdout


@pytest.mark.parametrize("at_the_end", [False, True], ids=["periodic", "final"])
def test_sigterm_during_an_evaluation_saves_at_once_without_finishing_it(at_the_end, tmp_path, monkeypatch):
    from rlkit.algos.value_based.agent import ValueAgent

    act_eval, calls = ValueAgent.act_eval, []

    def act_eval_then_sigterm(agent, obs):  # SIGTERM arrives during an evaluation
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return act_eval(agent, obs)

    monkeypatch.setattr(ValueAgent, "act_eval", act_eval_then_sigterm)
    # the final evaluation at a budget of 1,000 (none before it), or the periodic one at 1,000
    schedule = (["schedule.total_env_steps=1000", "schedule.eval_interval_env_steps=100000"] if at_the_end else
                ["schedule.total_env_steps=10000000", "schedule.eval_interval_env_steps=1000"])
    run_dir = tmp_path / "run"
    result = run_in_process(DETERMINISM + schedule + ["schedule.eval_episodes=50"], run_dir)
    assert result["stopped_by"] == "SIGTERM" and result["exit_code"] == 143
    assert len(calls) == 3  # the evaluation stopped at the next vector step, not after its 50 episodes
    step, path = checkpoint.list_checkpoints(run_dir)[-1]
    state = checkpoint.load_checkpoint(path)
    assert step == result["env_step"] and 1000 <= step < 1008 and not state["finished"]
    assert state["counters"]["evaluations"] == 0 and not state["last_eval"]  # no half evaluation was kept
    rows = read_metrics(run_dir / METRICS_FILE)
    assert not [r for r in rows if "eval/return_mean" in r]
    if not at_the_end:  # the stop went to its checkpoint: no log row at the periodic evaluation's step
        assert rows[-1]["env_step"] < step
    monkeypatch.setattr(ValueAgent, "act_eval", act_eval)
    extend = [] if at_the_end else ["schedule.total_env_steps=1500", "allow_config_change=true"]
    resumed = run_in_process(DETERMINISM + schedule + ["schedule.eval_episodes=50", f"resume={run_dir}", *extend],
                             tmp_path / "unused")
    assert resumed["exit_code"] == 0 and len(resumed["eval_returns"]) == 50  # (at the end: the final one, redone)


def test_bad_input_and_check_leave_no_empty_output_dirs_but_keep_those_that_were_there(tmp_path):
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONPATH=str(REPO))
    refused = subprocess.run([sys.executable, "-m", "rlkit", "env=cartpole", "schedule=smoke", "schedule.lr=0"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "schedule.lr=0" in refused.stderr
    assert list(tmp_path.iterdir()) == []  # not even outputs/runs/
    (tmp_path / "outputs" / "runs").mkdir(parents=True)
    checked = subprocess.run([sys.executable, "-m", "rlkit", "check", "env=cartpole", "schedule=smoke"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0 and "nothing was run or written" in checked.stdout
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*")] == [Path("outputs"), Path("outputs/runs")]
    (tmp_path / "mine").mkdir()  # a run dir made beforehand, empty: kept too
    refused = subprocess.run([sys.executable, "-m", "rlkit", "env=cartpole", "schedule=smoke", "schedule.lr=0",
                              f"hydra.run.dir={tmp_path / 'mine'}"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 2 and (tmp_path / "mine").is_dir()


def test_resume_auto_starts_a_run_in_its_dir_then_continues_it_there(tmp_path, capsys):
    run_dir = tmp_path / "run"
    base = ["env=cartpole", "schedule=smoke", "logger.progress_bar=false", "resume=auto"]
    first = run_in_process(base, run_dir)
    assert first["exit_code"] == 0 and "resuming" not in capsys.readouterr().out
    again = run_in_process(base + ["schedule.total_env_steps=800", "allow_config_change=true"], run_dir)
    assert again["exit_code"] == 0 and 800 <= again["env_step"] < 808
    assert f"resuming from env step {first['env_step']:,}" in capsys.readouterr().out
    assert "resume=auto" not in (run_dir / "overrides.yaml").read_text()  # a run control, not the run's config
    checkpoint_dir = run_dir / checkpoint.CHECKPOINT_DIR
    for path in checkpoint_dir.iterdir():
        path.unlink()
    refused = run_in_process(base, run_dir)  # run files without a checkpoint: nothing to continue, nor to overwrite
    assert refused["exit_code"] == 2 and "saved no checkpoint" in refused["error"]
