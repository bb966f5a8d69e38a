"""SAC's math as pure functions: the tanh-squashed Gaussian, the soft critic target, the critic,
actor and temperature losses.

Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications" (arXiv:1812.05905):
section 4.2 (the soft Bellman residual, its target through the soft state value, the
reparameterized policy objective), section 5 (the temperature objective, eq. 18), section 6 (two
Q functions, the minimum in the target and the policy loss, after Fujimoto et al. 2018) and
appendix C (the tanh change of variables, eq. 21). Tensors in,
tensors out; no optimizer, env, logger or config. Shapes: B = batch, A = action dims.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2 = math.log(2.0)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def tanh_log_det_jacobian(pre_tanh: torch.Tensor) -> torch.Tensor:
    """sum_i log(1 - tanh(u_i)^2) of the squashing a = tanh(u), per sample: [B, A] -> [B].

    1 - tanh(u)^2 = 4 / (e^u + e^-u)^2, so log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)):
    finite for every u, where the direct form gives log(0) = -inf once tanh(u) rounds to +-1
    (|u| > ~9 in float32).
    """
    return (2.0 * (LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))).sum(-1)  # [B]


def squashed_gaussian_sample(mean: torch.Tensor, log_std: torch.Tensor,
                             noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A reparameterized sample a = tanh(mean + std * noise) and its log-density (appendix C, eq. 21).

    mean, log_std, noise [B, A] (noise ~ N(0, I)) -> (actions [B, A] in (-1, 1), log_prob [B]):
    log pi(a|s) = log N(u; mean, std) - sum_i log(1 - tanh(u_i)^2), u = mean + std * noise.
    Gradients flow to mean and log_std through u (the reparameterization trick, section 4.2).
    """
    pre_tanh = mean + log_std.exp() * noise  # [B, A]
    # log N(u; mean, std) with (u - mean) / std = noise
    gaussian = (-0.5 * noise.pow(2) - log_std - LOG_SQRT_2PI).sum(-1)  # [B]
    return torch.tanh(pre_tanh), gaussian - tanh_log_det_jacobian(pre_tanh)  # [B, A], [B]


def soft_q_target(rewards: torch.Tensor, discounts: torch.Tensor, next_q1: torch.Tensor, next_q2: torch.Tensor,
                  next_log_prob: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """The soft Bellman target y = r + discount * (min(Q1', Q2')(s', a') - alpha log pi(a'|s')), a' ~ pi(.|s').

    rewards, discounts [B] (discount = gamma, or 0 when the step terminated; a truncated step keeps
    gamma and bootstraps from its final observation); next_q1, next_q2 [B] from the target
    critics at (s', a'); next_log_prob [B] of a'. The soft state value
    V(s') = E[Q(s', a') - alpha log pi(a'|s')] (section 4.2) is estimated by one sample. -> [B].
    """
    soft_value = torch.min(next_q1, next_q2) - alpha * next_log_prob  # [B]
    return rewards + discounts * soft_value  # [B]


def critic_loss(q1: torch.Tensor, q2: torch.Tensor, target: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """MSE(Q1, y) + MSE(Q2, y) (CleanRL's sum; the paper's J_Q halves each, which Adam barely notices).

    q1, q2 [B] from the online critics at the replayed (s, a); target [B] (no grad) -> scalar.
    """
    target = target.detach()  # [B]
    loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
    metrics = {"q1_mean": q1.detach().mean(), "q2_mean": q2.detach().mean(), "target_q_mean": target.mean()}
    return loss, metrics


def actor_loss(log_prob: torch.Tensor, q1: torch.Tensor, q2: torch.Tensor, alpha: torch.Tensor | float
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """mean(alpha log pi(a|s) - min(Q1, Q2)(s, a)) for a ~ pi(.|s) reparameterized (section 4.2's J_pi).

    log_prob [B] and q1, q2 [B] at the sampled actions (grad flows through a into the critics'
    inputs; the critics' own weights must not be stepped by this loss) -> scalar.
    """
    loss = (alpha * log_prob - torch.min(q1, q2)).mean()
    return loss, {"entropy": -log_prob.detach().mean()}


def alpha_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """J(alpha) = mean(-alpha (log pi(a|s) + H_target)), alpha = exp(log_alpha) (eq. 18; CleanRL's form).

    log_alpha: scalar parameter; log_prob [B] (no grad to the policy) -> scalar. d J / d log_alpha =
    alpha (entropy - H_target) with entropy = -mean(log pi): gradient descent raises alpha while the
    policy's entropy is below the target and lowers it while above.
    """
    return -(log_alpha.exp() * (log_prob.detach() + target_entropy)).mean(), {}
