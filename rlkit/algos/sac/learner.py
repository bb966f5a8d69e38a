"""SAC's learner: owns the twin critics' Polyak targets, three Adams (critic, actor, temperature)
and the temperature; turns one replayed batch into one critic update and, every
``policy_update_period_updates`` critic updates, the policy (and temperature) updates.

Per ``update`` (one batch):
  1. the soft target from the target critics at a' ~ pi(.|s') (no grad); one critic step on
     MSE(Q1, y) + MSE(Q2, y); the target critics move ``polyak_tau`` toward the online ones
  2. after every k-th critic update (k = ``policy_update_period_updates``): k policy steps on this
     batch (CleanRL's compensated delay: actor and critic step equally often) or one (TD3's delay);
     each policy step is followed by a temperature step when the temperature is tuned
The temperature step reuses the policy step's log-probs (detached), as SB3 does; CleanRL draws
fresh ones from the updated policy. The math lives in ``losses.py``; the learner never sees the env.

Metrics (means since the last ``pop_metrics``): ``loss`` is the critic loss and ``grad_norm`` the
critics' gradient norm before clipping (the health verdict reads it); ``actor_loss``,
``actor_grad_norm``, ``entropy`` (-mean log pi of the policy steps' samples), ``alpha_loss``
(tuned temperature only), ``alpha``, ``q1_mean``, ``q2_mean``, ``target_q_mean``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from rlkit.algos.common import MetricAccumulator, NonFiniteError, tensor_statistics
from rlkit.algos.sac import losses
from rlkit.algos.sac.networks import SACNetwork
from rlkit.buffers import ReplayBatch
from rlkit.optim import adam_step, clear_grads, clip_grad_norm, make_adam


@dataclass
class SACBatch:
    obs: torch.Tensor  # [B, *obs_shape] float32
    actions: torch.Tensor  # [B, A] float32, the policy's units ([-1, 1])
    rewards: torch.Tensor  # [B] float32
    discounts: torch.Tensor  # [B] float32: gamma, 0 on termination
    next_obs: torch.Tensor  # [B, *obs_shape] float32


class SACLearner:
    def __init__(self, network: SACNetwork, *, critic_lr: float, actor_lr: float, alpha_lr: float, adam_eps: float,
                 polyak_tau: float, fixed_alpha: float | None, init_alpha: float, target_entropy: float,
                 policy_update_period_updates: int, compensate_policy_delay: bool, grad_clip_norm: float | None,
                 device: torch.device, seed: int) -> None:
        self.network = network.to(device)
        self.policy, self.critic = self.network.policy, self.network.critic
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.critic_optimizer = make_adam(self.critic.parameters(), lr=critic_lr, eps=adam_eps)
        self.actor_optimizer = make_adam(self.policy.parameters(), lr=actor_lr, eps=adam_eps)
        self.tune_alpha = fixed_alpha is None
        start = init_alpha if fixed_alpha is None else fixed_alpha
        self.log_alpha = torch.tensor(math.log(start), device=device, requires_grad=self.tune_alpha)
        self.alpha_optimizer = make_adam([self.log_alpha], lr=alpha_lr, eps=adam_eps) if self.tune_alpha else None
        self.target_entropy = float(target_entropy)
        self.polyak_tau = polyak_tau
        self.policy_update_period_updates = policy_update_period_updates
        self.policy_steps_per_period = policy_update_period_updates if compensate_policy_delay else 1
        self.grad_clip_norm = math.inf if grad_clip_norm is None else grad_clip_norm
        self.device = device
        self.generator = torch.Generator(device=device).manual_seed(seed)  # the policy's samples in the losses
        self.num_updates = 0  # critic updates
        self.num_policy_updates = 0
        self.critic_metrics = MetricAccumulator()
        self.actor_metrics = MetricAccumulator()
        self._critic_params = list(self.critic.parameters())
        self._target_params = list(self.target_critic.parameters())

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()  # scalar

    def to_torch(self, batch: ReplayBatch) -> SACBatch:
        # (on a GPU the replay sends the batch as device tensors, in one copy: they pass through)
        def put(array: np.ndarray | torch.Tensor) -> torch.Tensor:
            tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(array)
            return tensor.to(self.device, non_blocking=True).float()
        return SACBatch(put(batch.obs), put(batch.actions), put(batch.rewards), put(batch.discounts),
                        put(batch.next_obs))

    def _sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.policy(obs)  # [B, A], [B, A]
        noise = torch.randn(mean.shape, generator=self.generator, device=self.device)  # [B, A]
        return losses.squashed_gaussian_sample(mean, log_std, noise)  # [B, A], [B]

    def update(self, batch: ReplayBatch, env_step: int) -> None:
        """One critic step on the batch (and the policy steps due after it); env_step is for diagnostics."""
        tb = self.to_torch(batch)
        alpha = self.alpha
        with torch.no_grad():
            next_actions, next_log_prob = self._sample(tb.next_obs)  # [B, A], [B]
            next_q1, next_q2 = self.target_critic(tb.next_obs, next_actions)  # [B], [B]
            target = losses.soft_q_target(tb.rewards, tb.discounts, next_q1, next_q2, next_log_prob, alpha)  # [B]
        q1, q2 = self.critic(tb.obs, tb.actions)  # [B], [B]
        loss, metrics = losses.critic_loss(q1, q2, target)
        grad_norm = self._step(self.critic_optimizer, loss, self._critic_params)
        self._check_finite("loss", loss, grad_norm, env_step, tb)
        with torch.no_grad():
            torch._foreach_lerp_(self._target_params, self._critic_params, self.polyak_tau)
        self.num_updates += 1
        self.critic_metrics.add(dict(metrics, loss=loss.detach()), grad_norm)
        if self.num_updates % self.policy_update_period_updates == 0:
            for _ in range(self.policy_steps_per_period):
                self._policy_step(tb.obs, env_step, tb)

    def _policy_step(self, obs: torch.Tensor, env_step: int, tb: SACBatch) -> None:
        alpha = self.alpha
        actions, log_prob = self._sample(obs)  # [B, A], [B]
        self.critic.requires_grad_(False)  # the actor loss differentiates through Q's input only
        try:
            q1, q2 = self.critic(obs, actions)  # [B], [B]
        finally:
            self.critic.requires_grad_(True)
        loss, metrics = losses.actor_loss(log_prob, q1, q2, alpha)
        grad_norm = self._step(self.actor_optimizer, loss, list(self.policy.parameters()))
        self._check_finite("actor_loss", loss, grad_norm, env_step, tb)
        metrics = dict(metrics, actor_loss=loss.detach())
        if self.tune_alpha:
            a_loss, _ = losses.alpha_loss(self.log_alpha, log_prob, self.target_entropy)
            clear_grads([self.log_alpha])
            a_loss.backward()
            adam_step(self.alpha_optimizer)
            metrics["alpha_loss"] = a_loss.detach()
        self.num_policy_updates += 1
        self.actor_metrics.add(metrics, grad_norm)

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        clear_grads(params)  # the optimizer's parameters
        loss.backward()
        grad_norm = clip_grad_norm(params, self.grad_clip_norm)  # the norm before clipping
        adam_step(optimizer)
        return grad_norm

    def _check_finite(self, metric: str, loss: torch.Tensor, grad_norm: torch.Tensor, env_step: int,
                      tb: SACBatch) -> None:
        loss_ok, grad_ok = bool(torch.isfinite(loss)), bool(torch.isfinite(grad_norm))
        if not (loss_ok and grad_ok):
            raise NonFiniteError(metric if not loss_ok else f"{metric}_grad_norm", env_step, {
                "loss": float(loss.detach()), "grad_norm": float(grad_norm), "alpha": float(self.alpha),
                "batch": tensor_statistics(obs=tb.obs, actions=tb.actions, rewards=tb.rewards,
                                           discounts=tb.discounts, next_obs=tb.next_obs)})

    def pop_metrics(self) -> dict[str, float]:
        """Means since the last call (grad norms before clipping), the temperature and the counters."""
        out = self.critic_metrics.pop()
        actor = self.actor_metrics.pop()
        for key in ("grad_norm", "grad_norm_max", "grad_norm_std"):
            if key in actor:
                actor[f"actor_{key}"] = actor.pop(key)
        return {**out, **actor, "alpha": float(self.alpha), "updates": self.num_updates,
                "policy_updates": self.num_policy_updates}

    def recent_grad_norms(self) -> list[float]:
        return self.critic_metrics.recent_grad_norms()

    def weights_finite(self) -> bool:
        tensors = [*self.network.parameters(), *self.target_critic.parameters(), self.log_alpha]
        return all(bool(torch.isfinite(t).all()) for t in tensors)

    def state_dict(self) -> dict:
        return {"network": self.network.state_dict(), "target_critic": self.target_critic.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict(),
                "actor_optimizer": self.actor_optimizer.state_dict(),
                "alpha_optimizer": self.alpha_optimizer.state_dict() if self.alpha_optimizer else None,
                "log_alpha": self.log_alpha.detach().clone(), "generator": self.generator.get_state(),
                "num_updates": self.num_updates, "num_policy_updates": self.num_policy_updates}

    def load_state_dict(self, state: dict) -> None:
        self.network.load_state_dict(state["network"])
        self.target_critic.load_state_dict(state["target_critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        if self.alpha_optimizer is not None:
            self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.generator.set_state(state["generator"].cpu())
        self.num_updates = int(state["num_updates"])
        self.num_policy_updates = int(state["num_policy_updates"])
