"""SAC for a few hundred steps in-process on Pendulum and the MuJoCo envs, every option at least once;
same seed same metrics; resume continues the learner and the replay; mismatched choices refused.

Options are spread over the runs (not the full product)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import run_in_process

# short episodes keep evaluation (2 episodes) cheap on the tasks that never fall (HalfCheetah)
FAST = ["algo=sac", "schedule=sac_smoke", "hardware.eval_num_envs=2", "hardware.torch_threads=1",
        "logger.progress_bar=false"]
PENDULUM = ["env=gym", "env.id=Pendulum-v1"]
MUJOCO_FAST = ["env.max_episode_steps=200"]

CASES = {
    # the defaults: tuned temperature, policy every 2 critic updates (2 at a time), 8 envs, sac_mlp 256x256
    "pendulum_default": PENDULUM,
    "hopper_fixed_alpha_every_update_stochastic_eval_clipped": [
        "env=hopper", *MUJOCO_FAST, "algo.alpha=0.2", "algo.policy_update_period_updates=1",
        "algo.eval_deterministic=false", "algo.grad_clip_norm=1.0", "algo.gamma=0.9", "algo.polyak_tau=0.02"],
    "halfcheetah_td3_delay_own_target_entropy_small_net": [
        "env=halfcheetah", *MUJOCO_FAST, "algo.policy_update_period_updates=3", "algo.compensate_policy_delay=false",
        "algo.target_entropy=-3.0", "algo.init_alpha=0.1", "algo.adam_eps=1e-5", "network.hidden_sizes=[64]",
        "network.log_std_min=-10.0", "network.log_std_max=1.0", "env.reward_clip=1.0"],
    "inverted_pendulum_one_env_half_ratio_wrapping_replay": [
        "env=inverted_pendulum", "hardware.num_envs=1", "schedule.updates_per_env_step=0.5",
        "schedule.batch_size=32", "schedule.warmup_env_steps=100", "schedule.replay_capacity_transitions=300",
        "schedule.critic_lr=3e-4", "schedule.actor_lr=1e-4", "schedule.alpha_lr=3e-4"],
    "walker2d_async_two_envs_two_updates_per_step": [
        "env=walker2d", *MUJOCO_FAST, "hardware.num_envs=2", "hardware.env_backend=gymnasium_async",
        "schedule.updates_per_env_step=2.0"],
}
TRAIN_KEYS = ("loss", "grad_norm", "q1_mean", "q2_mean", "target_q_mean", "actor_loss", "actor_grad_norm", "entropy",
              "alpha")


def _option(overrides: list[str], key: str, default):
    values = [o.split("=", 1)[1] for o in overrides if o.startswith(key + "=")]
    return type(default)(values[-1]) if values else default


@pytest.mark.parametrize("name", sorted(CASES))
def test_sac_smoke(name, tmp_path):
    overrides = FAST + CASES[name]
    run_dir = tmp_path / "run"
    result = run_in_process(overrides, run_dir)
    assert result["exit_code"] == 0, result.get("error")
    assert result["env_step"] >= 400
    rows = read_metrics(run_dir / METRICS_FILE)
    train_rows = [r for r in rows if "loss" in r]
    assert len(train_rows) >= 2, "fewer than two training rows logged"
    for row in train_rows:
        assert all(math.isfinite(row[k]) for k in TRAIN_KEYS), row
        assert row["grad_norm"] > 0 and row["actor_grad_norm"] > 0 and row["alpha"] > 0
    alphas = [r["alpha"] for r in train_rows]
    fixed = _option(overrides, "algo.alpha", 0.0)
    if fixed:
        assert alphas == pytest.approx([fixed] * len(alphas)) and not any("alpha_loss" in r for r in train_rows)
    else:  # tuned: it moved away from its start and logged its loss
        assert abs(alphas[-1] - _option(overrides, "algo.init_alpha", 1.0)) > 1e-3
        assert all("alpha_loss" in r for r in train_rows)
    eval_rows = [r for r in rows if "eval/return_mean" in r]
    assert len(eval_rows) >= 2 and all(r["eval/episodes"] == 2 and math.isfinite(r["eval/return_mean"])
                                       for r in eval_rows)

    found = checkpoint.list_checkpoints(run_dir)
    assert found and found[-1][0] == result["env_step"]
    assert checkpoint.replay_path(run_dir, result["env_step"]).exists()
    state = checkpoint.load_checkpoint(found[-1][1])
    learner = state["agent"]["learner"]
    updates, policy_updates = learner["num_updates"], learner["num_policy_updates"]
    ratio = _option(overrides, "schedule.updates_per_env_step", 1.0)
    warmup = _option(overrides, "schedule.warmup_env_steps", 64)
    num_envs = _option(overrides, "hardware.num_envs", 8)
    # updates are earned only by transitions from the vector step that reaches the warm-up on
    assert 0 < updates <= ratio * (result["env_step"] - warmup + num_envs)
    assert updates == train_rows[-1]["updates"] or train_rows[-1]["env_step"] < result["env_step"]
    period = _option(overrides, "algo.policy_update_period_updates", 2)
    compensate = _option(overrides, "algo.compensate_policy_delay", "true") == "true"
    assert policy_updates == (updates // period) * (period if compensate else 1)
    if name == "pendulum_default":  # no termination, no reset step before 200: exactly one update per transition
        assert updates == result["env_step"] - 56  # from the vector step 56 -> 64 on
        assert train_rows[-1]["replay_ratio"] == pytest.approx(16.0)  # batch 16 x 1 update per env step
    capacity = _option(overrides, "schedule.replay_capacity_transitions", 2000)
    assert max(r["buffer_fill"] for r in train_rows) <= capacity
    with np.load(checkpoint.replay_path(run_dir, result["env_step"])) as replay:
        actions = replay["actions"]
        assert actions.dtype == np.float32 and np.abs(actions).max() <= 1.0  # the policy's units, not the env's


NOISY_KEYS = {"wall_time_s", "sps", "system/cpu_percent", "system/rss_gb"}


def _comparable(rows):
    return [{k: v for k, v in row.items() if k not in NOISY_KEYS} for row in rows]


def test_same_seed_same_metrics_and_resume_continues_learner_and_replay(tmp_path):
    base = FAST + PENDULUM + ["seed=5", "network.hidden_sizes=[64,64]"]
    first = run_in_process(base, tmp_path / "a")
    second = run_in_process(base, tmp_path / "b")
    assert first["exit_code"] == second["exit_code"] == 0
    rows_a = read_metrics(tmp_path / "a" / METRICS_FILE)
    assert _comparable(rows_a) == _comparable(read_metrics(tmp_path / "b" / METRICS_FILE))
    saved = checkpoint.load_checkpoint(checkpoint.list_checkpoints(tmp_path / "a")[-1][1])
    resumed = run_in_process([f"resume={tmp_path / 'a'}", "schedule.total_env_steps=800", "allow_config_change=true"],
                             tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    assert resumed["env_step"] >= 800 and not (tmp_path / "unused").exists()
    rows = read_metrics(tmp_path / "a" / METRICS_FILE)
    train = [r for r in rows if "loss" in r]
    assert [r["env_step"] for r in train] == sorted({r["env_step"] for r in train})
    after = [r for r in train if r["env_step"] > first["env_step"]]
    # the replay came back: the first row after the resume counts the saved transitions too
    assert after and after[0]["buffer_fill"] > first["env_step"]
    final = checkpoint.load_checkpoint(checkpoint.list_checkpoints(tmp_path / "a")[-1][1])
    saved_learner, final_learner = saved["agent"]["learner"], final["agent"]["learner"]
    # no new warm-up: every transition after the resume earned its update
    assert final_learner["num_updates"] == saved_learner["num_updates"] + resumed["env_step"] - first["env_step"]
    assert final_learner["critic_optimizer"]["state"][0]["step"] > saved_learner["critic_optimizer"]["state"][0]["step"]


@pytest.mark.parametrize("overrides,fragment", [
    (["algo=sac", "env=boxing"], "algo.name"),
    (["algo=sac", "env=cartpole"], "algo.name"),
    (["algo=sac", "env=hopper", "network=mlp"], "network.name"),
    (["algo=sac", "env=hopper", "network=actor_critic"], "network.name"),
    (["algo=dqn", "env=cartpole", "schedule=smoke", "network=sac_mlp"], "network.name"),
    (["algo=sac", "env=hopper", "schedule=smoke"], "schedule"),
    (["algo=ppo", "env=hopper", "schedule=sac_smoke"], "schedule"),
    (["algo=sac", "env=hopper", "schedule.warmup_env_steps=8"], "schedule.warmup_env_steps"),
    (["algo=sac", "env=hopper", "algo.alpha=0"], "algo.alpha"),
    (["algo=sac", "env=hopper", "algo.policy_update_period_updates=0"], "algo.policy_update_period_updates"),
    (["algo=sac", "env=hopper", "network.log_std_max=-6"], "network.log_std_max"),
])
def test_mismatched_choices_are_refused_with_the_key(overrides, fragment, tmp_path):
    out = tmp_path / "job"
    result = run_in_process(overrides + ["logger.progress_bar=false", "hardware.num_envs=2"], out)
    assert result["exit_code"] == 2
    assert result["error"].startswith(fragment + "="), result["error"]
    assert not out.exists()
