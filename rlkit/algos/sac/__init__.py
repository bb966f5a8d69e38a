"""SAC for continuous actions (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and
Applications"): twin Q functions with Polyak targets, a tanh-squashed Gaussian policy, automatic
entropy tuning toward -|A| (or a fixed temperature), optionally delayed policy updates.

Defaults are CleanRL's sac_continuous_action: batch 256, one update per env step after 5,000
random env steps, a 1M-transition replay, gamma 0.99, tau 0.005, policy updates every 2 critic
updates (2 at a time), critic and temperature lr 1e-3, policy lr 3e-4 (the paper uses 3e-4 for all
three: ``schedule.critic_lr=3e-4 schedule.alpha_lr=3e-4``). Replay: the frame replay without a
stack axis (agent.py says why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from rlkit import seeding
from rlkit.algos import ALGOS
from rlkit.algos.common import replay_for
from rlkit.algos.sac.actor import SACActor
from rlkit.algos.sac.agent import SACAgent
from rlkit.algos.sac.learner import SACLearner
from rlkit.algos.sac.networks import SACNetwork
from rlkit.config import (SCHEDULES, AlgoConfig, ConfigValueError, RootConfig, RunSchedule, require,
                          require_positive, require_replay_schedule)
from rlkit.envs.base import EnvSpec
from rlkit.networks import NETWORKS



@dataclass
class SACConfig(AlgoConfig):
    """Soft actor-critic; every default is CleanRL's sac_continuous_action."""

    name: str = "sac"
    gamma: float = 0.99  # discount per env step
    polyak_tau: float = 0.005  # after each critic update the target critics move this fraction toward the online ones
    # the entropy temperature: null = tuned toward target_entropy (Haarnoja et al. 2018, section 5);
    # a number = fixed at that value (the first SAC paper's fixed temperature; CleanRL's is 0.2)
    alpha: Optional[float] = None
    init_alpha: float = 1.0  # the tuned temperature's starting value (CleanRL: log alpha = 0)
    # the tuned temperature's target entropy in nats, of the policy in its [-1, 1] units; null = -|A|
    target_entropy: Optional[float] = None
    # policy (and temperature) updates follow every k-th critic update (TD3's delayed policy update; 1 = every one)
    policy_update_period_updates: int = 2
    # true: k policy updates then, on that batch, so policy and critics step equally often (CleanRL);
    # false: one (TD3)
    compensate_policy_delay: bool = True
    adam_eps: float = 1e-8  # of all three Adams (PyTorch's default, CleanRL's)
    eval_deterministic: bool = True  # evaluation acts with tanh(mean) (false: samples the policy)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.gamma <= 1.0, "gamma", self.gamma, "in [0, 1]")
        require(0.0 < self.polyak_tau <= 1.0, "polyak_tau", self.polyak_tau, "in (0, 1]")
        require(self.alpha is None or self.alpha > 0, "alpha", self.alpha, "null (tuned) or > 0")
        require(self.init_alpha > 0, "init_alpha", self.init_alpha, "> 0")
        require(self.policy_update_period_updates >= 1, "policy_update_period_updates",
                self.policy_update_period_updates, ">= 1")
        require(self.adam_eps > 0, "adam_eps", self.adam_eps, "> 0")


@dataclass
class SACSchedule(RunSchedule):
    """How long and how big a SAC run is. All counts in env steps summed over envs.

    Defaults: CleanRL's sac_continuous_action. ``updates_per_env_step`` counts critic updates per
    env step summed over envs: with hardware=cpu's 8 envs, 1.0 is 8 updates after each vector step
    (CleanRL: 1 env, one update per step; the same ratio).
    """

    warmup_env_steps: int = 5_000  # env steps of uniform random actions before the first update
    replay_capacity_transitions: int = 1_000_000
    batch_size: int = 256
    updates_per_env_step: float = 1.0  # critic updates per env step, summed over envs
    critic_lr: float = 1e-3  # Adam's lr of the twin critics (CleanRL's q_lr; the paper: 3e-4)
    actor_lr: float = 3e-4  # Adam's lr of the policy
    alpha_lr: float = 1e-3  # Adam's lr of log alpha, when tuned (CleanRL: q_lr; the paper: 3e-4)

    def __post_init__(self) -> None:
        super().__post_init__()
        require_replay_schedule(self)
        require_positive(self, "updates_per_env_step", "critic_lr", "actor_lr", "alpha_lr")


SCHEDULES.add("sac", SACSchedule, schema=SACSchedule)


@ALGOS.register("sac", schema=SACConfig, schedule=SACSchedule, actions="continuous")
def build_sac(run: RootConfig, spec: EnvSpec, device: torch.device) -> SACAgent:
    """The networks, the learner (target critics, optimizers, temperature), the actor and the replay."""
    algo: SACConfig = run.algo
    schedule: SACSchedule = run.schedule
    if run.network.name != "sac_mlp":
        raise ConfigValueError("network.name", run.network.name, "sac_mlp for algo=sac (a squashed Gaussian"
                               " policy and twin Q functions)")
    try:
        network: SACNetwork = NETWORKS.get("sac_mlp")(run.network, spec.obs_shape, spec.obs_dtype, spec.action_shape)
    except ValueError as err:
        raise ConfigValueError("network.name", run.network.name, str(err)) from None
    try:
        actor = SACActor(network.policy, spec.action_low, spec.action_high, device=device,
                         deterministic_eval=algo.eval_deterministic, seed=seeding.derive_seed(run.seed, "actor"))
    except ValueError as err:
        raise ConfigValueError("env.id", spec.env_id, str(err)) from None
    target_entropy = -float(math.prod(spec.action_shape)) if algo.target_entropy is None else algo.target_entropy
    learner = SACLearner(
        network, critic_lr=schedule.critic_lr, actor_lr=schedule.actor_lr, alpha_lr=schedule.alpha_lr,
        adam_eps=algo.adam_eps, polyak_tau=algo.polyak_tau, fixed_alpha=algo.alpha, init_alpha=algo.init_alpha,
        target_entropy=target_entropy, policy_update_period_updates=algo.policy_update_period_updates,
        compensate_policy_delay=algo.compensate_policy_delay, grad_clip_norm=algo.grad_clip_norm, device=device,
        seed=seeding.derive_seed(run.seed, "losses"))
    replay = replay_for(schedule.replay_capacity_transitions, run.hardware.num_envs, spec, gamma=algo.gamma, n_step=1,
                        device=device)
    return SACAgent(learner, actor, replay, warmup_env_steps=schedule.warmup_env_steps,
                    batch_size=schedule.batch_size, updates_per_env_step=schedule.updates_per_env_step,
                    reward_clip=run.env.reward_clip, seed=run.seed)
