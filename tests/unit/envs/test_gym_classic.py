"""Classic-control family (CartPole-v1): layout, TimeLimit truncation, NEXT_STEP autoreset, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from rlkit.config import ConfigValueError
from rlkit.envs import ENVS
from rlkit.envs.gym import GymEnvConfig, build_gym_env


def balance(obs: np.ndarray) -> np.ndarray:
    """A linear controller that keeps CartPole up for 500+ steps: obs [E, 4] -> actions [E] int64."""
    x, x_dot, theta, theta_dot = obs.T
    return (theta + 0.3 * theta_dot + 0.02 * x + 0.1 * x_dot > 0).astype(np.int64)


def test_registered():
    assert ENVS.get("gym") is build_gym_env


@pytest.mark.parametrize("backend", ["auto", "gymnasium_sync"])
def test_layout(backend):
    env = build_gym_env(GymEnvConfig(id="CartPole-v1"), 3, backend, 1)
    obs = env.reset(0)
    assert obs.shape == (3, 4) and obs.dtype == np.float32
    assert env.spec.obs_shape == (4,) and env.spec.n_actions == 2 and env.spec.frame_stack == 0
    assert env.spec.obs_dtype == np.float32 and env.spec.is_discrete
    res = env.step(np.array([0, 1, 0]))
    assert res.obs.shape == (3, 4) and res.obs.dtype == np.float32
    assert res.reward.dtype == np.float32 and (res.reward == 1.0).all()
    assert res.terminated.dtype == np.bool_ and res.truncated.dtype == np.bool_
    env.close()


def test_time_limit_is_truncation_then_next_step_reset():
    env = build_gym_env(GymEnvConfig(id="CartPole-v1"), 2, "auto", 1)
    obs = env.reset(0)
    for t in range(1, 501):
        res = env.step(balance(obs))
        obs = res.obs
        assert not res.terminated.any(), f"the controller let the pole fall at step {t}"
        assert res.truncated.all() if t == 500 else not res.truncated.any(), t
    after = env.step(np.array([1, 1]))  # ignored: reset step
    assert (after.reward == 0).all() and not (after.terminated | after.truncated).any()
    assert (np.abs(after.obs) <= 0.05).all()  # CartPole resets to U(-0.05, 0.05)
    env.close()


def test_termination_is_not_truncation():
    env = build_gym_env(GymEnvConfig(id="CartPole-v1"), 2, "auto", 1)
    env.reset(0)
    for _ in range(100):  # always pushing right drops the pole within ~10-40 steps
        res = env.step(np.ones(2, np.int64))
        if res.terminated.any():
            break
    assert res.terminated.any() and not res.truncated.any()
    env.close()


def test_seeding():
    def episode(seed):
        env = build_gym_env(GymEnvConfig(id="CartPole-v1"), 2, "auto", 1)
        frames = [env.reset(seed)] + [env.step(np.array([t % 2, 1 - t % 2])).obs for t in range(20)]
        env.close()
        return np.stack(frames)  # [21, E, 4]

    a, b, c = episode(4), episode(4), episode(5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a[0, 1], c[0, 0])  # sub-env i is seeded with seed + i


def test_async_backend():
    env = build_gym_env(GymEnvConfig(id="CartPole-v1"), 2, "gymnasium_async", 1)
    sync = build_gym_env(GymEnvConfig(id="CartPole-v1"), 2, "gymnasium_sync", 1)
    try:
        np.testing.assert_array_equal(env.reset(1), sync.reset(1))
        for _ in range(5):
            a, s = env.step(np.array([0, 1])), sync.step(np.array([0, 1]))
            np.testing.assert_array_equal(a.obs, s.obs)
    finally:
        env.close()
        sync.close()


def test_ale_vector_backend_is_rejected():
    with pytest.raises(ValueError, match="hardware.env_backend"):
        build_gym_env(GymEnvConfig(id="CartPole-v1"), 2, "ale_vector", 1)


def test_process_workers_ignore_ctrl_c_and_the_main_process_keeps_its_handler():
    import signal

    import psutil

    before = signal.getsignal(signal.SIGINT)
    env = build_gym_env(GymEnvConfig(id="CartPole-v1"), 2, "gymnasium_async", 1)
    try:
        assert signal.getsignal(signal.SIGINT) is before  # gymnasium calls one env_fn here, for the spaces
        env.reset(0)
        for worker in psutil.Process().children():
            worker.send_signal(signal.SIGINT)  # a terminal's Ctrl-C reaches the workers too
        for _ in range(3):
            env.step(np.array([0, 1]))  # they ignored it
    finally:
        env.close()


USER_ENV_MODULE = '''
import gymnasium as gym
import numpy as np

class Drift(gym.Env):
    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.full(2, float(action), np.float32), 1.0, False, False, {}

gym.register("rlkit_user_env_test/Drift-v0", entry_point=Drift, max_episode_steps=5)
'''


@pytest.mark.parametrize("backend", ["gymnasium_sync", "gymnasium_async"])
def test_a_users_own_env_by_module_and_id(tmp_path, monkeypatch, backend):
    (tmp_path / "user_drift_env.py").write_text(USER_ENV_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    env = build_gym_env(GymEnvConfig(id="user_drift_env:rlkit_user_env_test/Drift-v0"), 2, backend, 1)
    try:
        assert env.spec.n_actions == 3 and env.spec.obs_shape == (2,)
        env.reset(0)
        step = env.step(np.array([1, 2]))
        assert step.obs.tolist() == [[1.0, 1.0], [2.0, 2.0]] and step.reward.tolist() == [1.0, 1.0]
    finally:
        env.close()


def test_a_module_that_cannot_be_imported_or_registers_nothing_is_refused_naming_env_id(tmp_path, monkeypatch):
    with pytest.raises(ConfigValueError, match=r"env.id='no_such_module_xyz:Drift-v0'.*ModuleNotFoundError"):
        build_gym_env(GymEnvConfig(id="no_such_module_xyz:Drift-v0"), 1, "auto", 1)
    (tmp_path / "empty_user_module.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigValueError, match=r"env.id='empty_user_module:Nothing-v0'.*registered gymnasium id"):
        build_gym_env(GymEnvConfig(id="empty_user_module:Nothing-v0"), 1, "auto", 1)
