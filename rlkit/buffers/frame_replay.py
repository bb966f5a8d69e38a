"""Replay for vector envs that stores each frame once and rebuilds stacks at sample time.

One ring per sub-env, ``capacity_per_env = capacity_transitions // num_envs`` slots each. Every
env step output gets one slot holding its newest frame; the slot of the observation an action
was taken in also holds that action, its reward and the episode-end flags, and is marked valid.
With NEXT_STEP autoreset the slot holding an episode's final observation stays invalid (the
next step is the reset step, not a transition) and the reset observation starts a new slot
with ``steps_since_start = 0``. Stacks are rebuilt from the ``frame_stack`` newest slots, with
zero frames before the episode's first observation, exactly as the envs return them.

Per slot: the frame, the action, a float32 reward, one flag byte and one steps-since-start
byte: 7,064 B for an 84x84 uint8 frame and an int16 action. A slot that holds no transition
(an episode's final observation, the newest observation) costs the same, so the number of
transitions held is a little below ``capacity_transitions``.

With ``frames_device`` the frames live in a torch tensor on that device (a GPU: sampling gathers
and zero-pads the stacks there, and a batch comes back as device tensors ready for the network);
the small per-slot bookkeeping stays in numpy on the host, so the sampled indices, and hence the
batches, are the same as the numpy replay's for the same random generator. The indices and a
batch's small arrays reach the device in one copy per sample (``HostToDevice``).

With the frames in host memory and ``batch_device`` a GPU (a learner there), a batch is gathered
straight into a reused pinned buffer, its small arrays beside it, and reaches the GPU in one
asynchronous copy: the stacks are written once on the host instead of gathered, pinned apart (a
second full copy) and sent array by array.
"""

from __future__ import annotations

import math
import mmap
import sys
from typing import NamedTuple

import numpy as np
import torch

from rlkit.buffers.host_to_device import HostToDevice

TERMINATED = np.uint8(1)  # flag bits
TRUNCATED = np.uint8(2)
VALID = np.uint8(4)  # the slot starts a real transition
MAX_STEPS_SINCE_START = 255  # steps_since_start is uint8 and saturates here
MAX_SAMPLING_ROUNDS = 1000


HUGE_PAGE_HINT_BYTES = 1 << 22  # numpy asks the kernel for transparent huge pages from this size on


def zeros_in_base_pages(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Zeros, paged in by the first write, under the system's own huge-page policy.

    numpy marks every array of 4 MiB or more MADV_HUGEPAGE. A replay's first pass then faults its
    memory in 2 MiB at a time: with the kernel's default ``defrag=madvise`` each fault may compact
    memory and zeroes 2 MiB, and on a VM the host backs the whole huge page at once, so the writes
    of the first pass stall unevenly and cost more in all than base pages do. Sampling gains a
    little from huge pages (fewer TLB misses in its scattered gathers), a small part of an update's
    time. An anonymous private mapping carries no hint: the kernel uses huge pages only where the
    system says ``always``.
    """
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    if sys.platform != "linux" or count * dtype.itemsize < HUGE_PAGE_HINT_BYTES:
        return np.zeros(shape, dtype=dtype)  # numpy gives no hint here
    memory = mmap.mmap(-1, count * dtype.itemsize, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(memory, dtype=dtype, count=count).reshape(shape)


def _numpy_dtype(array: np.ndarray | torch.Tensor) -> np.dtype:
    return array.dtype if isinstance(array, np.ndarray) else torch.empty(0, dtype=array.dtype).numpy().dtype


class ReplayBatch(NamedTuple):
    # obs to discounts: tensors on the frames' device when the frames live on a device, or on
    # batch_device when the replay was given one
    obs: np.ndarray | torch.Tensor  # [B, stack, *frame] frame dtype ([B, *frame] without a stack axis)
    actions: np.ndarray | torch.Tensor  # [B, *action_shape] action dtype
    rewards: np.ndarray | torch.Tensor  # [B] float32, n-step discounted sum cut at episode ends
    discounts: np.ndarray | torch.Tensor  # [B] float32, gamma^k (k rewards summed), 0 if the k-th step terminated
    next_obs: np.ndarray | torch.Tensor  # [B, stack, *frame], the stack k steps later
    env_ids: np.ndarray  # [B] int64, sub-env of each transition
    slots: np.ndarray  # [B] int64, ring slot of each transition's obs


class FrameReplay:
    """Frame-deduplicated n-step replay; see the module docstring for the slot layout.

    Public state (read-only for callers): ``head`` [E] is the slot holding each sub-env's newest
    frame (the obs the next action is taken in), -1 before ``start``; ``slots_written`` [E] counts
    slots ever written per sub-env (the ring has wrapped once it exceeds ``capacity_per_env``).
    """

    @staticmethod
    def min_slots_per_env(frame_stack: int, n_step: int) -> int:
        """The fewest slots an env's ring can have: a stack, its n-step successor and a spare."""
        return frame_stack + n_step + 2

    def __init__(self, capacity_transitions: int, num_envs: int, frame_shape: tuple[int, ...], frame_dtype,
                 frame_stack: int, action_shape: tuple[int, ...] = (), action_dtype=np.int16, n_step: int = 1,
                 gamma: float = 0.99, stacked: bool = True, frames_device: torch.device | str | None = None,
                 batch_device: torch.device | str | None = None) -> None:
        if num_envs < 1 or n_step < 1:
            raise ValueError(f"need num_envs >= 1 and n_step >= 1, got {num_envs} and {n_step}")
        if not 1 <= frame_stack <= MAX_STEPS_SINCE_START + 1:
            raise ValueError(f"frame_stack must be in 1..{MAX_STEPS_SINCE_START + 1}, got {frame_stack}")
        if not stacked and frame_stack != 1:
            raise ValueError(f"observations without a stack axis need frame_stack 1, got {frame_stack}")
        self.stacked = stacked  # observations carry a stack axis ([E, stack, *frame]) or are one frame ([E, *frame])
        self.num_envs = num_envs
        self.capacity_per_env = capacity_transitions // num_envs
        if self.capacity_per_env < self.min_slots_per_env(frame_stack, n_step):
            raise ValueError(f"replay capacity {capacity_transitions} over {num_envs} envs leaves"
                             f" {self.capacity_per_env} slots per env; need >= frame_stack + n_step + 2")
        self.frame_shape = tuple(frame_shape)
        self.action_shape = tuple(action_shape)
        self.frame_stack = frame_stack
        self.n_step = n_step
        self.gamma = float(gamma)
        shape = (num_envs, self.capacity_per_env)
        self.frames_device = None if frames_device is None else torch.device(frames_device)
        if self.frames_device is None:
            self.frames = zeros_in_base_pages(shape + self.frame_shape, frame_dtype)  # [E, C, *frame]
        else:
            torch_dtype = torch.from_numpy(np.zeros(0, dtype=frame_dtype)).dtype
            self.frames = torch.zeros(shape + self.frame_shape, dtype=torch_dtype, device=self.frames_device)
        self.actions = zeros_in_base_pages(shape + self.action_shape, action_dtype)  # [E, C, *action]
        self.rewards = zeros_in_base_pages(shape, np.float32)  # [E, C] reward of the step taken from this slot
        self.flags = zeros_in_base_pages(shape, np.uint8)  # [E, C] TERMINATED | TRUNCATED | VALID bits
        self.steps_since_start = zeros_in_base_pages(shape, np.uint8)  # [E, C] env steps since the episode's first obs
        self.head = np.full(num_envs, -1, dtype=np.int64)  # [E] slot of the newest frame, -1 = nothing yet
        self.slots_written = np.zeros(num_envs, dtype=np.int64)  # [E] slots ever written
        self._num_valid = 0  # valid slots currently held
        self._num_added_transitions = 0  # valid slots ever written
        self._env_index = np.arange(num_envs)  # [E]
        self._env_index_on_device = (None if self.frames_device is None
                                     else torch.arange(num_envs, device=self.frames_device))  # [E]
        # the host-side indices and batch arrays reach the frames' device a group per copy
        self._to_device = None if self.frames_device is None else HostToDevice(self.frames_device)
        # frames on the host, batches for a device: each batch gathered into a buffer sent whole (the
        # host samples ahead of the GPU until a buffer's last copy is still pending)
        if batch_device is not None and self.frames_device is not None:
            raise ValueError("batch_device is for frames in host memory; with frames_device the batches "
                             "come on the frames' device")
        self._batch_to_device = None if batch_device is None else HostToDevice(batch_device)

    # ------------------------------------------------------------------------------ sizes

    @staticmethod
    def bytes_required(capacity_transitions: int, num_envs: int, frame_shape: tuple[int, ...], frame_dtype,
                       action_shape: tuple[int, ...] = (), action_dtype=np.int16) -> int:
        """Exact bytes of all per-slot arrays of a buffer built with these arguments."""
        slots = (capacity_transitions // num_envs) * num_envs
        per_slot = (math.prod(frame_shape) * np.dtype(frame_dtype).itemsize
                    + math.prod(action_shape) * np.dtype(action_dtype).itemsize
                    + np.dtype(np.float32).itemsize + 1 + 1)  # reward, flags, steps_since_start
        return slots * per_slot

    @property
    def nbytes(self) -> int:
        """Bytes of the per-slot arrays actually allocated."""
        return sum(a.nbytes for a in (self.frames, self.actions, self.rewards, self.flags, self.steps_since_start))

    @property
    def host_nbytes(self) -> int:
        """Bytes held in host memory (all of them unless the frames live on a device)."""
        return self.nbytes - (self.frames.nbytes if self.frames_device is not None else 0)

    @property
    def batch_device(self) -> torch.device | None:
        """Where batches of host frames are sent whole (None: numpy batches, or the frames' device)."""
        return None if self._batch_to_device is None else self._batch_to_device.device

    @property
    def bytes_per_transition(self) -> float:
        """Bytes per slot (one slot per stored transition)."""
        return self.nbytes / (self.num_envs * self.capacity_per_env)

    def __len__(self) -> int:
        """Valid transitions currently stored (some may not be samplable yet, e.g. open n-step horizons)."""
        return self._num_valid

    @property
    def num_added_transitions(self) -> int:
        """Valid transitions ever added, overwritten ones included."""
        return self._num_added_transitions

    # ------------------------------------------------------------------------------ writing

    def _advance(self, newest_frames: np.ndarray, steps_since_start: np.ndarray) -> None:
        """Write one new slot per env: newest_frames [E, *frame], steps_since_start [E] uint8."""
        slot = (self.head + 1) % self.capacity_per_env  # [E]
        self._num_valid -= int(np.count_nonzero(self.flags[self._env_index, slot] & VALID))
        self.flags[self._env_index, slot] = 0
        if self.frames_device is None:
            self.frames[self._env_index, slot] = newest_frames
        else:
            slot_on_device, frames_on_device = self._to_device.put(slot, newest_frames)
            self.frames[self._env_index_on_device, slot_on_device] = frames_on_device
        self.steps_since_start[self._env_index, slot] = steps_since_start
        self.head = slot
        self.slots_written += 1

    def start(self, obs: np.ndarray) -> None:
        """Begin a new episode segment in every sub-env with its first obs [E, stack, *frame] (or [E, *frame]).

        A sub-env that already holds data (a resumed run) gets its last transition marked
        truncated, so no stack or n-step return crosses the seam.
        """
        self._check_obs(obs)
        has_data = self.head >= 0  # [E]
        envs = self._env_index[has_data]  # [D]
        last = (self.head[has_data] - 1) % self.capacity_per_env  # [D] slot of the last transition
        last_flags = self.flags[envs, last]  # [D]
        open_end = (last_flags & VALID).astype(bool) & ~(last_flags & (TERMINATED | TRUNCATED)).astype(bool)  # [D]
        self.flags[envs[open_end], last[open_end]] |= TRUNCATED
        self._advance(self._newest_frames(obs), np.zeros(self.num_envs, dtype=np.uint8))

    def add(self, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
            next_obs: np.ndarray, is_reset_step: np.ndarray) -> None:
        """Record one vector step.

        actions [E] or [E, act_dim]; rewards [E] (stored as given: the caller clips); terminated,
        truncated, is_reset_step [E] bool; next_obs [E, stack, *frame] as the env returned it.
        is_reset_step marks the NEXT_STEP autoreset step of a sub-env whose previous step ended an
        episode: it is not a transition, only its reset observation is kept.
        """
        if (self.head < 0).any():
            raise RuntimeError("FrameReplay.add before start(obs)")
        self._check_obs(next_obs)
        is_reset_step = np.asarray(is_reset_step, dtype=bool)  # [E]
        live = ~is_reset_step  # [E] envs whose step is a transition
        envs, slots = self._env_index[live], self.head[live]  # [L], [L]
        self.actions[envs, slots] = np.asarray(actions)[live]
        self.rewards[envs, slots] = np.asarray(rewards)[live]
        self.flags[envs, slots] = (VALID | np.where(np.asarray(terminated, dtype=bool)[live], TERMINATED, 0)
                                   | np.where(np.asarray(truncated, dtype=bool)[live], TRUNCATED, 0)).astype(np.uint8)
        self._num_valid += len(envs)
        self._num_added_transitions += len(envs)
        previous = self.steps_since_start[self._env_index, self.head].astype(np.int64)  # [E]
        following = np.where(live, np.minimum(previous + 1, MAX_STEPS_SINCE_START), 0).astype(np.uint8)  # [E]
        self._advance(self._newest_frames(next_obs), following)

    def _newest_frames(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, -1] if self.stacked else obs  # [E, *frame]

    def _check_obs(self, obs: np.ndarray) -> None:
        expected = (self.num_envs, self.frame_stack, *self.frame_shape) if self.stacked else (self.num_envs,
                                                                                            *self.frame_shape)
        if tuple(obs.shape) != expected:
            raise ValueError(f"FrameReplay expects obs {list(expected)}, got {list(obs.shape)}")

    # ----------------------------------------------------------------------------- sampling

    def _stack_index(self, envs: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For stacks ending at (envs, slots) [B]: their slots [B, S], oldest first, and which of
        those fall before the episode's first obs [B, S] bool (zero frames)."""
        back = np.arange(self.frame_stack - 1, -1, -1)  # [S] slots back from the newest, oldest first
        index = (slots[:, None] - back[None, :]) % self.capacity_per_env  # [B, S]
        before_start = back[None, :] > self.steps_since_start[envs, slots][:, None]  # [B, S]
        return index, before_start

    def _candidates(self, envs: np.ndarray, slots: np.ndarray):
        """For candidate starts (envs, slots) [M]: samplable [M] bool, n-step rewards [M] float64,
        discounts [M] float64 and bootstrap slots [M] (the slot of next_obs' newest frame)."""
        ok = (self.flags[envs, slots] & VALID).astype(bool)  # [M]
        rewards = np.zeros(len(envs), dtype=np.float64)  # [M]
        steps = np.zeros(len(envs), dtype=np.int64)  # [M] rewards summed so far (k)
        open_ = ok.copy()  # [M] the return is still accumulating
        terminated = np.zeros(len(envs), dtype=bool)  # [M]
        for j in range(self.n_step):
            slot = (slots + j) % self.capacity_per_env  # [M]
            flags = self.flags[envs, slot]  # [M]
            ok &= ~open_ | (flags & VALID).astype(bool)  # horizon not written yet: not samplable
            open_ &= ok
            rewards += np.where(open_, self.gamma**j * self.rewards[envs, slot], 0.0)
            steps += open_
            terminated |= open_ & (flags & TERMINATED).astype(bool)
            open_ &= ~(flags & (TERMINATED | TRUNCATED)).astype(bool)
        wrapped = self.slots_written[envs] > self.capacity_per_env  # [M]
        oldest = np.where(wrapped, (self.head[envs] + 1) % self.capacity_per_env, 0)  # [M] oldest intact slot
        history = (slots - oldest) % self.capacity_per_env  # [M] intact slots before this one
        needed = np.minimum(self.frame_stack - 1, self.steps_since_start[envs, slots])  # [M] frames back in the stack
        ok &= history >= needed
        discounts = np.where(terminated, 0.0, self.gamma**steps)  # [M]
        return ok, rewards, discounts, (slots + steps) % self.capacity_per_env

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """batch_size transitions uniform over the samplable ones, with replacement.

        Rejection sampling of flat slot indices in vectorized rounds; a round draws enough
        candidates for the current fraction of valid slots. obs and next_obs are fresh arrays
        (two halves of one allocation), never views of the ring.
        """
        if self._num_valid == 0:
            raise ValueError("cannot sample from an empty replay")
        filled_per_env = int(min(self.slots_written.max(), self.capacity_per_env))  # slots 0..filled-1 hold data
        filled = filled_per_env * self.num_envs
        valid_fraction = self._num_valid / filled
        parts: list[tuple[np.ndarray, ...]] = []
        have = 0
        for _ in range(MAX_SAMPLING_ROUNDS):
            missing = batch_size - have
            draw = max(int(1.25 * missing / valid_fraction) + 16, 32)
            flat = rng.integers(filled, size=draw)  # [M]
            envs, slots = flat // filled_per_env, flat % filled_per_env  # [M], [M]
            ok, rewards, discounts, boot = self._candidates(envs, slots)
            take = np.flatnonzero(ok)[:missing]  # [T]
            parts.append((envs[take], slots[take], rewards[take], discounts[take], boot[take]))
            have += len(take)
            if have == batch_size:
                break
        else:
            raise ValueError("replay holds no samplable transition yet (warm-up too short for n_step?)")
        envs, slots, rewards, discounts, boot = (np.concatenate(x) for x in zip(*parts))  # [B] each
        actions = self.actions[envs, slots]  # [B, *action]
        rewards, discounts = rewards.astype(np.float32), discounts.astype(np.float32)  # [B] each
        # one gather for obs and next_obs: one allocation instead of two (fewer page faults)
        stack_envs = np.concatenate([envs, envs])[:, None]  # [2B, 1]
        index, before_start = self._stack_index(stack_envs[:, 0], np.concatenate([slots, boot]))  # [2B, S] each
        if self._batch_to_device is not None:  # gathered into the buffer that is sent; small arrays beside it
            staged = self._batch_to_device.stage((index.shape + self.frame_shape, self.frames.dtype),
                                                 (actions.shape, actions.dtype), (rewards.shape, rewards.dtype),
                                                 (discounts.shape, discounts.dtype))
            stacks, *small = staged.host
            flat_frames = self.frames.reshape(-1, *self.frame_shape)  # [E*C, *frame] (a view)
            # (mode clip: numpy buffers the output of the default mode; the indices are in range)
            np.take(flat_frames, stack_envs * self.capacity_per_env + index, axis=0, out=stacks, mode="clip")
            stacks[before_start] = 0
            for view, array in zip(small, (actions, rewards, discounts)):
                view[...] = array
            stacks, actions, rewards, discounts = staged.send()
        elif self.frames_device is None:
            stacks = self.frames[stack_envs, index]  # [2B, S, *frame] (a copy)
            stacks[before_start] = 0
        else:  # gathered and zero-padded on the device; the batch's small arrays go along in the same copy
            stack_envs, index, before_start, actions, rewards, discounts = self._to_device.put(
                stack_envs, index, before_start, actions, rewards, discounts)
            stacks = self.frames[stack_envs, index]  # [2B, S, *frame] on the device
            # (a boolean-mask assignment would count the mask's entries on the host: a sync)
            stacks.masked_fill_(before_start.view(*before_start.shape, *[1] * len(self.frame_shape)), 0)
        if not self.stacked:
            stacks = stacks[:, 0]  # [2B, *frame]
        return ReplayBatch(obs=stacks[:batch_size], actions=actions, rewards=rewards, discounts=discounts,
                           next_obs=stacks[batch_size:], env_ids=envs.astype(np.int64),
                           slots=slots.astype(np.int64))

    # ---------------------------------------------------------------------------- snapshots

    def state_dict(self) -> dict[str, np.ndarray | int]:
        """Everything needed to continue; arrays are the live buffers (no copy: save them right away)."""
        frames = self.frames if self.frames_device is None else self.frames.cpu().numpy()
        return {"frames": frames, "actions": self.actions, "rewards": self.rewards, "flags": self.flags,
                "steps_since_start": self.steps_since_start, "head": self.head,
                "slots_written": self.slots_written, "num_valid": self._num_valid,
                "num_added_transitions": self._num_added_transitions}

    def load_state_dict(self, state: dict[str, np.ndarray | int]) -> None:
        """Restore a ``state_dict`` (ints may come back as 0-d arrays from np.savez)."""
        for key in ("frames", "actions", "rewards", "flags", "steps_since_start", "head", "slots_written"):
            target, value = getattr(self, key), np.asarray(state[key])
            shape, dtype = tuple(target.shape), _numpy_dtype(target)
            if value.shape != shape:
                raise ValueError(f"replay snapshot {key} is {value.dtype}{list(value.shape)},"
                                 f" this run's replay is {dtype}{list(shape)}")
            if key not in ("head", "slots_written") and value.dtype != dtype:
                raise ValueError(f"replay snapshot {key} is {value.dtype}, this run's replay is {dtype}")
        for key in ("actions", "rewards", "flags", "steps_since_start"):
            getattr(self, key)[...] = state[key]
        if self.frames_device is None:
            self.frames[...] = state["frames"]
        else:
            self.frames.copy_(torch.from_numpy(np.asarray(state["frames"])))
        self.head = np.asarray(state["head"]).astype(np.int64)  # [E] (astype copies)
        self.slots_written = np.asarray(state["slots_written"]).astype(np.int64)  # [E]
        self._num_valid = int(state["num_valid"])
        self._num_added_transitions = int(state["num_added_transitions"])
