"""The PPO agent: one ``train_step`` collects a rollout and learns from it.

Per rollout (``rollout_transitions / E`` vector steps of E envs):
  1. each vector step: act on the normalized obs (sample, log-prob, value); step the envs (they
     clip the action); clip the reward (``env.reward_clip``, if set), then scale it; store the row
     (the NEXT_STEP reset row of a finished sub-env is stored with valid=False: it is no transition)
  2. the learner takes the rollout and the value of the obs after it: GAE, epochs x minibatches
The last rollout of a run stops at the budget (``schedule.total_env_steps``), so a run ends
within one vector step of it, like every other algorithm.
The runner logs, evaluates and saves between train steps, so every checkpoint sits on a rollout
boundary and a resumed run starts a fresh rollout.
"""

from __future__ import annotations

import copy
from typing import Any, TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from rlkit.algos.ppo.actor import PPOActor
from rlkit.algos.ppo.learner import PPOLearner
from rlkit.buffers.rollout import RolloutBuffer
from rlkit.normalizers import RewardScaler

if TYPE_CHECKING:  # (runner imports the algorithms: a runtime import would be circular)
    from rlkit.runner import TrainingEnvs


class PPOAgent:
    def __init__(self, learner: PPOLearner, actor: PPOActor, buffer: RolloutBuffer,
                 reward_scaler: RewardScaler | None, *, reward_clip: float | None) -> None:
        self.learner, self.actor, self.buffer, self.reward_scaler = learner, actor, buffer, reward_scaler
        self.reward_clip = reward_clip  # of the raw training reward, before the scaler
        self.network: nn.Module = learner.network
        self.obs: np.ndarray | None = None  # [E, *obs_shape] normalized, the policy's next input

    def start(self, obs: np.ndarray) -> None:
        self.obs = self.actor.observe(obs)

    def train_step(self, envs: TrainingEnvs) -> None:
        rollout_start_env_step = envs.env_step
        # the statistics acting updates (obs normalizer, reward scaler, sampling stream) as the rollout
        # starts: a rollout the envs end by raising leaves them as they were, as the runner saves the
        # checkpoint of the rollout's start (a resume collects that rollout afresh)
        at_start = copy.deepcopy(self._acting_state())
        try:
            self._collect(envs)
        except Exception:
            self._load_acting_state(at_start)
            raise
        batch = self.buffer.batch(self.actor.value(self.obs), torch.as_tensor(self.obs))  # obs: after the rollout
        self.learner.update(batch, rollout_start_env_step)

    def _collect(self, envs: TrainingEnvs) -> None:
        """One rollout into the buffer (shorter where the budget ends inside it)."""
        for _ in range(self.buffer.num_steps):
            if envs.env_step >= envs.total_env_steps:  # the budget ends inside this rollout: learn from what came
                break
            step = self.actor.act(self.obs)
            result = envs.step(self.actor.env_actions(step.actions))
            valid = ~result.is_reset_step  # [E]
            done = result.terminated | result.truncated  # [E]
            reward = result.reward if self.reward_clip is None else np.clip(result.reward, -self.reward_clip,
                                                                            self.reward_clip)  # [E]
            reward = self.reward_scaler(reward, done, valid) if self.reward_scaler else reward
            self.buffer.add(self.obs, step.actions, step.log_probs, step.values, reward, result.terminated,
                            result.truncated, valid)
            self.obs = self.actor.observe(result.obs)

    def _acting_state(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(),
                "reward_scaler": self.reward_scaler.state_dict() if self.reward_scaler else None}

    def _load_acting_state(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        if self.reward_scaler is not None:
            self.reward_scaler.load_state_dict(state["reward_scaler"])

    def act_eval(self, obs: np.ndarray) -> np.ndarray:
        return self.actor.act_eval(obs)

    def pop_metrics(self, env_step: int) -> dict[str, float]:
        return self.learner.pop_metrics()

    def state_dict(self) -> dict[str, Any]:
        return {"learner": self.learner.state_dict(), **self._acting_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self._load_acting_state(state)

    def replay_state_dict(self) -> None:
        return None

    def load_replay_state_dict(self, state: dict[str, np.ndarray]) -> None:
        raise ValueError("PPO keeps no replay")

    def nonfinite_diagnostic(self) -> dict[str, Any]:
        return {"recent_grad_norms": list(self.learner.recent_grad_norms),
                "weights_finite": self.learner.weights_finite()}
