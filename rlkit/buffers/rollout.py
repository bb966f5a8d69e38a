"""Rollout storage for on-policy learning: T vector steps of E envs, filled in order, read once.

NEXT_STEP reset steps are kept as rows with ``valid = False`` rather than dropped, so every
sub-env's rows stay aligned in time ([T, E] tensors, no ragged lists). A reset row is useful
even though it is no transition: its obs is the final obs of the episode that just ended (NEXT_STEP
returns it from the ending step), so its value V(final obs) is exactly what a truncated episode
bootstraps from (see ``rlkit.algos.ppo.losses.generalized_advantages``). GAE gives invalid rows
advantage 0 and the learner leaves them out of every minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class RolloutBatch:
    obs: torch.Tensor  # [T, E, *obs_shape] float32, normalized as the policy saw them
    actions: torch.Tensor  # [T, E, A] float32, the unclipped samples
    log_probs: torch.Tensor  # [T, E] log pi_old(a | s)
    values: torch.Tensor  # [T, E] V_old(s)
    rewards: torch.Tensor  # [T, E] training rewards (scaled), 0 on reset rows
    terminated: torch.Tensor  # [T, E] bool
    truncated: torch.Tensor  # [T, E] bool
    valid: torch.Tensor  # [T, E] bool, False on NEXT_STEP reset rows
    last_value: torch.Tensor  # [E] V_old of the obs after the rollout
    last_obs: torch.Tensor | None = None  # [E, *obs_shape] the obs after the rollout (to recompute values)

    @property
    def num_transitions(self) -> int:
        return int(self.valid.sum())


class RolloutBuffer:
    """Preallocated [T, E] arrays in host memory; ``add`` T times, then ``batch`` (tensors on the
    learner's device). Rows are written with numpy, a copy per field and step, rather than torch
    ops; on a CUDA device the rollout crosses to the device once per ``batch``, not once per step."""

    def __init__(self, num_steps: int, num_envs: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...],
                 device: torch.device) -> None:
        self.num_steps, self.num_envs = num_steps, num_envs
        shape = (num_steps, num_envs)

        def zeros(*extra: int, dtype: type = np.float32) -> np.ndarray:
            return np.zeros((*shape, *extra), dtype=dtype)

        self.obs = zeros(*obs_shape)  # [T, E, *obs_shape]
        self.actions = zeros(*action_shape)  # [T, E, A]
        self.log_probs = zeros()  # [T, E]
        self.values = zeros()  # [T, E]
        self.rewards = zeros()  # [T, E]
        self.terminated = zeros(dtype=bool)  # [T, E]
        self.truncated = zeros(dtype=bool)  # [T, E]
        self.valid = zeros(dtype=bool)  # [T, E]
        self.device = device
        self.step = 0

    @property
    def full(self) -> bool:
        return self.step == self.num_steps

    def add(self, obs: np.ndarray, actions: np.ndarray, log_probs: np.ndarray, values: np.ndarray,
            rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, valid: np.ndarray) -> None:
        """One vector step: obs [E, *obs_shape] (the policy's input), actions [E, A], log_probs, values,
        rewards, terminated, truncated, valid: [E]. Reset rows (valid False) get reward 0 and no flags."""
        if self.full:
            raise IndexError("the rollout is full: call batch() before adding more steps")
        t = self.step
        self.obs[t] = obs
        self.actions[t] = actions
        self.log_probs[t] = log_probs
        self.values[t] = values
        np.multiply(rewards, valid, out=self.rewards[t])
        np.logical_and(terminated, valid, out=self.terminated[t])
        np.logical_and(truncated, valid, out=self.truncated[t])
        self.valid[t] = valid
        self.step += 1

    def batch(self, last_value: torch.Tensor, last_obs: torch.Tensor | None = None) -> RolloutBatch:
        """The rows added so far, T' <= T of them, as tensors on the device (on a CPU device they share
        the buffer's memory: read them before the next ``add``); the buffer restarts at row 0. A rollout
        cut short (the run's budget) gives T' < T."""
        if self.step == 0:
            raise IndexError("the rollout is empty")
        t, self.step = self.step, 0
        rows = (torch.from_numpy(array[:t]).to(self.device) for array in (
            self.obs, self.actions, self.log_probs, self.values, self.rewards, self.terminated, self.truncated,
            self.valid))
        return RolloutBatch(*rows, last_value.detach().float(), last_obs)
