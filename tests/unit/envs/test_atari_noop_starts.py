"""No-op starts: how many NOOP frames each backend plays at reset.

The gymnasium backend draws DeepMind's count, uniform on 1..noop_max; ``ale_py``'s C++
``AtariVectorEnv`` draws uniform on 0..noop_max-1 (pinned here, so an ``ale_py`` upgrade that
changes it shows up). A FIRE start counts as one of the frames. The frame count after reset is
``info["episode_frame_number"]`` (Boxing and Breakout do not end within a few frames).
"""

from __future__ import annotations

import numpy as np
import pytest

from rlkit.envs.atari import AtariEnvConfig
from rlkit.envs.atari import build_atari_env, make_single_atari_env


def reset_frame_counts(config: AtariEnvConfig, resets: int) -> np.ndarray:
    """Emulator frames at the end of ``resets`` unseeded resets of one gymnasium-backend env."""
    env = make_single_atari_env(config)
    try:
        env.reset(seed=0)
        return np.array([env.reset()[1]["episode_frame_number"] for _ in range(resets)])
    finally:
        env.close()


@pytest.mark.parametrize("game, fire_reset", [("boxing", False), ("breakout", True)])
@pytest.mark.parametrize("noop_max", [1, 3])
def test_gymnasium_noop_count_is_one_to_noop_max(game, fire_reset, noop_max):
    config = AtariEnvConfig(game=game, noop_max=noop_max, fire_reset=fire_reset, repeat_action_probability=0.0)
    counts = reset_frame_counts(config, 40 * noop_max)
    assert set(counts.tolist()) == set(range(1, noop_max + 1))  # every count drawn, nothing outside
    if noop_max == 3:  # uniform: each count about 40 times in 120 draws
        assert np.bincount(counts, minlength=4)[1:].min() > 20


def test_gymnasium_noop_max_zero_plays_no_noops():
    for game, fire_reset, frames in (("boxing", False, 0), ("breakout", True, 1)):  # FIRE start: 1 frame
        config = AtariEnvConfig(game=game, noop_max=0, fire_reset=fire_reset, repeat_action_probability=0.0)
        assert set(reset_frame_counts(config, 20).tolist()) == {frames}


def test_ale_vector_noop_count_is_zero_to_noop_max_minus_one():
    """The C++ draw (``uniform_int_distribution(0, noop_max - 1)``), as the module docstring says.

    A 1-step frame cap makes every other step a reset step, whose frame count is the no-op count.
    """
    config = AtariEnvConfig(game="boxing", noop_max=3, frame_skip=4, max_episode_frames=4,
                            repeat_action_probability=0.0)
    env = build_atari_env(config, 4, "ale_vector", 1)
    try:
        env.reset(0)
        counts = [env.last_info["episode_frame_number"].copy()]
        for t in range(40):
            res = env.step(np.zeros(4, np.int64))
            if t % 2 == 0:
                assert res.truncated.all()
            else:  # the reset step
                counts.append(env.last_info["episode_frame_number"].copy())
        assert set(np.concatenate(counts).tolist()) == {0, 1, 2}
    finally:
        env.close()
