"""Every option of every group composes and becomes typed objects; bad keys and values are refused."""

import pytest
from hydra.errors import ConfigCompositionException

from rlkit import build
from rlkit.algos.dqn import DQNConfig
from rlkit.algos.value_based.config import OffPolicySchedule
from rlkit.config import ConfigValueError, to_run_config
from rlkit.envs.atari import AtariEnvConfig
from rlkit.networks.mlp import MLPConfig
from rlkit.networks.nature_cnn import NatureCNNConfig
from tests.conftest import compose_config, group_options

VALUE_BASED_SCHEDULES = ["cpu_small", "cpu_small_pixels", "smoke", "cartpole", "report"]
MUJOCO_ENVS = ["ant", "halfcheetah", "hopper", "humanoid", "inverted_pendulum", "walker2d"]  # test_ppo_config.py


@pytest.mark.parametrize("env", [e for e in group_options("env") if e not in MUJOCO_ENVS])
def test_every_env_composes_with_dqn(env):
    run = to_run_config(compose_config([f"env={env}", "algo=dqn"] + (["env.id=Acrobot-v1"] if env == "gym" else [])))
    if env in ("cartpole", "gym"):
        assert run.env.id == {"cartpole": "CartPole-v1", "gym": "Acrobot-v1"}[env]
        assert isinstance(run.network, MLPConfig)
        return
    assert isinstance(run.env, AtariEnvConfig)
    assert run.env.frame_skip == 4 and run.env.repeat_action_probability == 0.25
    assert run.env.max_episode_frames == 108_000 and not run.env.episodic_life and not run.env.fire_reset
    assert run.env.noop_max == 0 and not run.env.full_action_space
    if env.endswith("_ram"):
        assert run.env.obs_type == "ram" and isinstance(run.network, MLPConfig)  # env picks the network
        assert run.network.hidden_sizes == [576, 576]
    else:
        assert run.env.obs_type == "pixels" and run.env.frame_stack == 4 and run.env.screen_size == 84
        assert isinstance(run.network, NatureCNNConfig)
        assert run.schedule.updates_per_env_step == 0.125  # the pixel env presets pick cpu_small_pixels
    # reward clipping: off for Boxing and Pong (as in the report), sign-clipping for the large-score games
    want_clip = 1.0 if env.split("_ram")[0] in ("breakout", "video_pinball") else None
    assert run.env.reward_clip == want_clip


@pytest.mark.parametrize("group", ["network", "schedule", "hardware", "logger"])
def test_every_option_of_every_group_composes(group):
    for option in group_options(group):
        if group == "schedule" and option not in VALUE_BASED_SCHEDULES:
            continue  # on-policy schedules are composed with their algorithm
        run = to_run_config(compose_config([f"{group}={option}"]))
        assert run is not None


def test_explicit_network_choice_wins_over_the_env_preset():
    run = to_run_config(compose_config(["env=boxing_ram", "network=mlp_small"]))
    assert run.network.hidden_sizes == [128, 128]


@pytest.mark.parametrize("override,key", [
    ("env.frame_skipp=4", "env.frame_skipp"),
    ("schedule.lr=fast", "schedule.lr"),
    ("algo.double_q=maybe", "algo.double_q"),
    ("hardware.num_envs=2.5", "hardware.num_envs"),
])
def test_unknown_key_or_wrong_type_fails_at_composition_naming_the_key(override, key):
    with pytest.raises(ConfigCompositionException) as info:
        compose_config([override])
    assert key in str(info.value) or key in str(info.value.__cause__)


def test_unknown_group_option_lists_the_known_ones():
    with pytest.raises(Exception) as info:
        compose_config(["algo=dqnn"])
    text = str(info.value)
    assert "dqnn" in text and "dqn" in text.replace("dqnn", "")


@pytest.mark.parametrize("override,key", [
    ("schedule.lr=0", "schedule.lr"),
    ("schedule.lr=-1e-3", "schedule.lr"),
    ("schedule.updates_per_env_step=0", "schedule.updates_per_env_step"),
    ("schedule.batch_size=300000", "schedule.replay_capacity_transitions"),
    ("schedule.warmup_env_steps=8", "schedule.warmup_env_steps"),
    ("algo.polyak_tau=0", "algo.polyak_tau"),
    ("algo.polyak_tau=1.5", "algo.polyak_tau"),
    ("schedule.temperature_start=0", "schedule.temperature_start"),
    ("schedule.temperature_final=-0.1", "schedule.temperature_final"),
    ("algo.backup=softmax", "algo.backup"),
    ("algo.exploration=ucb", "algo.exploration"),
    ("algo.n_step=0", "algo.n_step"),
    ("env=boxing network.conv_channels=[32,64]", "network.conv_channels"),
    ("hardware.env_backend=envpool", "hardware.env_backend"),
    ("hardware.amp=true", "hardware.amp"),
    ("hardware.compile=true hardware.compile_mode=reduce-overhead", "hardware.compile_mode"),  # on the CPU
    ("hardware=cuda hardware.compile_mode=reduce-overhead", "hardware.compile_mode"),  # compile off
    ("hardware=cuda hardware.compile=true hardware.compile_mode=max-autotune", "hardware.compile_mode"),
    ("env.repeat_action_probability=1.0", "env.repeat_action_probability"),
    ("health.max_grad_norm_over_clip=0", "health.max_grad_norm_over_clip"),
])
def test_out_of_range_values_name_key_value_and_what_is_allowed(override, key):
    with pytest.raises(ConfigValueError) as info:
        to_run_config(compose_config(override.split()))
    assert info.value.key == key
    assert "not allowed" in str(info.value) and str(info.value).startswith(key + "=")


@pytest.mark.parametrize("overrides, key", [
    ("algo=sac env=hopper hardware=cuda_amp", "hardware.amp"),
    ("algo=ppo env=hopper hardware=cuda_amp", "hardware.amp"),
    ("algo=ppo env=hopper hardware.overlap_env_steps=true", "hardware.overlap_env_steps"),
    ("algo=sac env=hopper hardware.overlap_env_steps=true", "hardware.overlap_env_steps"),
    ("algo=sac env=hopper hardware=cuda hardware.replay_device=cuda", "hardware.replay_device"),
    ("algo=sac env=hopper hardware.compile=true", "hardware.compile"),
    ("algo=ppo env=hopper hardware=cuda hardware.compile=true hardware.compile_mode=reduce-overhead",
     "hardware.compile_mode"),
    ("algo=ppo env=hopper hardware.cpu_linear=onednn", "hardware.cpu_linear"),
    ("algo=sac env=hopper hardware.cpu_linear=torch", "hardware.cpu_linear"),
])
def test_a_hardware_option_the_algorithm_does_not_implement_is_refused_not_ignored(overrides, key):
    run = to_run_config(compose_config(overrides.split()))
    with pytest.raises(ConfigValueError) as info:
        build.algo_entry(run)
    assert info.value.key == key and f"for algo={run.algo.name}: it does not implement it" in str(info.value)
    for algo in ("dqn", "iqn"):  # the value-based agents implement all six
        value_based = to_run_config(compose_config([f"algo={algo}", "env=boxing", *overrides.split()[2:]]))
        assert build.algo_entry(value_based).traits["hardware"] == ("amp", "overlap_env_steps", "replay_device",
                                                                    "compile", "compile_mode", "cpu_linear")


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_the_host_replay_asks_nothing_of_an_algorithm_without_frames_on_a_device(algo):
    for setting in ("auto", "cpu"):  # auto: the default
        run = to_run_config(compose_config([f"algo={algo}", "env=hopper", f"hardware.replay_device={setting}"]))
        assert build.algo_entry(run) is build.ALGOS.entry(algo)


def test_units_updates_and_steps_are_aggregate_over_envs():
    run = to_run_config(compose_config(["hardware.num_envs=16", "schedule.updates_per_env_step=1.0"]))
    assert isinstance(run.schedule, OffPolicySchedule) and isinstance(run.algo, DQNConfig)
    # documented in the schema: updates_per_env_step counts updates per env step summed over envs
    assert "summed over envs" in OffPolicySchedule.__doc__


@pytest.mark.parametrize("experiment", group_options("experiment"))
def test_every_experiment_composes(experiment):
    run = to_run_config(compose_config([f"experiment={experiment}"]))
    assert run.algo.name in ("dqn", "iqn", "ppo")


def test_boxing_report_experiment_is_the_reports_run():
    run = to_run_config(compose_config(["experiment=boxing_report"]))
    assert (run.algo.exploration, run.algo.backup, run.algo.target_update, run.algo.polyak_tau) == \
        ("boltzmann", "report_soft", "soft", 0.003)
    assert (run.schedule.batch_size, run.schedule.replay_capacity_transitions, run.hardware.amp, run.seed) == \
        (1024, 600_000, True, 42)
