"""FrameReplay against a fake NEXT_STEP vector env whose every frame encodes (sub-env, frame id).

Every sampled transition is decoded back to the observation it was taken in and compared with
what the fake env returned at that time (stacks, action, n-step return, discount, next stack),
so a misplaced frame, a missing zero pad, a crossed episode end or a stale slot shows.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest

from rlkit.buffers import FrameReplay, ReplayBatch


def encode_frame(env_id: int, frame_id: int, frame_shape: tuple[int, ...], dtype) -> np.ndarray:
    """A frame carrying (env_id, frame_id >= 1); never all zeros, so it differs from padding."""
    flat = np.zeros(int(np.prod(frame_shape)), dtype=dtype)  # [F]
    if np.dtype(dtype).itemsize == 1:
        flat[:4] = [env_id, frame_id >> 16, (frame_id >> 8) & 255, frame_id & 255]
    else:
        flat[:2] = [env_id, frame_id]
    flat[4:] = (np.arange(4, flat.size) * 7 + frame_id) % 97  # more content, so shifted rows show
    return flat.reshape(frame_shape)


def decode_ids(frames: np.ndarray) -> np.ndarray:
    """frames [B, *F] -> [B, 2] int64 (env, frame id); zero padding decodes to frame id 0."""
    flat = frames.reshape(len(frames), -1).astype(np.int64)  # [B, F]
    if frames.dtype.itemsize == 1:
        return np.stack([flat[:, 0], (flat[:, 1] << 16) | (flat[:, 2] << 8) | flat[:, 3]], axis=1)
    return flat[:, :2].copy()


class FakeVecEnv:
    """NEXT_STEP autoreset, zero padding before an episode's first frame, random terminations and
    truncations. Frame ids count up per sub-env from first_frame_id and are never reused."""

    def __init__(self, num_envs: int, frame_shape, dtype, frame_stack: int, seed: int, p_term: float = 0.05,
                 p_trunc: float = 0.04, first_frame_id: int = 1) -> None:
        self.num_envs, self.frame_shape, self.dtype, self.frame_stack = num_envs, tuple(frame_shape), dtype, frame_stack
        self.rng = np.random.default_rng(seed)
        self.p_term, self.p_trunc = p_term, p_trunc
        self.next_frame_id = np.full(num_envs, first_frame_id, dtype=np.int64)  # [E]
        self.stacks = np.zeros((num_envs, frame_stack, *self.frame_shape), dtype=dtype)  # [E, S, *F]
        self.newest_id = np.zeros(num_envs, dtype=np.int64)  # [E]
        self.episode_over = np.zeros(num_envs, dtype=bool)  # [E] last step ended the episode

    def _push(self, env_id: int, fresh_episode: bool) -> None:
        frame_id = int(self.next_frame_id[env_id])
        self.next_frame_id[env_id] += 1
        if fresh_episode:
            self.stacks[env_id] = 0
        else:
            self.stacks[env_id, :-1] = self.stacks[env_id, 1:]
        self.stacks[env_id, -1] = encode_frame(env_id, frame_id, self.frame_shape, self.dtype)
        self.newest_id[env_id] = frame_id

    def reset(self) -> np.ndarray:
        for env_id in range(self.num_envs):
            self._push(env_id, fresh_episode=True)
        self.episode_over[:] = False
        return self.stacks.copy()

    def step(self):
        rewards = self.rng.normal(size=self.num_envs).astype(np.float32)  # [E]
        terminated = self.rng.random(self.num_envs) < self.p_term  # [E]
        truncated = ~terminated & (self.rng.random(self.num_envs) < self.p_trunc)  # [E]
        is_reset_step = self.episode_over.copy()  # [E]
        rewards[is_reset_step] = 0.0
        terminated[is_reset_step] = truncated[is_reset_step] = False
        for env_id in range(self.num_envs):
            self._push(env_id, fresh_episode=bool(is_reset_step[env_id]))
        self.episode_over = terminated | truncated
        return self.stacks.copy(), rewards, terminated, truncated, is_reset_step


class Reference:
    """What the env returned, keyed by (env, frame id of the obs' newest frame)."""

    def __init__(self) -> None:
        self.stacks: dict[tuple[int, int], np.ndarray] = {}  # (env, frame id) -> [S, *F]
        self.transitions: dict[tuple[int, int], dict] = {}  # (env, obs frame id) -> action, reward, flags, next id
        self.written: dict[int, list[int]] = {}  # env -> frame ids in the order they took buffer slots
        self.final_obs: set[tuple[int, int]] = set()  # obs followed by a reset step
        self.reset_obs: set[tuple[int, int]] = set()  # obs returned by a reset step
        self.last_transition: dict[int, tuple[int, int]] = {}  # env -> key of its newest transition

    def observe(self, env_id: int, frame_id: int, stack: np.ndarray) -> None:
        self.stacks[(env_id, frame_id)] = stack.copy()
        self.written.setdefault(env_id, []).append(frame_id)

    def samplable(self, capacity_per_env: int, n_step: int) -> set[tuple[int, int]]:
        """Transitions whose stack lies in the ring's intact slots and whose n-step horizon is recorded."""
        keys = set()
        for env_id, ids in self.written.items():
            intact = set(ids[-capacity_per_env:])
            for frame_id in intact:
                key = (env_id, frame_id)
                if key not in self.transitions:
                    continue
                stack_ids = decode_ids(self.stacks[key])[:, 1]
                stack_ids = stack_ids[stack_ids > 0].tolist()
                if not set(stack_ids) <= intact or self.chain(key, n_step) is None:
                    continue
                keys.add(key)
        return keys

    def chain(self, key: tuple[int, int], n_step: int, gamma: float = 0.9):
        """Naive n-step return from key: (return, discount, next obs key), or None if not recorded yet."""
        total, current = 0.0, key
        for k in range(n_step):
            record = self.transitions.get(current)
            if record is None:
                return None
            total += gamma**k * record["reward"]
            next_key = (current[0], record["next_id"])
            if record["terminated"]:
                return total, 0.0, next_key
            if record["truncated"]:
                return total, gamma ** (k + 1), next_key
            current = next_key
        return total, gamma**n_step, current


def drive(buffer: FrameReplay, env: FakeVecEnv, steps: int, ref: Reference, action_shape=()) -> None:
    """start(obs) then `steps` vector steps, recording everything the env returned."""
    if buffer.head[0] >= 0:  # a resumed run: the buffer cuts the last open transition at the seam
        for env_id, key in ref.last_transition.items():
            record = ref.transitions[key]
            record["truncated"] = record["truncated"] or not record["terminated"]
    obs = env.reset()
    buffer.start(obs)
    for env_id in range(env.num_envs):
        ref.observe(env_id, int(env.newest_id[env_id]), obs[env_id])
    for _ in range(steps):
        obs_ids = env.newest_id.copy()  # [E]
        if action_shape:
            actions = env.rng.normal(size=(env.num_envs, *action_shape)).astype(np.float32)  # [E, A]
        else:
            actions = env.rng.integers(18, size=env.num_envs)  # [E]
        next_obs, rewards, terminated, truncated, is_reset_step = env.step()
        buffer.add(actions, rewards, terminated, truncated, next_obs, is_reset_step)
        for env_id in range(env.num_envs):
            next_key = (env_id, int(env.newest_id[env_id]))
            ref.observe(*next_key, next_obs[env_id])
            key = (env_id, int(obs_ids[env_id]))
            if is_reset_step[env_id]:
                ref.final_obs.add(key)
                ref.reset_obs.add(next_key)
                continue
            ref.transitions[key] = dict(action=actions[env_id].copy(), reward=float(rewards[env_id]),
                                        terminated=bool(terminated[env_id]), truncated=bool(truncated[env_id]),
                                        next_id=next_key[1])
            ref.last_transition[env_id] = key


def check_batch(batch: ReplayBatch, ref: Reference, n_step: int, gamma: float = 0.9) -> list[tuple[int, int]]:
    """Every sampled transition equals what the env returned; returns the sampled keys [B]."""
    ids = decode_ids(batch.obs[:, -1])  # [B, 2]
    np.testing.assert_array_equal(ids[:, 0], batch.env_ids)
    unique_ids, inverse = np.unique(ids, axis=0, return_inverse=True)  # [U, 2], [B]
    unique_keys = [(int(e), int(f)) for e, f in unique_ids]
    for key in unique_keys:
        assert key in ref.transitions, f"{key} holds no transition (final obs or open head) but was sampled"
    chains = [ref.chain(key, n_step, gamma) for key in unique_keys]
    assert all(c is not None for c in chains), "a transition whose n-step horizon is not written was sampled"
    inverse = inverse.reshape(-1)
    np.testing.assert_array_equal(batch.obs, np.stack([ref.stacks[k] for k in unique_keys])[inverse])
    np.testing.assert_array_equal(batch.actions,
                                  np.stack([ref.transitions[k]["action"] for k in unique_keys])[inverse])
    np.testing.assert_allclose(batch.rewards, np.array([c[0] for c in chains])[inverse], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch.discounts, np.array([c[1] for c in chains])[inverse], rtol=1e-6)
    np.testing.assert_array_equal(batch.next_obs, np.stack([ref.stacks[c[2]] for c in chains])[inverse])
    return [unique_keys[i] for i in inverse]


@pytest.mark.parametrize("n_step", [1, 3])
def test_sampled_transitions_equal_the_env_stacks_and_naive_returns_across_resets_and_wrap(n_step):
    env = FakeVecEnv(4, (6,), np.uint8, frame_stack=4, seed=10 + n_step)
    buffer = FrameReplay(4 * 40, 4, (6,), np.uint8, 4, n_step=n_step, gamma=0.9)
    ref = Reference()
    drive(buffer, env, 500, ref)
    assert buffer.slots_written.min() > 10 * buffer.capacity_per_env  # the rings wrapped many times
    assert any(r["terminated"] for r in ref.transitions.values()) and any(r["truncated"] for r in ref.transitions.values())
    stored = sum((e, f) in ref.transitions for e, ids in ref.written.items() for f in ids[-buffer.capacity_per_env:])
    assert len(buffer) == stored < buffer.num_added_transitions == len(ref.transitions)
    batch = buffer.sample(6000, np.random.default_rng(n_step))
    keys = check_batch(batch, ref, n_step)
    expected = ref.samplable(buffer.capacity_per_env, n_step)
    assert set(keys) == expected  # nothing outside the samplable set, and every samplable one drawn
    counts = np.unique(np.array(keys), axis=0, return_counts=True)[1]
    assert counts.min() > 0.4 * counts.mean() and counts.max() < 2.0 * counts.mean()  # uniform
    # the n-step horizon of the newest transitions is not written yet: they wait
    if n_step > 1:
        newest = {(e, ids[-2]) for e, ids in ref.written.items() if (e, ids[-2]) in ref.transitions}
        open_newest = {k for k in newest if not (ref.transitions[k]["terminated"] or ref.transitions[k]["truncated"])}
        assert not open_newest & set(keys)


def test_reset_step_is_never_sampled_as_a_transition():
    env = FakeVecEnv(3, (4,), np.int32, frame_stack=4, seed=3, p_term=0.15, p_trunc=0.1)
    buffer = FrameReplay(3 * 100, 3, (4,), np.int32, 4, n_step=1, gamma=0.9)
    ref = Reference()
    drive(buffer, env, 90, ref)
    assert len(ref.final_obs) > 10
    batch = buffer.sample(3000, np.random.default_rng(0))
    keys = check_batch(batch, ref, 1)
    obs_keys = set(keys)
    next_keys = {(int(e), int(f)) for e, f in decode_ids(batch.next_obs[:, -1])}
    assert not obs_keys & ref.final_obs  # a final obs has no transition (its next step is the reset step)
    assert not next_keys & ref.reset_obs  # no final obs -> reset obs pair
    assert len(buffer) == len(ref.transitions) == buffer.num_added_transitions  # nothing overwritten yet
    assert (batch.discounts == 0).any() and np.isclose(batch.discounts, 0.9).any()


def test_after_wrap_no_stack_contains_overwritten_frames():
    # one endless episode (steps_since_start saturates at 255) in a 30-slot ring, then short episodes
    env = FakeVecEnv(2, (4,), np.int32, frame_stack=4, seed=4, p_term=0.0, p_trunc=0.0)
    buffer = FrameReplay(2 * 30, 2, (4,), np.int32, 4, n_step=2, gamma=0.9)
    ref = Reference()
    drive(buffer, env, 300, ref)
    assert buffer.steps_since_start.max() == 255
    for round_ in range(2):
        batch = buffer.sample(2000, np.random.default_rng(round_))
        check_batch(batch, ref, 2)
        for env_id in range(2):
            oldest_intact = ref.written[env_id][-buffer.capacity_per_env]
            mine = batch.env_ids == env_id
            frame_ids = decode_ids(np.concatenate([batch.obs[mine], batch.next_obs[mine]]).reshape(-1, 4))[:, 1]
            assert frame_ids[frame_ids > 0].min() >= oldest_intact  # zero padding decodes to 0
            if round_ == 0:  # in the endless episode the oldest intact slots' stacks need overwritten frames
                drawn = set(decode_ids(batch.obs[mine, -1])[:, 1].tolist())
                assert not drawn & {oldest_intact, oldest_intact + 1, oldest_intact + 2}
                assert oldest_intact + 3 in drawn
        stored = sum((e, f) in ref.transitions for e, ids in ref.written.items() for f in ids[-buffer.capacity_per_env:])
        assert len(buffer) == stored
        env.p_term, env.p_trunc = 0.1, 0.1
        for _ in range(45):  # overwrite the whole ring again with short episodes
            drive_steps(buffer, env, ref)


def drive_steps(buffer: FrameReplay, env: FakeVecEnv, ref: Reference) -> None:
    """One more vector step after `drive`, recorded the same way."""
    obs_ids = env.newest_id.copy()
    actions = env.rng.integers(18, size=env.num_envs)
    next_obs, rewards, terminated, truncated, is_reset_step = env.step()
    buffer.add(actions, rewards, terminated, truncated, next_obs, is_reset_step)
    for env_id in range(env.num_envs):
        next_key = (env_id, int(env.newest_id[env_id]))
        ref.observe(*next_key, next_obs[env_id])
        if not is_reset_step[env_id]:
            ref.transitions[(env_id, int(obs_ids[env_id]))] = dict(
                action=actions[env_id], reward=float(rewards[env_id]), terminated=bool(terminated[env_id]),
                truncated=bool(truncated[env_id]), next_id=next_key[1])


def test_dtypes_are_kept_for_pixels_and_cartpole_like_frames():
    env = FakeVecEnv(2, (84, 84), np.uint8, frame_stack=4, seed=5)
    pixels = FrameReplay(2 * 24, 2, (84, 84), np.uint8, 4, n_step=3)
    ref = Reference()
    drive(pixels, env, 40, ref)
    batch = pixels.sample(32, np.random.default_rng(0))
    check_batch(batch, ref, 3, gamma=0.99)
    assert batch.obs.dtype == np.uint8 and batch.next_obs.dtype == np.uint8 and batch.actions.dtype == np.int16
    assert batch.rewards.dtype == np.float32 and batch.discounts.dtype == np.float32
    assert batch.env_ids.dtype == np.int64 and batch.slots.dtype == np.int64

    env = FakeVecEnv(3, (4,), np.float32, frame_stack=1, seed=6)  # CartPole-like [E, 1, 4], continuous actions
    cartpole = FrameReplay(3 * 50, 3, (4,), np.float32, 1, action_shape=(2,), action_dtype=np.float32, n_step=1)
    ref = Reference()
    drive(cartpole, env, 120, ref, action_shape=(2,))
    batch = cartpole.sample(256, np.random.default_rng(1))
    check_batch(batch, ref, 1, gamma=0.99)
    assert batch.obs.dtype == np.float32 and batch.obs.shape == (256, 1, 4)
    assert batch.actions.dtype == np.float32 and batch.actions.shape == (256, 2)


def test_bytes_per_pixel_transition_and_bytes_required_are_exact():
    buffer = FrameReplay(100_000, 16, (84, 84), np.uint8, 4, action_dtype=np.int16)  # 18 actions -> int16
    actual = sum(a.nbytes for a in (buffer.frames, buffer.actions, buffer.rewards, buffer.flags,
                                    buffer.steps_since_start))
    assert actual == FrameReplay.bytes_required(100_000, 16, (84, 84), np.uint8, (), np.int16)
    assert buffer.bytes_per_transition <= 7300
    assert buffer.bytes_per_transition == 84 * 84 + 2 + 4 + 1 + 1  # 7064
    other = FrameReplay(1003, 7, (4,), np.float32, 1, action_shape=(3,), action_dtype=np.float32)
    assert other.nbytes == FrameReplay.bytes_required(1003, 7, (4,), np.float32, (3,), np.float32) == 143 * 7 * 34


def test_start_on_a_buffer_with_data_truncates_the_seam():
    env = FakeVecEnv(2, (4,), np.int32, frame_stack=4, seed=7, p_term=0.0, p_trunc=0.0)
    buffer = FrameReplay(2 * 200, 2, (4,), np.int32, 4, n_step=3, gamma=0.9)
    ref = Reference()
    drive(buffer, env, 30, ref)
    last_before = dict(ref.last_transition)
    resumed = FakeVecEnv(2, (4,), np.int32, frame_stack=4, seed=8, p_term=0.0, p_trunc=0.0, first_frame_id=1000)
    drive(buffer, resumed, 30, ref)  # start(obs) again: a resumed run with fresh episodes
    batch = buffer.sample(3000, np.random.default_rng(0))
    keys = check_batch(batch, ref, 3)  # the reference marks the seam truncated
    obs_ids = np.array([k[1] for k in keys])
    next_ids = decode_ids(batch.next_obs[:, -1])[:, 1]
    assert ((obs_ids < 1000) == (next_ids < 1000)).all()  # no return crosses the seam
    assert (decode_ids(batch.next_obs[obs_ids < 1000].reshape(-1, 4))[:, 1] < 1000).all()
    for env_id, (_, frame_id) in last_before.items():
        for back in range(3):  # the last 3 transitions before the seam return 1, 2, 3 rewards
            near = (batch.env_ids == env_id) & (obs_ids == frame_id - back)
            assert near.any()
            np.testing.assert_allclose(batch.discounts[near], 0.9 ** (back + 1), rtol=1e-6)
    new_first = (batch.obs[:, :-1] == 0).all(axis=(1, 2)) & (obs_ids >= 1000)
    assert new_first.any()  # the new segment starts zero padded


def test_state_dict_round_trip_through_npz_gives_identical_samples():
    env = FakeVecEnv(3, (4,), np.uint8, frame_stack=4, seed=9)
    buffer = FrameReplay(3 * 40, 3, (4,), np.uint8, 4, n_step=2, gamma=0.9)
    ref = Reference()
    drive(buffer, env, 150, ref)
    saved = io.BytesIO()
    np.savez(saved, **buffer.state_dict())  # as the checkpoint writes it
    saved.seek(0)
    copy = FrameReplay(3 * 40, 3, (4,), np.uint8, 4, n_step=2, gamma=0.9)
    with np.load(saved) as snapshot:
        copy.load_state_dict(dict(snapshot))
    assert len(copy) == len(buffer) and copy.num_added_transitions == buffer.num_added_transitions
    for seed in range(2):
        for a, b in zip(buffer.sample(64, np.random.default_rng(seed)), copy.sample(64, np.random.default_rng(seed))):
            np.testing.assert_array_equal(a, b)
        step = env.step()  # both continue identically (heads, counters restored)
        for replay in (buffer, copy):
            replay.add(np.zeros(3, dtype=np.int64), step[1], step[2], step[3], step[0], step[4])
    with pytest.raises(ValueError):
        FrameReplay(3 * 41, 3, (4,), np.uint8, 4).load_state_dict(buffer.state_dict())


def test_add_before_start_and_wrong_shapes_are_refused():
    buffer = FrameReplay(40, 2, (4,), np.uint8, 4)
    obs = np.zeros((2, 4, 4), dtype=np.uint8)
    no = np.zeros(2, dtype=bool)
    with pytest.raises(RuntimeError):
        buffer.add(np.zeros(2), np.zeros(2), no, no, obs, no)
    with pytest.raises(ValueError):
        buffer.start(np.zeros((2, 3, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        buffer.sample(1, np.random.default_rng(0))  # empty


@pytest.mark.skipif(not os.environ.get("RLKIT_BENCH"), reason="timing only: RLKIT_BENCH=1 pytest -s")
def test_print_sample_time_pixels_100k():
    """Prints (does not assert) the time of sample(256) from a full 100k 84x84 stack-4 buffer."""
    num_envs = 16
    buffer = FrameReplay(100_000, num_envs, (84, 84), np.uint8, 4, n_step=3)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 255, size=(num_envs, 4, 84, 84), dtype=np.uint8)
    buffer.start(obs)
    episode_over = np.zeros(num_envs, dtype=bool)
    for _ in range(buffer.capacity_per_env + 100):
        terminated = ~episode_over & (rng.random(num_envs) < 0.003)
        obs[:, -1] = rng.integers(0, 255, size=(num_envs, 84), dtype=np.uint8)[:, :, None]
        buffer.add(rng.integers(18, size=num_envs), rng.normal(size=num_envs).astype(np.float32), terminated,
                   np.zeros(num_envs, dtype=bool), obs, episode_over)
        episode_over = terminated
    for batch_size in (32, 256):
        buffer.sample(batch_size, rng)
        seconds = []
        for _ in range(30):
            begin = time.perf_counter()
            buffer.sample(batch_size, rng)
            seconds.append(time.perf_counter() - begin)
        print(f"\nFrameReplay.sample({batch_size}) stack 4 84x84, 100k buffer: median"
              f" {1e3 * np.median(seconds):.2f} ms, min {1e3 * min(seconds):.2f} ms")
