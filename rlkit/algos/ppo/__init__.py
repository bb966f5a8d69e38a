"""PPO for continuous actions: clipped surrogate, GAE, Gaussian policy, running normalization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from rlkit import seeding
from rlkit.algos import ALGOS
from rlkit.algos.ppo.actor import PPOActor
from rlkit.algos.ppo.agent import PPOAgent
from rlkit.algos.ppo.learner import PPOLearner
from rlkit.buffers.rollout import RolloutBuffer
from rlkit.config import SCHEDULES, AlgoConfig, ConfigValueError, RootConfig, RunSchedule, require
from rlkit.envs.base import EnvSpec
from rlkit.networks import NETWORKS
from rlkit.normalizers import ObservationNormalizer, RewardScaler
from rlkit.schedules import LinearSchedule, constant


@dataclass
class PPOConfig(AlgoConfig):
    """PPO with a clipped surrogate (Schulman et al. 2017), CleanRL's ppo_continuous_action defaults."""

    name: str = "ppo"
    gamma: float = 0.99  # discount per env step
    gae_lambda: float = 0.95  # GAE's lambda (Schulman et al. 2016)
    clip_coef: float = 0.2  # epsilon of the clipped surrogate (and of the value clipping)
    clip_value_loss: bool = True  # clip the value change to +-clip_coef around the rollout's values
    value_coef: float = 0.5  # weight of the value loss in the total loss
    entropy_coef: float = 0.0  # weight of the entropy bonus
    grad_clip_norm: Optional[float] = 0.5  # clip the global grad norm (null = off)
    target_kl: Optional[float] = None  # stop the epochs early when approx KL passes it (null = off)
    normalize_advantages: bool = True  # per minibatch: (A - mean) / (std + 1e-8)
    recompute_advantages: bool = False  # GAE again before every epoch after the first, with the current critic
    normalize_obs: bool = True  # running mean/std of observations (frozen in evaluation)
    obs_clip: float = 10.0  # clip normalized observations to [-c, c]
    normalize_reward: bool = True  # divide rewards by the running std of the discounted return
    # clip the scaled training rewards to [-c, c] (CleanRL's 10); only with normalize_reward: raw rewards are
    # clipped by env.reward_clip, before the scaling. Logged returns stay raw
    reward_clip: float = 10.0
    adam_eps: float = 1e-5
    eval_deterministic: bool = True  # evaluation acts with the mean action (false: samples)
    # the Gaussian acts in [-1, 1] per dim, clipped and mapped onto the env's bounds (false: env units, env clips;
    # the identity on [-1, 1] tasks; it matters where the bounds are far from 1: README, Learning benchmarks)
    rescale_actions: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.gamma <= 1.0, "gamma", self.gamma, "in [0, 1]")
        require(0.0 <= self.gae_lambda <= 1.0, "gae_lambda", self.gae_lambda, "in [0, 1]")
        require(self.clip_coef > 0, "clip_coef", self.clip_coef, "> 0")
        require(self.value_coef >= 0, "value_coef", self.value_coef, ">= 0")
        require(self.entropy_coef >= 0, "entropy_coef", self.entropy_coef, ">= 0")
        require(self.target_kl is None or self.target_kl > 0, "target_kl", self.target_kl, "null or > 0")
        require(self.obs_clip > 0, "obs_clip", self.obs_clip, "> 0")
        require(self.reward_clip > 0, "reward_clip", self.reward_clip, "> 0")
        # (the default stays allowed: runs written before this check hold it in their config.yaml)
        require(self.normalize_reward or self.reward_clip == PPOConfig.reward_clip, "reward_clip", self.reward_clip,
                f"{PPOConfig.reward_clip} (unused) with normalize_reward=false: it clips the scaled reward;"
                " env.reward_clip clips raw rewards")
        require(self.adam_eps > 0, "adam_eps", self.adam_eps, "> 0")


@dataclass
class OnPolicySchedule(RunSchedule):
    """How long and how big an on-policy (PPO) run is. All counts in env steps summed over envs.

    A rollout is ``rollout_transitions`` env steps: each of ``hardware.num_envs`` envs steps
    ``rollout_transitions / num_envs`` times, so the batch per update does not change with the
    number of envs (2048 = CleanRL's 1 env x 2048 steps; with hardware=cpu's 8 envs, 8 x 256).
    The NEXT_STEP reset step after an episode end is not a transition: it is masked out, so a
    rollout holds slightly fewer than ``rollout_transitions`` transitions.
    """

    rollout_transitions: int = 2048  # env steps per rollout, summed over envs (a multiple of num_envs)
    num_epochs: int = 10  # passes over each rollout
    num_minibatches: int = 32  # minibatches per epoch (2048 / 32 = 64 transitions each)
    lr: float = 3e-4  # Adam's learning rate at env step 0
    anneal_lr: bool = True  # decay lr linearly to 0 at total_env_steps (per rollout, as CleanRL)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.rollout_transitions >= 1, "rollout_transitions", self.rollout_transitions, ">= 1")
        require(self.num_epochs >= 1, "num_epochs", self.num_epochs, ">= 1")
        require(1 <= self.num_minibatches <= self.rollout_transitions, "num_minibatches", self.num_minibatches,
                f"in [1, rollout_transitions ({self.rollout_transitions})]")
        require(self.lr > 0, "lr", self.lr, "> 0")

    def lr_schedule(self) -> LinearSchedule:
        """The lr against the env step: annealed linearly to 0 at the budget, or constant."""
        return LinearSchedule(self.lr, 0.0, self.total_env_steps) if self.anneal_lr else constant(self.lr)


SCHEDULES.add("on_policy", OnPolicySchedule, schema=OnPolicySchedule)


# health_judges_over_clip: healthy PPO runs exceed the 0.5 clip more as they learn (health.max_grad_norm_over_clip)
@ALGOS.register("ppo", schema=PPOConfig, schedule=OnPolicySchedule, actions="continuous", hardware=("compile",),
                health_judges_over_clip=False)
def build_ppo(run: RootConfig, spec: EnvSpec, device: torch.device) -> PPOAgent:
    """The learner, the actor (with the observation normalizer), the training reward scaler and the
    rollout buffer; the training reward is clipped by env.reward_clip before the scaler. Each env
    steps rollout_transitions / num_envs times per rollout: it must divide."""
    algo: PPOConfig = run.algo
    schedule: OnPolicySchedule = run.schedule
    num_envs = run.hardware.num_envs
    if schedule.rollout_transitions % num_envs != 0:
        raise ConfigValueError("schedule.rollout_transitions", schedule.rollout_transitions,
                               f"a multiple of hardware.num_envs ({num_envs}): each env steps"
                               " rollout_transitions / num_envs times per rollout")
    if run.network.name != "actor_critic":
        raise ConfigValueError("network.name", run.network.name, "actor_critic for algo=ppo (a Gaussian policy"
                               " and a value function)")
    try:
        network = NETWORKS.get("actor_critic")(run.network, spec.obs_shape, spec.obs_dtype, spec.action_shape)
    except ValueError as err:
        raise ConfigValueError("network.name", run.network.name, str(err)) from None
    learner = PPOLearner(
        network, lr_schedule=schedule.lr_schedule(), num_epochs=schedule.num_epochs,
        num_minibatches=schedule.num_minibatches, gamma=algo.gamma, gae_lambda=algo.gae_lambda,
        clip_coef=algo.clip_coef, clip_value_loss=algo.clip_value_loss,
        value_coef=algo.value_coef, entropy_coef=algo.entropy_coef, grad_clip_norm=algo.grad_clip_norm,
        target_kl=algo.target_kl, normalize_advantages=algo.normalize_advantages, adam_eps=algo.adam_eps,
        device=device, seed=seeding.derive_seed(run.seed, "minibatches"),
        recompute_advantages=algo.recompute_advantages, compile=run.hardware.compile)
    if run.hardware.compile:
        print("torch.compile: on for the minibatch loss; the first minibatch steps compile (compile_s in the metrics)")
    obs_normalizer = ObservationNormalizer(spec.obs_shape, clip=algo.obs_clip) if algo.normalize_obs else None
    bounds = (spec.action_low, spec.action_high) if algo.rescale_actions else None
    try:
        actor = PPOActor(learner.network, obs_normalizer, device=device, deterministic_eval=algo.eval_deterministic,
                         seed=seeding.derive_seed(run.seed, "actor"), action_bounds=bounds)
    except ValueError as err:
        raise ConfigValueError("algo.rescale_actions", algo.rescale_actions,
                               f"false for {spec.env_id} ({err}; false sends the policy's actions as they are,"
                               " clipped to the bounds)") from None
    reward_scaler = RewardScaler(num_envs, algo.gamma, clip=algo.reward_clip) if algo.normalize_reward else None
    buffer = RolloutBuffer(schedule.rollout_transitions // num_envs, num_envs, spec.obs_shape, spec.action_shape,
                           device)
    return PPOAgent(learner, actor, buffer, reward_scaler, reward_clip=run.env.reward_clip)
