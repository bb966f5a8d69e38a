"""MuJoCo family: layout, action clipping at the env, truncation vs termination, NEXT_STEP reset, backends."""

from __future__ import annotations

import numpy as np
import pytest

from rlkit.envs import ENVS
from rlkit.envs.gym import GymEnvConfig, build_gym_env


def test_registered_and_layout():
    assert ENVS.get("gym") is build_gym_env
    env = build_gym_env(GymEnvConfig(id="Hopper-v5"), 2, "auto", 1)
    obs = env.reset(0)
    assert obs.shape == (2, 11) and obs.dtype == np.float32
    spec = env.spec
    assert spec.obs_shape == (11,) and not spec.is_discrete and spec.action_shape == (3,)
    assert spec.action_low.tolist() == [-1.0] * 3 and spec.action_high.tolist() == [1.0] * 3
    res = env.step(np.zeros((2, 3), np.float32))
    assert res.obs.shape == (2, 11) and res.reward.dtype == np.float32 and res.terminated.dtype == np.bool_
    env.close()


def test_actions_are_clipped_to_the_bounds():
    config = GymEnvConfig(id="Hopper-v5")
    a, b = build_gym_env(config, 1, "auto", 1), build_gym_env(config, 1, "auto", 1)
    a.reset(3), b.reset(3)
    big = np.array([[5.0, -7.0, 0.3]], np.float32)
    ra, rb = a.step(big), b.step(np.clip(big, -1, 1))
    np.testing.assert_array_equal(ra.obs, rb.obs)
    assert ra.reward[0] == rb.reward[0]  # the control cost is paid on the clipped action
    a.close(), b.close()


def test_time_limit_is_truncation_then_next_step_reset():
    env = build_gym_env(GymEnvConfig(id="HalfCheetah-v5", max_episode_steps=5), 2, "auto", 1)
    env.reset(0)
    for t in range(1, 6):
        res = env.step(np.zeros((2, 6), np.float32))
        assert not res.terminated.any() and res.truncated.all() == (t == 5), t
    final = res.obs
    after = env.step(np.ones((2, 6), np.float32))  # ignored: the reset step
    assert (after.reward == 0).all() and not (after.terminated | after.truncated).any()
    assert not np.allclose(after.obs, final)
    env.close()


def test_falling_is_termination():
    env = build_gym_env(GymEnvConfig(id="InvertedPendulum-v5"), 1, "auto", 1)
    env.reset(0)
    for _ in range(200):
        res = env.step(np.array([[3.0]], np.float32))  # push one way: the pole falls
        if res.terminated[0]:
            break
    assert res.terminated[0] and not res.truncated[0]
    env.close()


def test_ale_vector_backend_refused():
    with pytest.raises(ValueError, match="ale_vector"):
        build_gym_env(GymEnvConfig(id="Hopper-v5"), 1, "ale_vector", 1)


def test_async_backend_matches_sync():
    config = GymEnvConfig(id="InvertedPendulum-v5")
    sync, asyn = build_gym_env(config, 2, "gymnasium_sync", 1), build_gym_env(config, 2, "gymnasium_async", 1)
    np.testing.assert_array_equal(sync.reset(7), asyn.reset(7))
    actions = np.array([[0.5], [-0.5]], np.float32)
    for _ in range(3):
        s, a = sync.step(actions), asyn.step(actions)
        np.testing.assert_array_equal(s.obs, a.obs)
    sync.close(), asyn.close()
