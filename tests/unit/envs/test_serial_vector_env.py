"""SerialVectorEnv returns what gymnasium's SyncVectorEnv (NEXT_STEP autoreset) returns, step for step."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from rlkit.envs.base import SerialVectorEnv


@pytest.mark.parametrize("env_id, steps", [("CartPole-v1", 300), ("Pendulum-v1", 450), ("Hopper-v5", 300)])
def test_serial_vector_env_equals_gymnasium_sync_vector_env(env_id, steps):
    fns = [functools.partial(gym.make, env_id)] * 3
    ours, theirs = SerialVectorEnv(fns, obs_dtype=np.float32), SyncVectorEnv(fns, autoreset_mode=AutoresetMode.NEXT_STEP)
    try:
        theirs_obs, _ = theirs.reset(seed=7)
        np.testing.assert_array_equal(ours.reset(7), theirs_obs.astype(np.float32))
        space, rng = theirs.single_action_space, np.random.default_rng(0)
        ends = 0
        for _ in range(steps):
            if isinstance(space, gym.spaces.Discrete):
                actions = rng.integers(space.n, size=3)
            else:  # a little outside the bounds too, as an unclipped policy sample would be
                actions = rng.uniform(space.low * 1.2, space.high * 1.2, size=(3, *space.shape)).astype(np.float32)
            mine = ours.step(actions)
            obs, reward, terminated, truncated, info = theirs.step(actions)
            np.testing.assert_array_equal(mine.obs, obs.astype(np.float32))
            assert mine.obs.dtype == np.float32 and mine.reward.dtype == np.float32
            np.testing.assert_array_equal(mine.reward, reward.astype(np.float32))
            np.testing.assert_array_equal(mine.terminated, terminated)
            np.testing.assert_array_equal(mine.truncated, truncated)
            np.testing.assert_array_equal(mine.episode_end, terminated | truncated)  # no episode inside another
            ends += int((terminated | truncated).sum())
        assert ends >= 3  # episodes did end and the next steps were NEXT_STEP resets
    finally:
        ours.close()
        theirs.close()


def test_a_fresh_obs_array_each_step_and_merged_info_on_demand():
    env = SerialVectorEnv([functools.partial(gym.make, "CartPole-v1")] * 2)
    first = env.reset(0)
    second = env.step(np.array([0, 1])).obs
    assert first is not second and not np.shares_memory(first, second)
    assert env.last_info == {}  # CartPole reports no info keys
    env.close()
    assert env.closed
