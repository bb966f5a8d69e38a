"""IQN's math: quantile Huber loss, distributional targets, risk-distorted acting values.

Dabney et al. 2018, "Implicit Quantile Networks for Distributional RL", eq. (3)-(4) and
section 3.1 (distortion risk measures). Pure functions. Shapes: B batch, N online taus,
M target taus (N' in the paper), K acting taus, A actions.
"""

from __future__ import annotations

import torch

from rlkit.algos.value_based.losses import boltzmann_policy

_SQRT2 = 2.0**0.5


def quantile_huber_loss(pred: torch.Tensor, taus: torch.Tensor, target: torch.Tensor, kappa: float
                        ) -> torch.Tensor:
    """Eq. (4): mean over batch of sum_i mean_j rho^kappa_{tau_i}(target_j - pred_i).

    pred [B, N] quantile values of the taken action at ``taus`` [B, N]; target [B, M] (no grad).
    rho^kappa_tau(d) = |tau - 1{d < 0}| * L_kappa(d) / kappa with the Huber loss L_kappa;
    kappa = 0 is plain quantile regression, rho_tau(d) = |tau - 1{d < 0}| * |d|.
    """
    delta = target.unsqueeze(1) - pred.float().unsqueeze(2)  # [B, N, M]
    abs_delta = delta.abs()  # [B, N, M]
    if kappa > 0:
        huber = torch.where(abs_delta <= kappa, 0.5 * delta**2, kappa * (abs_delta - 0.5 * kappa))  # [B, N, M]
        elementwise = huber / kappa  # [B, N, M]
    else:
        elementwise = abs_delta  # [B, N, M]
    weight = (taus.float().unsqueeze(2) - (delta.detach() < 0).float()).abs()  # [B, N, M]
    return (weight * elementwise).mean(dim=2).sum(dim=1).mean()


def distort_taus(taus: torch.Tensor, risk_measure: str, eta: float) -> torch.Tensor:
    """Section 3.1: beta(tau) for the taus that choose actions. taus [..] uniform in (0, 1) -> same shape.

    Used both when acting and (with IQNLoss.risk_in_target) for a* in the target, so the target
    bootstraps from the action the risk-sensitive policy takes (section 3).

    neutral: tau; cvar: eta * tau (mean of the lower eta tail); wang: Phi(Phi^-1(tau) + eta).
    """
    if risk_measure == "neutral":
        return taus
    if risk_measure == "cvar":
        return eta * taus
    if risk_measure == "wang":
        normal = torch.distributions.Normal(0.0, 1.0)
        return normal.cdf(normal.icdf(taus.clamp(1e-6, 1 - 1e-6)) + eta)
    raise ValueError(f"unknown risk_measure '{risk_measure}'")


def distributional_target(rewards: torch.Tensor, discounts: torch.Tensor, next_quantiles: torch.Tensor,
                          select_q: torch.Tensor, backup: str, temperature: float | torch.Tensor,
                          target_clip: float | None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Target samples y_j = R + discount * (Z(s', a'_j, tau'_j) + entropy term). -> [B, M].

    next_quantiles [B, M, A]: the target net at M target taus; select_q [B, A]: the values that
    choose a' (online net's mean over taus for Double-style selection, else the target net's;
    over risk-distorted taus when the policy is risk-sensitive, so a' is the one it would act on).
    max: a' = argmax select_q for every j. Other backups keep a distribution: a'_j ~ pi for each
    target tau j, pi = softmax(select_q / T), with the entropy term of the backup per sample:
    expected: 0; soft: -T log pi(a'_j) (mean: +T H(pi)); report_soft: +T log pi(a'_j) (mean: -T H).
    T is a float or a 0-d float32 tensor (the learner's, one compiled graph for every T).
    """
    batch, num_target, _ = next_quantiles.shape
    if backup == "max":
        best = select_q.argmax(dim=1)  # [B]
        next_actions = best.unsqueeze(1).expand(batch, num_target)  # [B, M]
        bonus = torch.zeros(batch, num_target, device=next_quantiles.device)  # [B, M]
    else:
        pi = boltzmann_policy(select_q, temperature)  # [B, A]
        next_actions = torch.multinomial(pi, num_target, replacement=True, generator=generator)  # [B, M]
        log_pi = torch.log(pi.gather(1, next_actions).clamp_min(1e-30))  # [B, M]
        if backup == "expected":
            bonus = torch.zeros_like(log_pi)
        elif backup == "soft":
            bonus = -temperature * log_pi  # [B, M]
        elif backup == "report_soft":
            bonus = temperature * log_pi  # [B, M]
        else:
            raise ValueError(f"unknown backup '{backup}'")
    z_next = next_quantiles.float().gather(2, next_actions.unsqueeze(2)).squeeze(2)  # [B, M]
    target = rewards.float().unsqueeze(1) + discounts.float().unsqueeze(1) * (z_next + bonus)  # [B, M]
    if target_clip is not None:
        target = target.clamp(-target_clip, target_clip)
    return target.detach()
