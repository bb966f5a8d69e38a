"""PPO on every MuJoCo env for a few hundred steps, in-process; resume, determinism and refusals.

Options are spread over the runs so each one runs at least once (not the full product)."""

from __future__ import annotations

import math

import pytest
import torch

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import run_in_process

# short episodes keep evaluation (2 episodes) cheap on the tasks that never fall (HalfCheetah)
FAST = ["algo=ppo", "schedule=ppo_smoke", "env.max_episode_steps=200", "hardware.eval_num_envs=2",
        "hardware.torch_threads=1", "logger.progress_bar=false"]

CASES = {
    "hopper_default": ["env=hopper"],
    "halfcheetah_shared_trunk_target_kl": ["env=halfcheetah", "network.trunk=shared", "algo.target_kl=0.000001"],
    "ant_no_normalization_constant_lr_env_units": ["env=ant", "algo.normalize_obs=false",
                                                   "algo.normalize_reward=false", "schedule.anneal_lr=false",
                                                   "algo.entropy_coef=0.01", "algo.rescale_actions=false"],
    "humanoid_unclipped_value_raw_recomputed_advantages": ["env=humanoid", "algo.clip_value_loss=false",
                                                           "algo.normalize_advantages=false",
                                                           "algo.recompute_advantages=true", "hardware.num_envs=4"],
    "walker2d_stochastic_eval_async": ["env=walker2d", "algo.eval_deterministic=false",
                                       "hardware.env_backend=gymnasium_async", "hardware.num_envs=2"],
    "inverted_pendulum_default": ["env=inverted_pendulum"],
}
TRAIN_KEYS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance",
              "grad_norm")


@pytest.mark.parametrize("name", sorted(CASES))
def test_ppo_smoke(name, tmp_path):
    run_dir = tmp_path / "run"
    result = run_in_process(FAST + CASES[name], run_dir)
    assert result["exit_code"] == 0, result.get("error")
    assert result["env_step"] >= 384
    rows = read_metrics(run_dir / METRICS_FILE)
    train_rows = [r for r in rows if "loss" in r]
    assert len(train_rows) >= 2, "fewer than two training rows logged"
    for row in train_rows:
        finite = [k for k in TRAIN_KEYS if k != "explained_variance"]
        assert all(math.isfinite(row[k]) for k in finite), row
        assert row["updates"] > 0 and 0.0 <= row["clip_fraction"] <= 1.0 and row["approx_kl"] >= 0.0
        assert row["grad_norm"] > 0
    if "algo.target_kl=0.000001" in CASES[name]:  # the KL stop cut the epochs short at least once
        assert any(r["epochs"] < 2 for r in train_rows)
    eval_rows = [r for r in rows if "eval/return_mean" in r]
    assert len(eval_rows) >= 2 and all(r["eval/episodes"] == 2 and math.isfinite(r["eval/return_mean"])
                                       for r in eval_rows)
    found = checkpoint.list_checkpoints(run_dir)
    assert found and found[-1][0] == result["env_step"]
    checkpointed = checkpoint.load_checkpoint(found[-1][1])
    assert {"agent", "counters", "episodes", "torch_rng"} <= set(checkpointed)
    state = checkpointed["agent"]
    assert {"learner", "actor", "reward_scaler"} <= set(state)
    assert state["learner"]["num_rollouts"] >= 3
    if "algo.normalize_obs=false" in CASES[name]:
        assert state["actor"]["obs_normalizer"] is None and state["reward_scaler"] is None
    else:  # the normalizer saw every collected obs, the reward scaler every transition
        assert state["actor"]["obs_normalizer"]["count"] >= result["env_step"]
        assert state["reward_scaler"]["count"] == result["env_step"]


NOISY_KEYS = {"wall_time_s", "sps", "system/cpu_percent", "system/rss_gb"}


def _comparable(rows):
    return [{k: v for k, v in row.items() if k not in NOISY_KEYS} for row in rows]


def test_same_seed_same_metrics_and_resume_continues(tmp_path):
    base = FAST + ["env=inverted_pendulum", "seed=5"]
    first = run_in_process(base, tmp_path / "a")
    second = run_in_process(base, tmp_path / "b")
    assert first["exit_code"] == second["exit_code"] == 0
    rows_a = read_metrics(tmp_path / "a" / METRICS_FILE)
    assert _comparable(rows_a) == _comparable(read_metrics(tmp_path / "b" / METRICS_FILE))
    saved = checkpoint.load_checkpoint(checkpoint.list_checkpoints(tmp_path / "a")[-1][1])["agent"]
    resumed = run_in_process([f"resume={tmp_path / 'a'}", "schedule.total_env_steps=768", "allow_config_change=true"],
                             tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    assert resumed["env_step"] >= 768 and not (tmp_path / "unused").exists()
    train_steps = [r["env_step"] for r in read_metrics(tmp_path / "a" / METRICS_FILE) if "loss" in r]
    assert train_steps == sorted(set(train_steps)) and train_steps[-1] > first["env_step"]
    final = checkpoint.load_checkpoint(checkpoint.list_checkpoints(tmp_path / "a")[-1][1])["agent"]
    # learner, optimizer and normalizers continued from the checkpoint instead of starting over
    assert final["learner"]["num_rollouts"] > saved["learner"]["num_rollouts"]
    assert final["learner"]["optimizer"]["state"][0]["step"] > saved["learner"]["optimizer"]["state"][0]["step"]
    assert final["actor"]["obs_normalizer"]["count"] > saved["actor"]["obs_normalizer"]["count"] >= first["env_step"]
    assert not torch.equal(final["learner"]["network"]["log_std"], saved["learner"]["network"]["log_std"])


@pytest.mark.parametrize("overrides,fragment", [
    (["algo=ppo", "env=boxing"], "algo.name"),
    (["algo=dqn", "env=hopper"], "algo.name"),
    (["algo=ppo", "env=cartpole"], "algo.name"),
    (["algo=ppo", "env=hopper", "network=mlp"], "network.name"),
    (["algo=dqn", "env=cartpole", "schedule=smoke", "network=actor_critic"], "network.name"),
    (["algo=ppo", "env=hopper", "hardware.env_backend=ale_vector"], "hardware.env_backend"),
    (["algo=ppo", "env=hopper", "schedule.rollout_transitions=101"], "schedule.rollout_transitions"),
    (["algo=ppo", "env=hopper", "schedule=smoke"], "schedule"),
])
def test_mismatched_choices_are_refused_with_the_key(overrides, fragment, tmp_path):
    out = tmp_path / "job"
    result = run_in_process(overrides + ["logger.progress_bar=false", "hardware.num_envs=2"], out)
    assert result["exit_code"] == 2
    assert result["error"].startswith(fragment + "=")
    assert not out.exists()


def test_sigterm_saves_a_checkpoint_at_a_rollout_boundary_and_the_run_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "rlkit", *FAST, "env=inverted_pendulum", "schedule.total_env_steps=10000000",
           f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "WANDB_MODE": "disabled"})
    deadline = time.monotonic() + 60
    while not (run_dir / METRICS_FILE).exists() or not read_metrics(run_dir / METRICS_FILE):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, output
    assert "stopped by SIGTERM" in output
    step, path = checkpoint.list_checkpoints(run_dir)[-1]
    state = checkpoint.load_checkpoint(path)
    assert state["counters"]["env_step"] == step > 0
    assert step < 10_000_000
    resumed = run_in_process([f"resume={run_dir}", f"schedule.total_env_steps={step + 256}",
                              "allow_config_change=true"], tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    assert resumed["env_step"] >= step + 256


def test_env_failure_keeps_a_checkpoint_at_the_rollout_start(tmp_path, monkeypatch):
    from rlkit.envs.gym import GymVecEnv

    original, calls = GymVecEnv.step, {"train": 0}

    def step(self, actions):
        if self.num_envs == 8:  # the training envs (evaluation runs 2)
            calls["train"] += 1
            if calls["train"] == 40:  # inside the third rollout (16 vector steps each)
                raise EOFError("env worker died")
        return original(self, actions)

    monkeypatch.setattr(GymVecEnv, "step", step)
    run_dir = tmp_path / "run"
    result = run_in_process(FAST + ["env=inverted_pendulum"], run_dir)
    assert result["exit_code"] != 0 and "EOFError" in result["error"] and "resume" in result["error"]
    step_saved, path = checkpoint.list_checkpoints(run_dir)[-1]
    state = checkpoint.load_checkpoint(path)
    assert state["agent"]["learner"]["num_rollouts"] == 2 and state["counters"]["env_step"] == step_saved
    train_steps = [r["env_step"] for r in read_metrics(run_dir / METRICS_FILE) if "loss" in r]
    assert train_steps[-1] == step_saved  # the checkpoint is the state after the second rollout's update
