"""The SAC agent: act, store, and spend the updates each env step earned.

Per ``train_step`` (one vector step of E envs):
  1. act: uniform random in [-1, 1] until ``warmup_env_steps``, then a sample of the policy;
     the action is mapped onto the env's bounds, the replay keeps the policy's units
  2. step the envs; the NEXT_STEP reset step of a finished sub-env is not a transition
  3. store (training reward clipped if ``env.reward_clip`` is set)
  4. from ``warmup_env_steps`` on, earn ``updates_per_env_step`` updates per env step; spend whole
     ones on sampled batches (with 8 envs and 1.0: 8 updates after each vector step)

The replay is the frame replay (rlkit/buffers/frame_replay.py) without a stack axis
(``stacked=False``, one observation per slot), float32 actions of shape [A] and 1-step returns:
it already stores each observation once, keeps NEXT_STEP reset steps out, marks the seam of a
resumed run and encodes termination vs truncation in its discounts (0 after a termination;
gamma after a truncation, bootstrapping from the episode's final observation), and the runner
snapshots it beside the checkpoints. A buffer of its own would repeat all of that.
"""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

import numpy as np
from torch import nn

from rlkit import seeding
from rlkit.algos.sac.actor import SACActor
from rlkit.algos.sac.learner import SACLearner
from rlkit.buffers import FrameReplay

if TYPE_CHECKING:  # (runner imports the algorithms: a runtime import would be circular)
    from rlkit.runner import TrainingEnvs


class SACAgent:
    def __init__(self, learner: SACLearner, actor: SACActor, replay: FrameReplay, *, warmup_env_steps: int,
                 batch_size: int, updates_per_env_step: float, reward_clip: float | None, seed: int) -> None:
        self.learner, self.actor, self.replay = learner, actor, replay
        self.network: nn.Module = learner.network
        self.warmup_env_steps = warmup_env_steps
        self.batch_size = batch_size
        self.updates_per_env_step = updates_per_env_step
        self.reward_clip = reward_clip
        self.replay_rng = np.random.default_rng(seeding.derive_seed(seed, "replay"))
        self.update_credit = 0.0  # earned, not yet spent, gradient updates
        self.obs: np.ndarray | None = None  # [E, *obs_shape] the obs the next action is taken in
        self._samples_since_log = 0
        self._env_steps_since_log = 0

    def start(self, obs: np.ndarray) -> None:
        self.replay.start(obs)  # a resumed run's replay marks the seam: no transition crosses it
        self.obs = obs

    def train_step(self, envs: TrainingEnvs) -> None:
        warm = envs.env_step >= self.warmup_env_steps
        actions = self.actor.act(self.obs) if warm else self.actor.random(envs.num_envs)  # [E, A] in [-1, 1]
        step = envs.step(self.actor.env_actions(actions))
        reward = step.reward if self.reward_clip is None else np.clip(step.reward, -self.reward_clip, self.reward_clip)
        self.replay.add(actions, reward, step.terminated, step.truncated, step.obs, step.is_reset_step)
        self.obs = step.obs
        new_steps = int(envs.num_envs - step.is_reset_step.sum())
        self._env_steps_since_log += new_steps
        if envs.env_step >= self.warmup_env_steps:
            self.update_credit += new_steps * self.updates_per_env_step
            while self.update_credit >= 1.0:
                self.learner.update(self.replay.sample(self.batch_size, self.replay_rng), envs.env_step)
                self.update_credit -= 1.0
                self._samples_since_log += self.batch_size

    def act_eval(self, obs: np.ndarray) -> np.ndarray:
        return self.actor.act_eval(obs)

    def pop_metrics(self, env_step: int) -> dict[str, float]:
        row = {**self.learner.pop_metrics(), "buffer_fill": len(self.replay),
               "replay_ratio": self._samples_since_log / max(self._env_steps_since_log, 1)}
        self._samples_since_log = self._env_steps_since_log = 0
        return row

    def state_dict(self) -> dict[str, Any]:
        return {"learner": self.learner.state_dict(), "actor": self.actor.state_dict(),
                "update_credit": self.update_credit, "replay_rng": self.replay_rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self.actor.load_state_dict(state["actor"])
        self.update_credit = float(state["update_credit"])
        self.replay_rng.bit_generator.state = state["replay_rng"]

    def replay_state_dict(self) -> dict[str, np.ndarray]:
        return self.replay.state_dict()

    def load_replay_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.replay.load_state_dict(state)

    def nonfinite_diagnostic(self) -> dict[str, Any]:
        return {"recent_grad_norms": self.learner.recent_grad_norms(), "weights_finite": self.learner.weights_finite()}
