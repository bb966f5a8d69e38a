"""Replay for vector envs that stores each frame once and rebuilds stacks at sample time.

One ring per sub-env, ``capacity_per_env = capacity_transitions // num_envs`` slots each. Every
env step output gets one slot holding its newest frame; the slot of the observation an action
was taken in also holds that action, its reward and the episode-end flags, and is marked valid.
With NEXT_STEP autoreset the slot holding an episode's final observation stays invalid (the
next step is the reset step, not a transition) and the reset observation starts a new slot
with ``steps_since_start = 0``. Stacks are rebuilt from the ``frame_stack`` newest slots, with
zero frames before the episode's first observation, exactly as the envs return them.

Per transition: the frame, the action, a float32 reward, one flag byte and one
steps-since-start byte: 7,064 B for an 84x84 uint8 frame and an int16 action.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

TERMINATED = np.uint8(1)
TRUNCATED = np.uint8(2)
VALID = np.uint8(4)  # the slot starts a real transition
MAX_STEPS_SINCE_START = 255


class ReplayBatch(NamedTuple):
    obs: np.ndarray  # [B, stack, *frame]
    actions: np.ndarray  # [B, *action_shape]
    rewards: np.ndarray  # [B] float32, n-step discounted sum cut at episode ends
    discounts: np.ndarray  # [B] float32, gamma^k, 0 if the episode terminated within the k steps
    next_obs: np.ndarray  # [B, stack, *frame], the stack k steps later
    env_ids: np.ndarray  # [B] int64
    slots: np.ndarray  # [B] int64


class FrameReplay:
    def __init__(self, capacity_transitions: int, num_envs: int, frame_shape: tuple[int, ...], frame_dtype,
                 frame_stack: int, action_shape: tuple[int, ...] = (), action_dtype=np.int16, n_step: int = 1,
                 gamma: float = 0.99) -> None:
        self.num_envs = num_envs
        self.capacity_per_env = capacity_transitions // num_envs
        if self.capacity_per_env < frame_stack + n_step + 2:
            raise ValueError(f"replay capacity {capacity_transitions} over {num_envs} envs leaves"
                             f" {self.capacity_per_env} slots per env; need >= frame_stack + n_step + 2")
        self.frame_stack = frame_stack
        self.n_step = n_step
        self.gamma = gamma
        shape = (num_envs, self.capacity_per_env)
        self.frames = np.zeros(shape + tuple(frame_shape), dtype=frame_dtype)  # [E, C, *frame]
        self.actions = np.zeros(shape + tuple(action_shape), dtype=action_dtype)  # [E, C, *action]
        self.rewards = np.zeros(shape, dtype=np.float32)  # [E, C]
        self.flags = np.zeros(shape, dtype=np.uint8)  # [E, C]
        self.steps_since_start = np.zeros(shape, dtype=np.uint8)  # [E, C]
        self.head = np.full(num_envs, -1, dtype=np.int64)  # [E] slot of the newest frame, -1 = empty
        self.slots_written = np.zeros(num_envs, dtype=np.int64)  # [E] ever, to know when a ring wrapped
        self.num_valid = 0
        self.num_added_transitions = 0
        self._env_index = np.arange(num_envs)

    @staticmethod
    def bytes_required(capacity_transitions: int, num_envs: int, frame_shape: tuple[int, ...], frame_dtype,
                       action_shape: tuple[int, ...] = (), action_dtype=np.int16) -> int:
        slots = (capacity_transitions // num_envs) * num_envs
        per_slot = (math.prod(frame_shape) * np.dtype(frame_dtype).itemsize
                    + math.prod(action_shape) * np.dtype(action_dtype).itemsize + 4 + 1 + 1)
        return slots * per_slot

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.frames, self.actions, self.rewards, self.flags, self.steps_since_start))

    @property
    def bytes_per_transition(self) -> float:
        return self.nbytes / (self.num_envs * self.capacity_per_env)

    def __len__(self) -> int:
        return self.num_valid

    # ------------------------------------------------------------------------------ writing

    def _advance(self, newest_frames: np.ndarray, steps_since_start: np.ndarray) -> None:
        """Write one new slot per env: newest_frames [E, *frame], steps_since_start [E]."""
        slot = (self.head + 1) % self.capacity_per_env  # [E]
        self.num_valid -= int(np.count_nonzero(self.flags[self._env_index, slot] & VALID))
        self.flags[self._env_index, slot] = 0
        self.frames[self._env_index, slot] = newest_frames
        self.steps_since_start[self._env_index, slot] = steps_since_start
        self.head = slot
        self.slots_written += 1

    def start(self, obs: np.ndarray) -> None:
        """Begin a new episode segment in every sub-env with obs [E, stack, *frame].

        A sub-env that already holds data (a resumed run) gets its last transition marked
        truncated, so no stack or n-step return crosses the seam.
        """
        has_data = self.head >= 0  # [E]
        last = (self.head - 1) % self.capacity_per_env  # [E]
        envs = self._env_index[has_data]
        open_end = (self.flags[envs, last[has_data]] & VALID).astype(bool) & \
            ~((self.flags[envs, last[has_data]] & (TERMINATED | TRUNCATED)).astype(bool))
        self.flags[envs[open_end], last[has_data][open_end]] |= TRUNCATED
        self._advance(obs[:, -1], np.zeros(self.num_envs, dtype=np.uint8))

    def add(self, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
            next_obs: np.ndarray, is_reset_step: np.ndarray) -> None:
        """Record one vector step. All [E]; next_obs [E, stack, *frame]; is_reset_step [E] marks the
        NEXT_STEP autoreset step of a sub-env whose previous step ended an episode (not stored)."""
        live = ~is_reset_step  # [E]
        envs, slots = self._env_index[live], self.head[live]
        self.actions[envs, slots] = actions[live]
        self.rewards[envs, slots] = rewards[live]
        self.flags[envs, slots] = (VALID | np.where(terminated[live], TERMINATED, 0)
                                   | np.where(truncated[live], TRUNCATED, 0)).astype(np.uint8)
        self.num_valid += len(envs)
        self.num_added_transitions += len(envs)
        previous = self.steps_since_start[self._env_index, self.head].astype(np.int64)  # [E]
        following = np.where(live, np.minimum(previous + 1, MAX_STEPS_SINCE_START), 0).astype(np.uint8)  # [E]
        self._advance(next_obs[:, -1], following)

    # ----------------------------------------------------------------------------- sampling

    def _stacks(self, envs: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Stacks ending at (envs, slots) [B] -> [B, stack, *frame], zero before episode starts."""
        back = np.arange(self.frame_stack - 1, -1, -1)  # [S] oldest first
        index = (slots[:, None] - back[None, :]) % self.capacity_per_env  # [B, S]
        stacks = self.frames[envs[:, None], index]  # [B, S, *frame]
        before_start = back[None, :] > self.steps_since_start[envs, slots][:, None]  # [B, S]
        stacks[before_start] = 0
        return stacks

    def _candidates(self, envs: np.ndarray, slots: np.ndarray):
        """For candidate starts [M]: (ok [M], n-step rewards [M], discounts [M], bootstrap slots [M])."""
        ok = (self.flags[envs, slots] & VALID).astype(bool)  # [M]
        rewards = np.zeros(len(envs), dtype=np.float64)  # [M]
        steps = np.zeros(len(envs), dtype=np.int64)  # [M] rewards summed so far
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
        oldest = np.where(wrapped, (self.head[envs] + 1) % self.capacity_per_env, 0)  # [M]
        history = (slots - oldest) % self.capacity_per_env  # [M] intact slots before this one
        needed = np.minimum(self.frame_stack - 1, self.steps_since_start[envs, slots])  # [M]
        ok &= history >= needed
        discounts = np.where(terminated, 0.0, self.gamma**steps)  # [M]
        return ok, rewards, discounts, (slots + steps) % self.capacity_per_env

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """Uniform over samplable transitions (rejection sampling in vectorized rounds)."""
        if self.num_valid == 0:
            raise ValueError("cannot sample from an empty replay")
        total = self.num_envs * self.capacity_per_env
        filled = min(int(self.slots_written.max()), self.capacity_per_env) * self.num_envs
        parts: list[tuple] = []
        have = 0
        for _ in range(1000):
            draw = max(2 * (batch_size - have), 32)
            flat = rng.integers(total, size=draw) if filled >= total else rng.integers(filled, size=draw)
            if filled < total:  # not wrapped: slots [0, written) of each env are the filled ones
                per_env = filled // self.num_envs
                envs, slots = flat // per_env, flat % per_env
            else:
                envs, slots = flat // self.capacity_per_env, flat % self.capacity_per_env
            ok, rewards, discounts, boot = self._candidates(envs, slots)
            take = np.flatnonzero(ok)[: batch_size - have]
            parts.append((envs[take], slots[take], rewards[take], discounts[take], boot[take]))
            have += len(take)
            if have == batch_size:
                break
        else:
            raise ValueError("replay holds no samplable transition yet (warm-up too short for n_step?)")
        envs, slots, rewards, discounts, boot = (np.concatenate(x) for x in zip(*parts))
        return ReplayBatch(obs=self._stacks(envs, slots), actions=self.actions[envs, slots],
                           rewards=rewards.astype(np.float32), discounts=discounts.astype(np.float32),
                           next_obs=self._stacks(envs, boot), env_ids=envs, slots=slots)

    # ---------------------------------------------------------------------------- snapshots

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"frames": self.frames, "actions": self.actions, "rewards": self.rewards, "flags": self.flags,
                "steps_since_start": self.steps_since_start, "head": self.head,
                "slots_written": self.slots_written,
                "counters": np.array([self.num_valid, self.num_added_transitions], dtype=np.int64)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for key in ("frames", "actions", "rewards", "flags", "steps_since_start"):
            target = getattr(self, key)
            if state[key].shape != target.shape or state[key].dtype != target.dtype:
                raise ValueError(f"replay snapshot {key} is {state[key].dtype}{list(state[key].shape)},"
                                 f" this run's replay is {target.dtype}{list(target.shape)}")
            target[...] = state[key]
        self.head = state["head"].astype(np.int64).copy()
        self.slots_written = state["slots_written"].astype(np.int64).copy()
        self.num_valid, self.num_added_transitions = (int(x) for x in state["counters"])
