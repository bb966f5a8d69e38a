"""The replay rebuilds exactly the stacks the default Atari backend (ale-py AtariVectorEnv) returned,
across resets (NEXT_STEP), truncations and the ring's wrap."""

import numpy as np

from rlkit.buffers import FrameReplay
from rlkit.envs.atari import AtariEnvConfig
from rlkit.envs import ENVS


def test_replay_stacks_equal_ale_vector_stacks():
    config = AtariEnvConfig(game="boxing", max_episode_frames=160)  # truncation every 40 steps
    env = ENVS.get("atari")(config, num_envs=2, backend="auto", env_threads=2)
    assert type(env).__name__ == "AtariVectorBackend"
    replay = FrameReplay(2 * 64, 2, (84, 84), np.uint8, 4, n_step=2, gamma=0.9)
    rng = np.random.default_rng(0)
    obs = env.reset(seed=1)
    replay.start(obs)
    is_reset = np.zeros(2, dtype=bool)
    truth = {}
    truncations = 0
    for _ in range(300):  # ~7 episodes per env, the 64-slot rings wrap 4 times
        slots = replay.head.copy()
        actions = rng.integers(18, size=2).astype(np.int64)
        result = env.step(actions)
        replay.add(actions, result.reward, result.terminated, result.truncated, result.obs, is_reset)
        for i in np.flatnonzero(~is_reset):
            truth[(i, int(slots[i]))] = (obs[i].copy(), result.obs[i].copy(), bool(result.truncated[i]))
        truncations += int(result.truncated.sum())
        is_reset = result.terminated | result.truncated
        obs = result.obs
    env.close()
    assert truncations >= 10
    batch = replay.sample(256, np.random.default_rng(1))
    checked_truncated = 0
    for b in range(256):
        stack, next_stack, truncated = truth[(int(batch.env_ids[b]), int(batch.slots[b]))]
        np.testing.assert_array_equal(batch.obs[b], stack)
        if truncated:  # a 1-step return here: the bootstrap stack is the env's final observation
            np.testing.assert_array_equal(batch.next_obs[b], next_stack)
            assert np.isclose(batch.discounts[b], 0.9)
            checked_truncated += 1
    assert checked_truncated >= 1
    assert ((batch.obs[:, :3] == 0).all(axis=(1, 2, 3))).any()  # some episode-start stacks (zero padded)
