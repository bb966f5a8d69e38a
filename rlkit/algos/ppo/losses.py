"""PPO's math as pure functions: Gaussian log-probs, GAE, the clipped surrogate, the value loss.

Schulman et al. 2017 ("Proximal Policy Optimization Algorithms"), eq. 7 for the clipped
surrogate; Schulman et al. 2016 ("High-Dimensional Continuous Control Using Generalized
Advantage Estimation"), eq. 16 for GAE. Tensors in, tensors out; no optimizer, env, logger or
config. Shapes: T = rollout steps per env, E = envs, B = batch (minibatch), A = action dims.
"""

from __future__ import annotations

import math

import numpy as np
import torch

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_log_prob(actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log N(actions; mean, exp(log_std)^2) summed over action dims.

    actions, mean [B, A]; log_std [A] (state-independent) or [B, A] -> [B].
    """
    z = (actions - mean) * torch.exp(-log_std)  # [B, A]
    return (-0.5 * z.pow(2) - log_std - LOG_SQRT_2PI).sum(-1)  # [B]


def gaussian_entropy(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of the diagonal Gaussian, sum over dims of 1/2 + log(sqrt(2 pi)) + log_std: [B]."""
    return (log_std.expand_as(mean) + 0.5 + LOG_SQRT_2PI).sum(-1)  # [B]


def generalized_advantages(rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor,
                           terminated: torch.Tensor, truncated: torch.Tensor, valid: torch.Tensor,
                           gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(gamma, lambda) advantages and lambda-returns over a rollout with NEXT_STEP resets.

    rewards, values, terminated, truncated, valid: [T, E]; last_value [E] is V of the obs after the
    rollout. Row t holds obs_t, V(obs_t) and the reward of the step taken from obs_t. With NEXT_STEP
    autoreset the obs that follows a done step is the episode's final obs, and the row after a done
    is the reset step (``valid`` False: its action was ignored, it is no transition), whose value is
    V(final obs). So for every valid t the successor value is simply values[t + 1] (or last_value):

      delta_t = r_t + gamma (1 - terminated_t) V_{t+1} - V_t    (a truncation bootstraps from
                                                                 V(final obs); a termination does not)
      A_t     = delta_t + gamma lambda (1 - done_t) A_{t+1}     (advantages never cross an episode end)

    Invalid rows get advantage and return 0 and must be left out of the losses.
    Returns (advantages [T, E], returns [T, E] = advantages + values), both float32, no grad.
    """
    values = values.float()  # [T, E]
    next_values = torch.cat([values[1:], last_value.float().unsqueeze(0)], dim=0)  # [T, E]
    not_terminated = 1.0 - terminated.float()  # [T, E]
    not_done = 1.0 - (terminated | truncated).float()  # [T, E]
    deltas = rewards.float() + gamma * not_terminated * next_values - values  # [T, E]
    deltas = deltas * valid.float()  # [T, E]
    # the carry factor gamma lambda (1 - done_t), and 0 on a reset row: it carries nothing backwards
    carries = gamma * gae_lambda * not_done * valid.float()  # [T, E]
    advantages = torch.from_numpy(backward_recurrence(deltas.detach().cpu().numpy(), carries.cpu().numpy()))
    advantages = advantages.to(values.device)  # [T, E]
    returns = (advantages + values) * valid.float()  # [T, E]
    return advantages, returns.detach()


def backward_recurrence(deltas: np.ndarray, carries: np.ndarray) -> np.ndarray:
    """x_t = deltas_t + carries_t x_{t+1}, x_T = 0, in float32; deltas, carries [T, E] -> x [T, E].

    A loop over T in numpy: one rollout has thousands of steps, and a torch op per step cost
    more than the rest of an update's bookkeeping (float32 throughout, so the same numbers)."""
    out = np.empty_like(deltas)  # [T, E]
    running = np.zeros(deltas.shape[1:], dtype=deltas.dtype)  # [E]
    for t in range(deltas.shape[0] - 1, -1, -1):
        running = deltas[t] + carries[t] * running  # [E]
        out[t] = running
    return out


def normalize(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(A - mean) / (std + eps) over the minibatch; [B] -> [B]. A single sample is only centred."""
    centred = advantages - advantages.mean()  # [B]
    if advantages.numel() < 2:
        return centred
    return centred / (advantages.std() + eps)  # [B]


def clipped_surrogate_loss(new_log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
                           clip_coef: float) -> tuple[torch.Tensor, torch.Tensor]:
    """L^CLIP as a loss: mean(max(-A r, -A clip(r, 1 - eps, 1 + eps))), r = pi_new / pi_old.

    new_log_prob, old_log_prob, advantages: [B] -> (loss scalar, log_ratio [B]). At r = 1 the loss is
    -mean(A); past 1 +- eps in the direction the advantage favours, the clipped term is constant and
    the gradient of that sample is 0.
    """
    log_ratio = new_log_prob - old_log_prob  # [B]
    ratio = log_ratio.exp()  # [B]
    unclipped = -advantages * ratio  # [B]
    clipped = -advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)  # [B]
    return torch.max(unclipped, clipped).mean(), log_ratio


def value_loss(new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               clip_coef: float | None) -> torch.Tensor:
    """0.5 mean((V - R)^2); with ``clip_coef`` the pessimistic max with V clipped to old +- clip_coef.

    new_values, old_values, returns: [B] -> scalar (CleanRL's clip_vloss, PPO2's value clipping).
    """
    unclipped = (new_values - returns).pow(2)  # [B]
    if clip_coef is None:
        return 0.5 * unclipped.mean()
    clipped_values = old_values + (new_values - old_values).clamp(-clip_coef, clip_coef)  # [B]
    clipped = (clipped_values - returns).pow(2)  # [B]
    return 0.5 * torch.max(unclipped, clipped).mean()


def approx_kl(log_ratio: torch.Tensor) -> torch.Tensor:
    """KL(pi_old || pi_new) estimated by mean((r - 1) - log r), r = pi_new / pi_old: unbiased, >= 0
    (Schulman, "Approximating KL divergence", 2020). log_ratio [B] -> scalar."""
    return ((log_ratio.exp() - 1.0) - log_ratio).mean()


def clip_fraction(log_ratio: torch.Tensor, clip_coef: float) -> torch.Tensor:
    """Fraction of samples whose ratio is outside [1 - eps, 1 + eps]; log_ratio [B] -> scalar."""
    return ((log_ratio.exp() - 1.0).abs() > clip_coef).float().mean()


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """1 - Var(R - V) / Var(R): 1 = perfect value function, 0 = no better than a constant. [N] -> scalar
    (NaN when the returns have no variance)."""
    var_returns = returns.var(unbiased=False)
    if var_returns == 0:
        return torch.tensor(float("nan"))
    return 1.0 - (returns - values).var(unbiased=False) / var_returns


def ppo_loss(mean: torch.Tensor, log_std: torch.Tensor, new_values: torch.Tensor, actions: torch.Tensor,
             old_log_prob: torch.Tensor, old_values: torch.Tensor, advantages: torch.Tensor, returns: torch.Tensor,
             *, clip_coef: float, clip_value_loss: bool, value_coef: float, entropy_coef: float,
             normalize_advantages: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss = policy loss - entropy_coef * entropy + value_coef * value loss, on one minibatch.

    mean [B, A], log_std [A], new_values [B] from the current network; actions [B, A] (unclipped
    samples); old_log_prob, old_values, advantages, returns [B] from the rollout.
    """
    new_log_prob = gaussian_log_prob(actions, mean, log_std)  # [B]
    if normalize_advantages:
        advantages = normalize(advantages)  # [B]
    policy_loss, log_ratio = clipped_surrogate_loss(new_log_prob, old_log_prob, advantages, clip_coef)
    v_loss = value_loss(new_values, old_values, returns, clip_coef if clip_value_loss else None)
    if entropy_coef:
        entropy = gaussian_entropy(mean, log_std).mean()
        loss = policy_loss - entropy_coef * entropy + value_coef * v_loss
    else:  # the same loss and gradients as with a 0 * entropy term, without its graph in the backward pass
        with torch.no_grad():
            entropy = gaussian_entropy(mean, log_std).mean()
        loss = policy_loss + value_coef * v_loss
    with torch.no_grad():
        metrics = {"policy_loss": policy_loss.detach(), "value_loss": v_loss.detach(), "entropy": entropy.detach(),
                   "approx_kl": approx_kl(log_ratio), "clip_fraction": clip_fraction(log_ratio, clip_coef)}
    return loss, metrics
