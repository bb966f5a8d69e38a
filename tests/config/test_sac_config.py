"""algo=sac composes with every MuJoCo env and Pendulum, picks its network and schedule, has CleanRL's
sac_continuous_action defaults, and its schedules compose."""

import pytest

from rlkit.algos.sac import SACConfig, SACSchedule
from rlkit.algos.sac.networks import SACNetworkConfig
from rlkit.config import to_run_config
from tests.conftest import compose_config

MUJOCO_ENVS = ["ant", "halfcheetah", "hopper", "humanoid", "inverted_pendulum", "walker2d"]
SAC_SCHEDULES = ["mujoco_sac", "sac_smoke"]


@pytest.mark.parametrize("env", MUJOCO_ENVS + ["gym"])
def test_every_continuous_env_composes_with_sac_and_the_algo_picks_network_and_schedule(env):
    extra = ["env.id=Pendulum-v1"] if env == "gym" else []  # env=gym alone picks mlp_small and cartpole
    run = to_run_config(compose_config([f"env={env}", "algo=sac", *extra]))
    assert isinstance(run.algo, SACConfig) and isinstance(run.network, SACNetworkConfig)
    assert isinstance(run.schedule, SACSchedule) and run.schedule.total_env_steps == 1_000_000


def test_sac_defaults_are_cleanrl_sac_continuous_action():
    run = to_run_config(compose_config(["env=hopper", "algo=sac"]))
    algo, sched, net = run.algo, run.schedule, run.network
    assert (algo.gamma, algo.polyak_tau, algo.alpha, algo.init_alpha, algo.target_entropy) == (0.99, 0.005, None, 1.0,
                                                                                               None)
    assert algo.policy_update_period_updates == 2 and algo.compensate_policy_delay
    assert algo.grad_clip_norm is None and algo.adam_eps == 1e-8 and algo.eval_deterministic
    assert (sched.batch_size, sched.updates_per_env_step, sched.warmup_env_steps) == (256, 1.0, 5_000)
    assert sched.replay_capacity_transitions == 1_000_000
    assert (sched.critic_lr, sched.actor_lr, sched.alpha_lr) == (1e-3, 3e-4, 1e-3)
    assert net.hidden_sizes == [256, 256] and (net.log_std_min, net.log_std_max) == (-5.0, 2.0)


@pytest.mark.parametrize("schedule", SAC_SCHEDULES)
def test_sac_schedules_compose_and_a_command_line_choice_wins(schedule):
    run = to_run_config(compose_config(["env=hopper", "algo=sac", f"schedule={schedule}"]))
    assert isinstance(run.schedule, SACSchedule)
    assert run.schedule.total_env_steps == (400 if schedule == "sac_smoke" else 1_000_000)
    assert run.schedule.warmup_env_steps >= run.schedule.batch_size


def test_fixed_temperature_and_the_paper_learning_rates_are_overrides():
    run = to_run_config(compose_config(["env=hopper", "algo=sac", "algo.alpha=0.2", "schedule.critic_lr=3e-4",
                                        "schedule.alpha_lr=3e-4"]))
    assert run.algo.alpha == 0.2 and run.schedule.critic_lr == run.schedule.actor_lr == run.schedule.alpha_lr == 3e-4
