"""Frame-cap truncation: the final observation is pooled from the last two frames of the last step.

Checked against a reference replay on a bare ``ALEInterface`` (Boxing, no sticky actions, so the
game is deterministic): every frame of the rollout is recorded, and each agent step's newest
obs frame must be ``resize(max(frame[k*fs - 1], frame[k*fs]))``, the truncation step included.
Caps that are and are not a multiple of ``frame_skip``: the step that reaches the cap runs to
its end (see the module docstring of ``rlkit.envs.atari``).
"""

from __future__ import annotations

import math

import ale_py
import numpy as np
import pytest
from ale_py import roms

from rlkit.envs.atari import AtariEnvConfig
from rlkit.envs.atari import AreaResize, build_atari_env

PIXEL_BACKENDS = ["ale_vector", "gymnasium_sync"]
CASES = [(4, 100), (4, 102), (3, 100), (3, 99)]  # (frame_skip, max_episode_frames)
NUM_ENVS, SEED = 2, 5


def reference_frames(actions: np.ndarray, frame_skip: int) -> np.ndarray:
    """Grayscale screens ``[1 + T*fs, 210, 160]`` of Boxing on a bare ALE: reset, then ``actions [T]``."""
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.setFloat("repeat_action_probability", 0.0)
    ale.setInt("random_seed", SEED)
    ale.loadROM(roms.get_rom_path("boxing"))
    ale.reset_game()
    action_set = ale.getMinimalActionSet()
    frames = [ale.getScreenGrayscale()]
    for a in actions:
        for _ in range(frame_skip):
            ale.act(action_set[a])
            frames.append(ale.getScreenGrayscale())
    return np.stack(frames)


def play(backend: str, frame_skip: int, cap: int, actions: np.ndarray):
    config = AtariEnvConfig(game="boxing", frame_skip=frame_skip, max_episode_frames=cap,
                            repeat_action_probability=0.0, noop_max=0)
    env = build_atari_env(config, NUM_ENVS, backend, 1)
    try:
        first = env.reset(SEED)
        results, frames = [], []
        for a in actions:
            results.append(env.step(a))
            frames.append(np.array(env.last_info["episode_frame_number"]))
        return first, results, frames
    finally:
        env.close()


@pytest.mark.parametrize("frame_skip, cap", CASES)
@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_truncation_obs_pools_the_last_two_frames(backend, frame_skip, cap):
    steps = math.ceil(cap / frame_skip)  # the step that reaches the cap runs all its frames
    actions = np.repeat(np.random.default_rng(0).integers(0, 18, size=(steps, 1)), NUM_ENVS, axis=1)
    ref = reference_frames(actions[:, 0], frame_skip)
    resize = AreaResize((210, 160), (84, 84))
    first, results, frames = play(backend, frame_skip, cap, actions)
    np.testing.assert_array_equal(first[:, -1], np.broadcast_to(resize(ref[0]), (NUM_ENVS, 84, 84)))
    for k, res in enumerate(results, start=1):
        last = k * frame_skip
        expected = resize(np.maximum(ref[last - 1], ref[last]))  # [84, 84]
        for i in range(NUM_ENVS):
            np.testing.assert_array_equal(res.obs[i, -1], expected, err_msg=f"step {k}, env {i}")
        assert (frames[k - 1] == last).all(), (k, frames[k - 1])
        assert not res.terminated.any()
        assert res.truncated.all() == (k == steps) and res.truncated.any() == (k == steps), k


@pytest.mark.parametrize("frame_skip, cap", CASES)
def test_backends_agree_at_and_after_truncation(frame_skip, cap):
    """Same obs, rewards and flags on both backends, sticky actions on, over three capped episodes."""
    steps = 3 * (math.ceil(cap / frame_skip) + 1)  # + 1: each episode's NEXT_STEP reset step
    actions = np.random.default_rng(1).integers(0, 18, size=(steps, NUM_ENVS))
    config = dict(game="boxing", frame_skip=frame_skip, max_episode_frames=cap, repeat_action_probability=0.25,
                  noop_max=0)
    runs = {}
    for backend in PIXEL_BACKENDS:
        env = build_atari_env(AtariEnvConfig(**config), NUM_ENVS, backend, 1)
        try:
            runs[backend] = [env.reset(SEED)] + [tuple(env.step(a)) for a in actions]
        finally:
            env.close()
    a, g = runs["ale_vector"], runs["gymnasium_sync"]
    np.testing.assert_array_equal(a[0], g[0])
    truncations = 0
    for t in range(1, steps + 1):
        for field, x, y in zip(("obs", "reward", "terminated", "truncated"), a[t], g[t]):
            assert x.dtype == y.dtype, (t, field)
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}: {field} differs")
        truncations += int(a[t][3].sum())
    assert truncations == 3 * NUM_ENVS
