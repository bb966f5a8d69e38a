"""PPO for continuous actions: clipped surrogate, GAE, Gaussian policy, running normalization."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from rlkit.algos import ALGOS
from rlkit.algos.ppo.actor import PPOActor
from rlkit.algos.ppo.learner import PPOLearner
from rlkit.algos.registry_entry import AlgoEntry
from rlkit.config import OnPolicySchedule, PPOConfig, RootConfig
from rlkit.networks import NETWORKS
from rlkit.normalizers import ObservationNormalizer, RewardScaler
from rlkit import seeding

if TYPE_CHECKING:
    from rlkit.envs.base import EnvSpec


def build_ppo(run: RootConfig, spec: EnvSpec, device: torch.device
              ) -> tuple[PPOLearner, PPOActor, RewardScaler | None]:
    """The learner, the actor (with the observation normalizer) and the training reward scaler.

    Raises ValueError for a network that is not a policy network (build.py names network.name).
    """
    algo: PPOConfig = run.algo
    schedule: OnPolicySchedule = run.schedule
    if run.network.name != "actor_critic":
        raise ValueError(f"algo=ppo needs network=actor_critic, not {run.network.name}")
    network = NETWORKS.get("actor_critic")(run.network, spec.obs_shape, spec.frame_dtype, spec.action_shape)
    learner = PPOLearner(
        network, lr=schedule.lr, anneal_lr=schedule.anneal_lr, total_env_steps=schedule.total_env_steps,
        num_epochs=schedule.num_epochs, num_minibatches=schedule.num_minibatches, gamma=algo.gamma,
        gae_lambda=algo.gae_lambda, clip_coef=algo.clip_coef, clip_value_loss=algo.clip_value_loss,
        value_coef=algo.value_coef, entropy_coef=algo.entropy_coef, max_grad_norm=algo.max_grad_norm,
        target_kl=algo.target_kl, normalize_advantages=algo.normalize_advantages, adam_eps=algo.adam_eps,
        device=device, seed=seeding.derive_seed(run.seed, "minibatches"),
        recompute_advantages=algo.recompute_advantages)
    obs_normalizer = ObservationNormalizer(spec.obs_shape, clip=algo.obs_clip) if algo.normalize_obs else None
    bounds = (spec.action_low, spec.action_high) if algo.rescale_actions else None
    actor = PPOActor(learner.network, obs_normalizer, device=device, deterministic_eval=algo.eval_deterministic,
                     seed=seeding.derive_seed(run.seed, "actor"), action_bounds=bounds)
    reward_scaler = (RewardScaler(run.hardware.num_envs, algo.gamma, clip=algo.reward_clip)
                     if algo.normalize_reward else None)
    return learner, actor, reward_scaler


ALGOS.register("ppo")(AlgoEntry(build=build_ppo, loop="on_policy", action_kind="continuous",
                                schedule_kind="on_policy"))
