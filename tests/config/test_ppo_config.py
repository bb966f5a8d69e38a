"""algo=ppo, the MuJoCo envs, the actor-critic network and the on-policy schedules compose and check ranges."""

import pytest

from rlkit.algos.ppo import OnPolicySchedule, PPOConfig
from rlkit.config import ConfigValueError, to_run_config
from rlkit.envs.gym import GymEnvConfig
from rlkit.networks.actor_critic import ActorCriticConfig
from tests.conftest import compose_config, group_options

MUJOCO_IDS = {"ant": "Ant-v5", "halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "humanoid": "Humanoid-v5",
              "inverted_pendulum": "InvertedPendulum-v5", "walker2d": "Walker2d-v5"}
ON_POLICY_SCHEDULES = ["mujoco_1m", "ppo_smoke"]


def test_the_mujoco_env_options_are_the_ones_composed_here():
    gym = [e for e in group_options("env") if e != "gym"
           and to_run_config(compose_config([f"env={e}"])).env.name == "gym"]
    mujoco = [e for e in gym if to_run_config(compose_config([f"env={e}"])).env.id.endswith("-v5")]
    assert mujoco == sorted(MUJOCO_IDS)


@pytest.mark.parametrize("env", sorted(MUJOCO_IDS))
def test_every_mujoco_env_composes_with_ppo(env):
    run = to_run_config(compose_config([f"env={env}", "algo=ppo"]))
    assert isinstance(run.env, GymEnvConfig) and run.env.id == MUJOCO_IDS[env]
    assert run.env.max_episode_steps is None  # the task's own 1000-step limit
    assert isinstance(run.network, ActorCriticConfig)  # the env picks the network
    assert run.network.trunk == "separate" and run.network.hidden_sizes == [64, 64]
    assert isinstance(run.algo, PPOConfig) and isinstance(run.schedule, OnPolicySchedule)  # algo picks the schedule


def test_ppo_defaults_are_cleanrl_ppo_continuous_action_but_two_measured_changes():
    run = to_run_config(compose_config(["env=hopper", "algo=ppo"]))
    algo, sched = run.algo, run.schedule
    # the two departures from CleanRL, chosen by the 1M-step benchmark (README): log-std -0.5, actions mapped
    assert run.network.init_log_std == -0.5 and algo.rescale_actions and not algo.recompute_advantages
    assert (algo.gamma, algo.gae_lambda, algo.clip_coef) == (0.99, 0.95, 0.2)
    assert (algo.value_coef, algo.entropy_coef) == (0.5, 0.0)
    assert algo.grad_clip_norm == 0.5 and algo.target_kl is None and algo.adam_eps == 1e-5
    assert algo.clip_value_loss and algo.normalize_advantages and algo.normalize_obs and algo.normalize_reward
    assert algo.obs_clip == 10.0 and algo.reward_clip == 10.0
    assert algo.eval_deterministic
    assert sched.total_env_steps == 1_000_000 and sched.lr == 3e-4 and sched.anneal_lr
    # CleanRL's batch: 2048 transitions per rollout, 32 minibatches of 64, 10 epochs - with hardware=cpu's 8 envs
    assert sched.rollout_transitions == 2048 and sched.num_minibatches == 32 and sched.num_epochs == 10
    assert sched.rollout_transitions % run.hardware.num_envs == 0
    assert sched.rollout_transitions // run.hardware.num_envs == 256 and sched.rollout_transitions // 32 == 64


@pytest.mark.parametrize("schedule", ON_POLICY_SCHEDULES)
def test_on_policy_schedules_compose_and_a_command_line_choice_wins(schedule):
    assert set(ON_POLICY_SCHEDULES) | {"cpu_small", "cpu_small_pixels", "smoke", "cartpole", "report"} | {
        "mujoco_sac", "sac_smoke"} == set(group_options("schedule"))  # SAC's: test_sac_config.py
    run = to_run_config(compose_config(["env=hopper", "algo=ppo", f"schedule={schedule}"]))
    assert isinstance(run.schedule, OnPolicySchedule)
    assert (run.schedule.total_env_steps == 384) == (schedule == "ppo_smoke")


def test_shared_trunk_option():
    run = to_run_config(compose_config(["env=hopper", "algo=ppo", "network.trunk=shared"]))
    assert run.network.trunk == "shared"


@pytest.mark.parametrize("override,key", [
    ("algo.clip_coef=0", "algo.clip_coef"),
    ("algo.gae_lambda=1.5", "algo.gae_lambda"),
    ("algo.gamma=-0.1", "algo.gamma"),
    ("algo.grad_clip_norm=0", "algo.grad_clip_norm"),
    ("algo.target_kl=0", "algo.target_kl"),
    ("algo.entropy_coef=-0.01", "algo.entropy_coef"),
    ("schedule.num_epochs=0", "schedule.num_epochs"),
    ("schedule.num_minibatches=0", "schedule.num_minibatches"),
    ("schedule.num_minibatches=4096", "schedule.num_minibatches"),
    ("schedule.lr=0", "schedule.lr"),
    ("schedule.eval_episodes=0", "schedule.eval_episodes"),
    ("network.trunk=tied", "network.trunk"),
    ("network.hidden_sizes=[]", "network.hidden_sizes"),
    ("env.max_episode_steps=0", "env.max_episode_steps"),
])
def test_out_of_range_ppo_values_name_the_key(override, key):
    with pytest.raises(ConfigValueError) as info:
        to_run_config(compose_config(["env=hopper", "algo=ppo", override]))
    assert info.value.key == key and str(info.value).startswith(key + "=")


def test_reward_clip_is_refused_without_reward_normalization():
    # algo.reward_clip clips the scaled reward: with normalize_reward=false nothing would use it
    with pytest.raises(ConfigValueError) as info:
        to_run_config(compose_config(["env=hopper", "algo=ppo", "algo.normalize_reward=false", "algo.reward_clip=5"]))
    assert info.value.key == "algo.reward_clip" and info.value.value == 5.0
    assert "normalize_reward" in info.value.allowed and "env.reward_clip" in info.value.allowed
    run = to_run_config(compose_config(["env=hopper", "algo=ppo", "algo.normalize_reward=false"]))
    assert run.algo.reward_clip == 10.0 and not run.algo.normalize_reward  # the default: unused, allowed


def test_unbounded_actions_with_rescaling_name_algo_rescale_actions_and_false_builds():
    import numpy as np
    import torch

    from rlkit.algos.ppo import build_ppo
    from rlkit.envs.base import EnvSpec

    spec = EnvSpec("Unbounded-v0", (3,), np.dtype(np.float32), n_actions=0, action_shape=(2,),
                   action_low=np.full(2, -np.inf, np.float32), action_high=np.full(2, np.inf, np.float32))
    run = to_run_config(compose_config(["env=hopper", "algo=ppo", "schedule=ppo_smoke"]))
    with pytest.raises(ConfigValueError) as info:
        build_ppo(run, spec, torch.device("cpu"))
    assert info.value.key == "algo.rescale_actions" and info.value.value is True
    assert info.value.allowed.startswith("false for Unbounded-v0 (action rescaling needs finite bounds")
    run = to_run_config(compose_config(["env=hopper", "algo=ppo", "schedule=ppo_smoke", "algo.rescale_actions=false"]))
    assert build_ppo(run, spec, torch.device("cpu")).actor.action_center is None
