"""FrameReplay against a fake vector env whose every frame is unique, so any misplaced frame shows."""

import sys

import numpy as np
import pytest
import torch

from rlkit.buffers import FrameReplay
from rlkit.buffers.frame_replay import zeros_in_base_pages

STACK = 4


class FakeVecEnv:
    """NEXT_STEP autoreset, zero padding, random terminations and truncations; frames carry ids."""

    def __init__(self, num_envs, seed, p_term=0.05, p_trunc=0.04, frame_shape=(3,), dtype=np.uint8):
        self.rng = np.random.default_rng(seed)
        self.num_envs, self.frame_shape, self.dtype = num_envs, frame_shape, dtype
        self.p_term, self.p_trunc = p_term, p_trunc
        self.counter = 0
        self.stacks = np.zeros((num_envs, STACK, *frame_shape), dtype=dtype)
        self.done = np.zeros(num_envs, dtype=bool)

    def _frame(self):
        self.counter += 1
        value = self.counter % 250 + 1 if self.dtype == np.uint8 else self.counter
        return np.full(self.frame_shape, value, dtype=self.dtype), self.counter

    def reset(self):
        ids = []
        for i in range(self.num_envs):
            frame, fid = self._frame()
            self.stacks[i] = 0
            self.stacks[i, -1] = frame
            ids.append(fid)
        return self.stacks.copy()

    def step(self):
        reward = self.rng.normal(size=self.num_envs).astype(np.float32)
        term = self.rng.random(self.num_envs) < self.p_term
        trunc = (~term) & (self.rng.random(self.num_envs) < self.p_trunc)
        was_done = self.done.copy()
        for i in range(self.num_envs):
            frame, _ = self._frame()
            if was_done[i]:
                self.stacks[i] = 0
                reward[i] = 0.0
                term[i] = trunc[i] = False
            else:
                self.stacks[i, :-1] = self.stacks[i, 1:]
            self.stacks[i, -1] = frame
        self.done = term | trunc
        return self.stacks.copy(), reward, term, trunc, was_done


def _run(buffer, env, steps):
    """Fill the buffer; return the reference transitions {(env, slot-at-write) -> record}."""
    obs = env.reset()
    buffer.start(obs)
    history = {}
    for _ in range(steps):
        actions = env.rng.integers(6, size=env.num_envs)
        slots = buffer.head.copy()
        next_obs, reward, term, trunc, is_reset = env.step()
        buffer.add(actions, reward, term, trunc, next_obs, is_reset)
        for i in range(env.num_envs):
            if not is_reset[i]:
                history[(i, int(slots[i]))] = dict(obs=obs[i].copy(), action=int(actions[i]), reward=float(reward[i]),
                                                   term=bool(term[i]), trunc=bool(trunc[i]), next_obs=next_obs[i].copy())
        obs = next_obs
    return history


def _reference_chain(history, env_id, slot, capacity, n, gamma):
    """Naive n-step return by walking the recorded transitions."""
    total, k, record = 0.0, 0, history[(env_id, slot)]
    cur = slot
    while True:
        record = history[(env_id, cur)]
        total += gamma**k * record["reward"]
        k += 1
        if record["term"]:
            return total, 0.0, record["next_obs"]
        if record["trunc"] or k == n:
            return total, gamma**k, record["next_obs"]
        cur = (cur + 1) % capacity


@pytest.mark.parametrize("n_step", [1, 3])
def test_sampled_transitions_equal_what_the_env_returned_across_resets_truncations_and_wrap(n_step):
    env = FakeVecEnv(num_envs=3, seed=n_step)
    buffer = FrameReplay(3 * 60, 3, (3,), np.uint8, STACK, n_step=n_step, gamma=0.9)
    history = _run(buffer, env, steps=400)  # wraps the 60-slot rings several times
    assert buffer.slots_written[0] > 5 * buffer.capacity_per_env
    batch = buffer.sample(512, np.random.default_rng(0))
    for b in range(512):
        e, s = int(batch.env_ids[b]), int(batch.slots[b])
        record = history[(e, s)]  # the newest write to this slot
        np.testing.assert_array_equal(batch.obs[b], record["obs"])
        assert int(batch.actions[b]) == record["action"]
        ret, disc, next_obs = _reference_chain(history, e, s, buffer.capacity_per_env, n_step, 0.9)
        assert batch.rewards[b] == pytest.approx(ret, abs=1e-5)
        assert batch.discounts[b] == pytest.approx(disc, abs=1e-6)
        np.testing.assert_array_equal(batch.next_obs[b], next_obs)


def test_reset_steps_are_never_transitions_and_terminal_discounts_are_zero():
    env = FakeVecEnv(num_envs=2, seed=7, p_term=0.2, p_trunc=0.0)
    buffer = FrameReplay(2 * 500, 2, (3,), np.uint8, STACK, n_step=1, gamma=0.99)
    _run(buffer, env, steps=300)
    batch = buffer.sample(2000, np.random.default_rng(1))
    # a reset obs has only its newest frame non-zero; a final->reset pair would have next_obs like that
    # while obs is a full stack of the previous episode and discount 0.99
    reset_like = (batch.next_obs[:, :-1] == 0).all(axis=(1, 2)) & (batch.obs[:, -1] != 0).all(axis=1)
    nonterminal = batch.discounts > 0
    first_obs = (batch.obs[:, :-1] == 0).all(axis=(1, 2))
    assert not (reset_like & nonterminal & ~first_obs).any()
    assert np.all(np.isclose(batch.discounts, 0.0) | np.isclose(batch.discounts, 0.99))
    assert (batch.discounts == 0).any()


def test_nothing_from_overwritten_data_is_sampled():
    env = FakeVecEnv(num_envs=1, seed=3, p_term=0.0, p_trunc=0.0, frame_shape=(1,), dtype=np.int64)
    buffer = FrameReplay(50, 1, (1,), np.int64, STACK)
    _run(buffer, env, steps=333)
    batch = buffer.sample(1000, np.random.default_rng(2))
    oldest_live_frame_id = env.counter - buffer.capacity_per_env + 1
    assert batch.obs.min() >= oldest_live_frame_id  # one long episode: no zero padding either
    assert len(buffer) <= buffer.capacity_per_env - 1


def test_dtypes_are_kept():
    env = FakeVecEnv(num_envs=2, seed=0, frame_shape=(4,), dtype=np.float32)
    buffer = FrameReplay(200, 2, (4,), np.float32, STACK, action_dtype=np.int16)
    _run(buffer, env, 50)
    batch = buffer.sample(8, np.random.default_rng(0))
    assert batch.obs.dtype == np.float32 and batch.next_obs.dtype == np.float32
    assert batch.actions.dtype == np.int16 and batch.rewards.dtype == np.float32
    pixels = FrameReplay(64, 1, (84, 84), np.uint8, STACK)
    assert pixels.frames.dtype == np.uint8


def test_pixel_transition_costs_at_most_7_3_kb():
    buffer = FrameReplay(100_000, 16, (84, 84), np.uint8, STACK, action_dtype=np.int16)
    assert buffer.nbytes == FrameReplay.bytes_required(100_000, 16, (84, 84), np.uint8, (), np.int16)
    assert buffer.bytes_per_transition == 7064
    assert buffer.bytes_per_transition <= 7300


def _flags_of_mapping(address: int) -> list[str]:
    """The VmFlags of the memory mapping holding ``address`` ('hg': marked MADV_HUGEPAGE)."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split(maxsplit=1)[0]
            if "-" in head and not head.endswith(":"):
                low, high = (int(bound, 16) for bound in head.split("-"))
                inside = low <= address < high
            elif inside and head == "VmFlags:":
                return line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/smaps")
def test_replay_memory_carries_no_huge_page_hint():
    buffer = FrameReplay(10_000, 4, (84, 84), np.uint8, STACK)  # 70 MB of frames
    numpy_zeros = np.zeros(buffer.frames.shape, dtype=np.uint8)
    inside = 1 << 20  # numpy hints from the first page boundary on, not the array's first page
    if "hg" not in _flags_of_mapping(numpy_zeros.ctypes.data + inside):
        pytest.skip("this numpy gives no huge-page hint: nothing for the replay to avoid")
    assert "hg" not in _flags_of_mapping(buffer.frames.ctypes.data + inside)
    assert not buffer.frames.any() and buffer.frames.flags.writeable and buffer.frames.flags.c_contiguous
    buffer.frames[3, 2_499] = 7
    assert buffer.frames.sum() == 7 * 84 * 84


def test_zeros_in_base_pages_are_zeros_of_the_shape_and_dtype_at_every_size():
    for shape in [(0,), (3, 5), (2, 1 << 20), (4, 1 << 20)]:
        zeros = zeros_in_base_pages(shape, np.float32)
        assert zeros.shape == shape and zeros.dtype == np.float32 and not zeros.any()
        zeros[...] = 1.5
        assert zeros.sum() == 1.5 * zeros.size


def test_start_on_a_filled_buffer_truncates_the_seam():
    env = FakeVecEnv(num_envs=1, seed=5, p_term=0.0, p_trunc=0.0)
    buffer = FrameReplay(400, 1, (3,), np.uint8, STACK, n_step=3, gamma=0.5)
    _run(buffer, env, 30)
    last = int((buffer.head[0] - 1) % buffer.capacity_per_env)
    second_env = FakeVecEnv(num_envs=1, seed=6, p_term=0.0, p_trunc=0.0)
    second_env.counter = 100  # its frames carry values 102..132, the first segment 2..32
    _run(buffer, second_env, 30)  # a resumed run: start() again with a fresh episode
    assert buffer.flags[0, last] & 2  # truncated
    batch = buffer.sample(400, np.random.default_rng(0))
    for offset in range(3):  # the n-step returns of the last 3 transitions stop at the seam
        near = batch.slots == last - offset
        assert near.any()
        assert np.allclose(batch.discounts[near], 0.5 ** (offset + 1))
        assert (batch.next_obs[near] <= 32).all()  # frames of the first segment only (values 2..32)


def test_state_dict_round_trip_gives_identical_samples():
    env = FakeVecEnv(num_envs=2, seed=9)
    buffer = FrameReplay(200, 2, (3,), np.uint8, STACK, n_step=2)
    _run(buffer, env, 150)
    copy = FrameReplay(200, 2, (3,), np.uint8, STACK, n_step=2)
    copy.load_state_dict({k: np.array(v) for k, v in buffer.state_dict().items()})
    a = buffer.sample(64, np.random.default_rng(4))
    b = copy.sample(64, np.random.default_rng(4))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert len(copy) == len(buffer) and copy.num_added_transitions == buffer.num_added_transitions


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


def _filled_replay(frame_shape=(5, 4), stack=4, action_shape=(), action_dtype=np.int16, **devices) -> FrameReplay:
    """A replay of 3 envs after 400 random vector steps (episode ends and reset steps included)."""
    obs_shape = (3, stack, *frame_shape) if stack > 1 else (3, *frame_shape)
    replay = FrameReplay(600, 3, frame_shape, np.uint8, stack, action_shape=action_shape, action_dtype=action_dtype,
                         n_step=3, gamma=0.9, stacked=stack > 1, **devices)
    rng = np.random.default_rng(0)
    replay.start(rng.integers(0, 255, size=obs_shape, dtype=np.uint8))
    for t in range(400):
        obs = rng.integers(0, 255, size=obs_shape, dtype=np.uint8)
        done = rng.random(3) < 0.05
        actions = (rng.integers(6, size=3) if not action_shape
                   else rng.normal(size=(3, *action_shape)).astype(action_dtype))
        replay.add(actions, rng.normal(size=3).astype(np.float32), done & (t % 2 == 0), done & (t % 2 == 1), obs,
                   rng.random(3) < 0.03)
    return replay


@pytest.mark.parametrize("frames_device", DEVICES)
def test_frames_on_a_torch_device_sample_exactly_the_numpy_batches(frames_device):
    """The device replay (torch on the CPU, and on a GPU where there is one) equals the numpy replay
    sample for sample, and its snapshot restores into either."""

    host, device = _filled_replay(), _filled_replay(frames_device=frames_device)
    for seed in range(3):
        a, b = host.sample(64, np.random.default_rng(seed)), device.sample(64, np.random.default_rng(seed))
        assert isinstance(b.obs, torch.Tensor) and b.obs.dtype == torch.uint8
        assert b.obs.device.type == b.next_obs.device.type == frames_device
        assert np.array_equal(a.obs, b.obs.cpu().numpy()) and np.array_equal(a.next_obs, b.next_obs.cpu().numpy())
        for name in ("actions", "rewards", "discounts"):
            host_array, device_tensor = getattr(a, name), getattr(b, name)
            assert isinstance(device_tensor, torch.Tensor) and device_tensor.device.type == frames_device
            assert np.array_equal(host_array, device_tensor.cpu().numpy()), name
    restored = FrameReplay(600, 3, (5, 4), np.uint8, 4, n_step=3, gamma=0.9, frames_device=frames_device)
    restored.load_state_dict(host.state_dict())
    assert torch.equal(restored.frames, device.frames)
    assert device.host_nbytes == host.nbytes - host.frames.nbytes


@pytest.mark.parametrize("batch_device", DEVICES)
@pytest.mark.parametrize("layout", ["pixel stacks", "RAM vectors", "states and continuous actions"])
def test_host_frames_sent_to_a_batch_device_sample_exactly_the_numpy_batches(batch_device, layout):
    """Frames in host memory, batches gathered into the buffer sent to ``batch_device`` (a GPU's
    learner; the CPU runs the same packing): the numpy replay's batches, as tensors there, all
    views of one copy, and a batch unchanged by the samples after it (the buffers are reused)."""
    shapes = {"pixel stacks": {"frame_shape": (5, 4), "stack": 4},
              "RAM vectors": {"frame_shape": (128,), "stack": 1},
              "states and continuous actions": {"frame_shape": (11,), "stack": 1, "action_shape": (3,),
                                                "action_dtype": np.float32}}[layout]
    host, sent = _filled_replay(**shapes), _filled_replay(**shapes, batch_device=batch_device)
    batches = []
    if batch_device == "cuda":
        torch.cuda._sleep(200_000_000)  # the copies queue behind it while the host refills the buffers
    for seed in range(5):
        a, b = host.sample(64, np.random.default_rng(seed)), sent.sample(64, np.random.default_rng(seed))
        batches.append((a, b))
        base = b.obs.untyped_storage().data_ptr()
        for name in ("obs", "actions", "rewards", "discounts", "next_obs"):
            host_array, tensor = getattr(a, name), getattr(b, name)
            assert isinstance(tensor, torch.Tensor) and tensor.device.type == batch_device, name
            assert tensor.untyped_storage().data_ptr() == base, name  # one copy for the whole batch
        np.testing.assert_array_equal(a.env_ids, b.env_ids)
        np.testing.assert_array_equal(a.slots, b.slots)
    for a, b in batches:  # checked after all five samples went through the four buffers
        for name in ("obs", "actions", "rewards", "discounts", "next_obs"):
            host_array, tensor = getattr(a, name), getattr(b, name)
            assert tensor.dtype == torch.from_numpy(host_array).dtype, name
            np.testing.assert_array_equal(host_array, tensor.cpu().numpy(), err_msg=name)


def test_a_batch_device_is_for_frames_in_host_memory():
    with pytest.raises(ValueError, match="batch_device is for frames in host memory"):
        FrameReplay(600, 3, (5, 4), np.uint8, 4, frames_device="cpu", batch_device="cpu")
