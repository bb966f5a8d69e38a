"""The value-based agent (DQN, IQN): act, store, and spend the updates each env step earned.

Per ``train_step`` (one vector step of E envs):
  1. act: uniform random until ``warmup_env_steps``, then the actor's exploration
  2. step the envs; the NEXT_STEP reset step of a finished sub-env is not a transition
  3. store (training reward clipped if configured)
  4. earn ``updates_per_env_step`` updates per env step; spend whole ones on sampled batches

With ``overlap`` (``hardware.overlap_env_steps``) step 4 of vector step t runs while the envs
take vector step t+1 in a background thread: the same transitions are stored and the same
updates made, with the same schedules, but the action of step t+1 comes from the weights before
step t's updates and those updates sample a replay without step t+1 (one vector step of
staleness). The last vector step of a run spends its updates at once, so the counts match the
synchronous order. Both orders are deterministic for a seed.
The algorithms differ only in the network and the loss piece they hand to ``build_value_agent``.
"""

from __future__ import annotations

from typing import Any, Callable, TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from rlkit import seeding
from rlkit.algos.common import replay_for
from rlkit.algos.value_based.actor import ValueActor
from rlkit.algos.value_based.config import OffPolicySchedule, ValueBasedConfig
from rlkit.algos.value_based.learner import LossPiece, ValueLearner
from rlkit.buffers import FrameReplay
from rlkit.config import ConfigValueError, RootConfig
from rlkit.envs.base import EnvSpec
from rlkit.networks import NETWORKS
from rlkit.networks.torso import Torso
from rlkit.schedules import LinearSchedule

if TYPE_CHECKING:  # (runner imports the algorithms: a runtime import would be circular)
    from rlkit.runner import TrainingEnvs


def value_schedules(schedule: OffPolicySchedule) -> dict[str, LinearSchedule]:
    """The lr, epsilon and temperature schedules of a value-based run, all in env steps."""
    return {
        "lr": schedule.lr_schedule(),
        "epsilon": LinearSchedule(schedule.epsilon_start, schedule.epsilon_final, schedule.epsilon_decay_env_steps),
        "temperature": LinearSchedule(schedule.temperature_start, schedule.temperature_final,
                                      schedule.temperature_decay_env_steps),
    }


def build_torso(run: RootConfig, spec: EnvSpec) -> Torso:
    """The network's torso; a network that is not a torso (a policy network) is refused by name."""
    try:
        return NETWORKS.get(run.network.name)(run.network, spec.obs_shape, spec.obs_dtype)
    except ValueError as err:
        raise ConfigValueError("network.name", run.network.name, str(err)) from None


class ValueAgent:
    """Off-policy agent over a value learner, its actor and a frame replay."""

    def __init__(self, learner: ValueLearner, actor: ValueActor, replay: FrameReplay, schedule: OffPolicySchedule,
                 *, reward_clip: float | None, eval_epsilon: float, seed: int,
                 generators: dict[str, torch.Generator] | None = None, overlap: bool = False) -> None:
        self.learner, self.actor, self.replay, self.schedule = learner, actor, replay, schedule
        self.network: nn.Module = learner.online
        self.reward_clip = reward_clip
        self.eval_epsilon = eval_epsilon
        self.replay_rng = np.random.default_rng(seeding.derive_seed(seed, "replay"))
        self.eval_rng = np.random.default_rng(seeding.derive_seed(seed, "eval_actor"))
        self.generators = generators or {}  # the algorithm's own torch random streams, by name
        self.overlap = overlap
        self.update_credit = 0.0  # earned, not yet spent, gradient updates
        self.credit_env_step = 0  # the clock when the credit was earned: the spent updates' schedule step
        self.obs: np.ndarray | None = None  # [E, *obs_shape] the obs the next action is taken in
        self._samples_since_log = 0
        self._env_steps_since_log = 0

    def start(self, obs: np.ndarray) -> None:
        self.replay.start(obs)  # a resumed run's replay marks the seam: no stack or return crosses it
        self.obs = obs

    def train_step(self, envs: TrainingEnvs) -> None:
        sched = self.schedule
        if envs.env_step >= sched.warmup_env_steps:
            actions = self.actor.act(self.obs, envs.env_step)
        else:
            actions = self.actor.random(envs.num_envs)
        if self.overlap:
            envs.step_async(actions)
            self._spend_credit()  # the updates the previous vector steps earned, while the envs step
            step = envs.step_wait()
        else:
            step = envs.step(actions)
        reward = step.reward if self.reward_clip is None else np.clip(step.reward, -self.reward_clip, self.reward_clip)
        self.replay.add(actions, reward, step.terminated, step.truncated, step.obs, step.is_reset_step)
        self.obs = step.obs
        new_steps = int(envs.num_envs - step.is_reset_step.sum())
        self._env_steps_since_log += new_steps
        if envs.env_step >= sched.warmup_env_steps:
            self.update_credit += new_steps * sched.updates_per_env_step
            self.credit_env_step = envs.env_step
        if not self.overlap or envs.env_step >= envs.total_env_steps:
            self._spend_credit()

    def _spend_credit(self) -> None:
        """Whole earned updates, each on a sampled batch, scheduled at the env step that earned them."""
        while self.update_credit >= 1.0:
            batch = self.replay.sample(self.schedule.batch_size, self.replay_rng)
            self.learner.update(batch, self.credit_env_step)
            self.update_credit -= 1.0
            self._samples_since_log += self.schedule.batch_size

    def act_eval(self, obs: np.ndarray) -> np.ndarray:
        return self.actor.act_eval(obs, self.eval_epsilon, self.eval_rng)

    def pop_metrics(self, env_step: int) -> dict[str, float]:
        row = {**self.learner.pop_metrics(), **self.actor.exploration_value(env_step),
               "updates": self.learner.num_updates, "buffer_fill": len(self.replay),
               "replay_ratio": self._samples_since_log / max(self._env_steps_since_log, 1)}
        self._samples_since_log = self._env_steps_since_log = 0
        return row

    def state_dict(self) -> dict[str, Any]:
        return {"learner": self.learner.state_dict(), "actor": self.actor.state_dict(),
                "update_credit": self.update_credit, "credit_env_step": self.credit_env_step,
                "replay_rng": self.replay_rng.bit_generator.state,
                "eval_rng": self.eval_rng.bit_generator.state,
                "generators": {name: g.get_state() for name, g in self.generators.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self.actor.load_state_dict(state["actor"])
        self.update_credit = float(state["update_credit"])
        self.credit_env_step = int(state["credit_env_step"])
        self.replay_rng.bit_generator.state = state["replay_rng"]
        self.eval_rng.bit_generator.state = state["eval_rng"]
        for name, generator in self.generators.items():
            generator.set_state(state["generators"][name].cpu())

    def replay_state_dict(self) -> dict[str, np.ndarray]:
        return self.replay.state_dict()

    def load_replay_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.replay.load_state_dict(state)

    def nonfinite_diagnostic(self) -> dict[str, Any]:
        return {"recent_grad_norms": self.learner.metrics.recent_grad_norms(),
                "weights_finite": self.learner.weights_finite()}


def build_value_agent(run: RootConfig, spec: EnvSpec, device: torch.device, online: nn.Module, loss: LossPiece,
                      q_values: Callable[[nn.Module, str], Callable[[torch.Tensor], torch.Tensor]],
                      generators: dict[str, torch.Generator] | None = None) -> ValueAgent:
    """The agent of a value-based algorithm from its online network and loss piece.

    ``q_values(online, stream)`` gives the actor's obs [E, *obs_shape] -> Q [E, A] on the
    learner's copy of the network, for ``stream`` "acting" or "eval" (DQN: the network itself;
    IQN: the mean over taus sampled from that stream's generator). ``generators``: the
    algorithm's own random streams, saved in checkpoints by name.
    """
    algo: ValueBasedConfig = run.algo
    schedule: OffPolicySchedule = run.schedule
    schedules = value_schedules(schedule)
    learner = ValueLearner(
        online, loss, lr_schedule=schedules["lr"], temperature_schedule=schedules["temperature"],
        adam_eps=algo.adam_eps, grad_clip_norm=algo.grad_clip_norm, target_update=algo.target_update,
        polyak_tau=algo.polyak_tau, target_update_period_env_steps=schedule.target_update_period_env_steps,
        device=device, amp=run.hardware.amp, compile=run.hardware.compile,
        compile_mode=run.hardware.compile_mode)
    if run.hardware.compile:
        print(f"torch.compile: on for the learner's loss (mode {run.hardware.compile_mode}); the first update"
              " compiles (compile_s in the metrics)")
    actor = ValueActor(q_values(learner.online, "acting"), q_values(learner.online, "eval"), spec.n_actions,
                       exploration=algo.exploration, epsilon_schedule=schedules["epsilon"],
                       temperature_schedule=schedules["temperature"],
                       device=device, amp=run.hardware.amp, seed=seeding.derive_seed(run.seed, "actor"))
    replay = replay_for(schedule.replay_capacity_transitions, run.hardware.num_envs, spec, gamma=algo.gamma,
                        n_step=algo.n_step, frames_device=run.hardware.replay_device, device=device)
    return ValueAgent(learner, actor, replay, schedule, reward_clip=run.env.reward_clip,
                      eval_epsilon=algo.eval_epsilon, seed=run.seed, generators=generators or {},
                      overlap=run.hardware.overlap_env_steps)
