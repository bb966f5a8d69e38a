"""Atari env family: settings reach the ALE, layout and episode semantics, backends agree.

Envs here are small (2-4 sub-envs, Boxing/Breakout, a few hundred steps): each test runs in a
few seconds on 2 CPU cores. Loading a ROM costs ~0.1 s per sub-env and seeded reset.
"""

from __future__ import annotations

import inspect
import time

import numpy as np
import pytest

from rlkit.envs.atari import AtariEnvConfig
from rlkit.envs import ENVS
from rlkit.envs.atari import (
    AreaResize,
    AtariVectorBackend,
    GymnasiumAtariBackend,
    build_atari_env,
    gymnasium_id,
    resolve_backend,
)

PIXEL_BACKENDS = ["ale_vector", "gymnasium_sync"]


def make(backend: str, num_envs: int = 2, threads: int = 1, **overrides):
    cfg = dict(game="boxing")
    cfg.update(overrides)
    return build_atari_env(AtariEnvConfig(**cfg), num_envs, backend, threads)


def rollout(env, actions: np.ndarray, seed: int = 0):
    """Reset with ``seed`` and play ``actions [T, E]``; returns the reset obs and the T StepResults."""
    first = env.reset(seed)
    return first, [env.step(a) for a in actions]


def random_actions(n_actions: int, steps: int, num_envs: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_actions, size=(steps, num_envs))


# ------------------------------------------------------------------------------ construction


def test_registered_and_backend_resolution():
    assert ENVS.get("atari") is build_atari_env
    assert resolve_backend(AtariEnvConfig(game="boxing"), "auto") == "ale_vector"
    assert resolve_backend(AtariEnvConfig(game="boxing", obs_type="ram"), "auto") == "gymnasium_sync"
    assert gymnasium_id("boxing") == "ALE/Boxing-v5"
    assert gymnasium_id("video_pinball") == "ALE/VideoPinball-v5"
    env = make("auto", obs_type="ram", frame_stack=1)
    try:
        assert isinstance(env, GymnasiumAtariBackend)
        assert env.spec.env_id == "ALE/Boxing-v5 (ram)"
    finally:
        env.close()


def test_ale_vector_rejects_ram_naming_the_keys():
    with pytest.raises(ValueError) as err:
        make("ale_vector", obs_type="ram", frame_stack=1)
    message = str(err.value)
    assert "hardware.env_backend" in message and "env.obs_type" in message
    assert "gymnasium_sync" in message  # says what is allowed
    with pytest.raises(ValueError, match="hardware.env_backend"):
        make("no_such_backend")


def test_unknown_game_is_a_config_error():
    with pytest.raises(ValueError, match="env.game"):
        make("gymnasium_sync", game="not_a_game")


def test_every_atari_vector_env_setting_is_explicit():
    from ale_py.vector_env import AtariVectorEnv

    cfg = AtariEnvConfig(game="boxing", frame_skip=3, repeat_action_probability=0.1, frame_stack=2,
                         screen_size=64, max_pool=False, noop_max=7, max_episode_frames=999,
                         episodic_life=True, fire_reset=True, full_action_space=True)
    env = AtariVectorBackend(cfg, num_envs=2, num_threads=1)
    try:
        tunable = set(inspect.signature(AtariVectorEnv.__init__).parameters) - {
            "self", "thread_affinity_offset", "continuous_action_threshold"}
        assert tunable <= set(env.settings), f"left at AtariVectorEnv defaults: {tunable - set(env.settings)}"
        s = env.settings
        assert s["reward_clipping"] is False
        assert (s["frameskip"], s["repeat_action_probability"], s["stack_num"]) == (3, 0.1, 2)
        assert (s["img_height"], s["img_width"], s["maxpool"], s["noop_max"]) == (64, 64, False, 7)
        assert s["use_fire_reset"] is True
        # episodic life and the frame cap are the backend's own (the C++ versions differ); see AtariVectorBackend
        assert (s["episodic_life"], s["life_loss_info"], s["max_num_frames_per_episode"]) == (False, False, 999 + 2 * 3)
        assert (env.episodic_life, env.max_episode_frames) == (True, 999)
        assert s["full_action_space"] is True and s["grayscale"] is True
        assert env.spec.n_actions == 18 and env.spec.frames_per_env_step == 3
        assert env.reset(0).shape == (2, 2, 64, 64)
    finally:
        env.close()


@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_settings_reach_the_emulator(backend):
    # frame skip: emulator frames per agent step
    env = make(backend, frame_skip=3)
    env.reset(0)
    for t in range(1, 6):
        env.step(np.zeros(2, np.int64))
        assert (env.last_info["episode_frame_number"] == 3 * t).all()
    env.close()
    # no-op starts: random frame counts at reset (0 without them); FIRE start: one frame
    env = make(backend, num_envs=4, noop_max=30)
    env.reset(0)
    assert len(set(env.last_info["episode_frame_number"].tolist())) > 1
    env.close()
    env = make(backend, game="breakout", fire_reset=True)
    env.reset(0)
    assert (env.last_info["episode_frame_number"] == 1).all()
    env.close()
    # action set: minimal vs full
    for full, n in ((False, 4), (True, 18)):
        env = make(backend, game="breakout", full_action_space=full)
        assert env.spec.n_actions == n
        env.close()


@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_max_pool_takes_the_brighter_of_the_last_two_frames(backend):
    actions = random_actions(18, 40, 2)
    _, pooled = rollout(make(backend, repeat_action_probability=0.0, max_pool=True), actions)
    _, plain = rollout(make(backend, repeat_action_probability=0.0, max_pool=False), actions)
    a = np.stack([r.obs[:, -1] for r in pooled])  # [T, E, 84, 84]
    b = np.stack([r.obs[:, -1] for r in plain])
    assert (a >= b).all()  # area resizing is monotone, so max-then-resize >= resize
    assert (a > b).any()  # Boxing moves between frames: pooling changes something


@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_rewards_are_raw_not_clipped(backend):
    # Boxing scores 2 for a long-range punch; clipping would turn it into 1.
    env = make(backend, num_envs=4, repeat_action_probability=0.0)
    _, results = rollout(env, random_actions(18, 250, 4))
    rewards = np.stack([r.reward for r in results])
    assert rewards.dtype == np.float32
    assert np.abs(rewards).max() == 2.0


# ------------------------------------------------------------------------- layout, semantics


@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_obs_layout_zero_padding_and_newest_last(backend):
    env = make(backend)
    obs = env.reset(0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    assert env.spec.obs_shape == (4, 84, 84) and env.spec.obs_dtype == np.uint8
    assert (obs[:, :3] == 0).all() and (obs[:, 3] > 0).any(axis=(1, 2)).all()
    prev = obs
    for _ in range(5):
        res = env.step(np.ones(2, np.int64))
        assert res.obs.shape == (2, 4, 84, 84) and res.obs.dtype == np.uint8
        assert res.reward.dtype == np.float32 and res.reward.shape == (2,)
        assert res.terminated.dtype == np.bool_ and res.truncated.dtype == np.bool_
        np.testing.assert_array_equal(res.obs[:, :3], prev[:, 1:])  # shifted left, new frame appended
        prev = res.obs
    assert (prev[:, :3] > 0).any()  # padding has been pushed out by real frames
    env.close()


@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_truncation_and_next_step_autoreset(backend):
    env = make(backend, max_episode_frames=40, repeat_action_probability=0.0)  # 10 agent steps
    first = env.reset(0)
    for t in range(1, 11):
        res = env.step(np.full(2, 3, np.int64))
        done = res.terminated | res.truncated
        assert done.all() if t == 10 else not done.any(), t
    assert res.truncated.all() and not res.terminated.any()  # the frame cap truncates
    # the step after the end ignores the action and returns the reset obs, reward 0, no flags
    after = env.step(np.array([5, 7], np.int64))
    assert (after.reward == 0).all() and not after.terminated.any() and not after.truncated.any()
    assert (after.obs[:, :3] == 0).all()
    np.testing.assert_array_equal(after.obs, first)  # Boxing's reset screen (no sticky actions)
    again = env.step(np.full(2, 3, np.int64))  # a fresh episode: counts from 0 again
    assert not (again.terminated | again.truncated).any()
    assert (env.last_info["episode_frame_number"] == 4).all()
    env.close()


@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_seeding_is_deterministic_and_sticky_actions_split_sub_envs(backend):
    actions = np.repeat(random_actions(18, 50, 1), 2, axis=1)  # [T, 2]: every sub-env gets the same actions

    def frames(seed, sticky):
        first, results = rollout(make(backend, num_envs=2, repeat_action_probability=sticky), actions, seed)
        return np.stack([first] + [r.obs for r in results])  # [T+1, E, 4, 84, 84]

    a, b, c = frames(5, 0.25), frames(5, 0.25), frames(6, 0.25)
    np.testing.assert_array_equal(a, b)  # same seed, same actions -> same episode
    assert not np.array_equal(a, c)  # another seed -> other sticky-action draws
    assert not np.array_equal(a[:, 0], a[:, 1])  # sub-envs are seeded seed+i: they diverge
    deterministic = frames(5, 0.0)
    np.testing.assert_array_equal(deterministic[:, 0], deterministic[:, 1])  # no sticky: identical


# --------------------------------------------------------------------------- backends agree


@pytest.mark.parametrize(
    "overrides",
    [
        dict(game="boxing", repeat_action_probability=0.0, noop_max=0, max_episode_frames=400),
        dict(game="boxing", repeat_action_probability=0.25, noop_max=0, max_episode_frames=400),
        dict(game="breakout", repeat_action_probability=0.0, frame_skip=3, max_pool=False, fire_reset=True,
             episodic_life=True, max_episode_frames=600, frame_stack=2, screen_size=64),
    ],
    ids=["boxing", "boxing-sticky", "breakout-lives"],
)
def test_backends_agree_pixel_for_pixel(overrides):
    """ale_vector and gymnasium_sync: identical obs, rewards and flags step by step.

    Same frames exactly (tolerance 0): the gymnasium backend mirrors the C++ env's frame skip,
    max-pool, OpenCV INTER_AREA resize and ALE seeding. Covers truncation (frame cap), game over
    and life loss, and the NEXT_STEP reset steps that follow them.
    """
    steps, n = 230, 3
    ale, gym_env = make("ale_vector", n, **overrides), make("gymnasium_sync", n, **overrides)
    assert ale.spec == gym_env.spec
    actions = random_actions(ale.spec.n_actions, steps, n, seed=1)
    first_a, res_a = rollout(ale, actions, seed=11)
    first_g, res_g = rollout(gym_env, actions, seed=11)
    np.testing.assert_array_equal(first_a, first_g)
    assert first_a.dtype == first_g.dtype == np.uint8
    ends = {"terminated": 0, "truncated": 0}
    for t, (a, g) in enumerate(zip(res_a, res_g)):
        for field in a._fields:
            x, y = getattr(a, field), getattr(g, field)
            assert x.dtype == y.dtype and x.shape == y.shape, (t, field)
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}: {field} differs")
        ends["terminated"] += int(a.terminated.sum())
        ends["truncated"] += int(a.truncated.sum())
    if overrides["game"] == "boxing":  # 400 frames = 100 steps: truncated, never terminated
        assert ends == {"terminated": 0, "truncated": 2 * n}
        assert all(r.truncated.all() for r in (res_a[99], res_a[200]))  # step 101 is the reset step
    else:  # Breakout with episodic life: episodes end on life losses
        assert ends["terminated"] > 0
    ale.close()
    gym_env.close()


def test_async_backend_matches_sync():
    overrides = dict(repeat_action_probability=0.25, max_episode_frames=80)
    sync = make("gymnasium_sync", **overrides)
    asyn = make("gymnasium_async", **overrides)
    try:
        actions = random_actions(18, 30, 2)
        first_s, res_s = rollout(sync, actions, seed=3)
        first_a, res_a = rollout(asyn, actions, seed=3)
        np.testing.assert_array_equal(first_s, first_a)
        for s, a in zip(res_s, res_a):
            for x, y in zip(s, a):
                np.testing.assert_array_equal(x, y)
    finally:
        sync.close()
        asyn.close()


def test_area_resize_is_an_average():
    resize = AreaResize((210, 160), (84, 84))
    flat = np.full((210, 160), 137, np.uint8)
    np.testing.assert_array_equal(resize(flat), np.full((84, 84), 137, np.uint8))
    img = np.random.default_rng(0).integers(0, 256, (210, 160)).astype(np.uint8)
    out = resize(img)
    assert out.shape == (84, 84) and out.dtype == np.uint8
    assert abs(float(out.mean()) - float(img.mean())) < 1.0


# ------------------------------------------------------------------------------------------ RAM


@pytest.mark.parametrize("frame_skip", [2, 4])
def test_ram_obs_and_frame_skip(frame_skip):
    env = make("auto", obs_type="ram", frame_stack=1, frame_skip=frame_skip, max_episode_frames=10 * frame_skip)
    obs = env.reset(0)
    assert obs.shape == (2, 1, 128) and obs.dtype == np.uint8 and env.spec.obs_shape == (1, 128)
    assert env.spec.frames_per_env_step == frame_skip
    for t in range(1, 11):
        res = env.step(np.zeros(2, np.int64))
        assert res.obs.shape == (2, 1, 128) and res.obs.dtype == np.uint8
        assert (env.last_info["episode_frame_number"] == frame_skip * t).all()
    assert res.truncated.all() and not res.terminated.any()  # 10 steps x frame_skip frames
    after = env.step(np.zeros(2, np.int64))
    assert (after.reward == 0).all() and not (after.terminated | after.truncated).any()
    np.testing.assert_array_equal(after.obs, obs)  # Boxing's reset RAM
    env.close()


def test_ram_frame_stack_pads_with_zeros():
    env = make("gymnasium_sync", obs_type="ram", frame_stack=4)
    obs = env.reset(0)
    assert obs.shape == (2, 4, 128) and (obs[:, :3] == 0).all() and (obs[:, 3] > 0).any()
    res = env.step(np.zeros(2, np.int64))
    np.testing.assert_array_equal(res.obs[:, :3], obs[:, 1:])
    env.close()


# ------------------------------------------------------------------------------- throughput


def test_print_env_throughput():
    """Env-only agent steps/s, 2 Boxing envs per backend over ~0.2 s (printed with -s; no assert).

    The numbers in the env layer's report come from a longer run of 16 envs (~3 s each).
    """
    for backend, obs_type in (("ale_vector", "pixels"), ("gymnasium_sync", "pixels"), ("gymnasium_sync", "ram")):
        env = make(backend, obs_type=obs_type, frame_stack=4 if obs_type == "pixels" else 1)
        env.reset(0)
        actions = random_actions(18, 10_000, 2)
        start, k = time.perf_counter(), 0
        while time.perf_counter() - start < 0.2:
            env.step(actions[k])
            k += 1
        rate = k * 2 / (time.perf_counter() - start)
        print(f"{backend} {obs_type}: {rate:.0f} agent steps/s (2 envs)")
        env.close()
