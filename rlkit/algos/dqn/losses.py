"""The DQN family as one TD loss with a swappable target.

DQN, Double DQN (van Hasselt et al. 2016), expected-SARSA-style and soft Q-learning backups
(Haarnoja et al. 2017, eq. 6) differ only in how the next state's value is computed. Everything
here is pure: tensors in, tensors out; no optimizer, env, logger or config.

Shapes: B = batch, A = actions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlkit.algos.value_based.losses import boltzmann_policy  # noqa: F401  (the policy of the soft backups)


def next_state_value(q_next_eval: torch.Tensor, q_next_select: torch.Tensor, backup: str,
                     temperature: float | torch.Tensor) -> torch.Tensor:
    """V(s') from the target net's values ``q_next_eval`` [B, A].

    ``temperature`` T is a float or a 0-d float32 tensor (the learner's, so that a compiled loss keeps
    one graph while T decays); either gives the same numbers.

    ``q_next_select`` [B, A] chooses the action or the policy: the online net's values for Double
    DQN, else the same tensor as ``q_next_eval``.

    max:         Q_eval(s', argmax_a Q_select(s', a))
    expected:    sum_a pi(a) Q_eval(s', a),                 pi = softmax(Q_select / T)
    soft:        sum_a pi(a) (Q_eval(s', a) - T log pi(a))  (= T logsumexp(Q / T) when select == eval)
    report_soft: sum_a pi(a) Q_eval(s', a) - T H(pi)        (the course report's formula; its entropy
                 sign is flipped relative to soft Q-learning; kept only to reproduce the report)
    """
    q_eval = q_next_eval.float()  # [B, A]
    if backup == "max":
        best = q_next_select.argmax(dim=1, keepdim=True)  # [B, 1]
        return q_eval.gather(1, best).squeeze(1)  # [B]
    logits = q_next_select.float() / temperature  # [B, A]
    log_pi = torch.log_softmax(logits, dim=1)  # [B, A]
    pi = log_pi.exp()  # [B, A]
    expected = (pi * q_eval).sum(dim=1)  # [B]
    if backup == "expected":
        return expected
    entropy = -(pi * log_pi).sum(dim=1)  # [B]
    if backup == "soft":
        return expected + temperature * entropy  # [B]
    if backup == "report_soft":
        return expected - temperature * entropy  # [B]
    raise ValueError(f"unknown backup '{backup}'")


def td_target(rewards: torch.Tensor, discounts: torch.Tensor, next_value: torch.Tensor,
              target_clip: float | None) -> torch.Tensor:
    """y = R^(n) + discount * V(s_{t+n}); rewards, discounts, next_value: [B] -> [B] float32.

    ``discounts`` is gamma^k for a k-step return, 0 when the episode terminated (not truncated).
    """
    target = rewards.float() + discounts.float() * next_value.float()  # [B]
    if target_clip is not None:
        target = target.clamp(-target_clip, target_clip)  # [B]
    return target.detach()


def td_loss(q_taken: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean Huber (delta 1) or squared TD error; q_taken, target: [B] -> scalar."""
    if kind == "huber":
        return F.smooth_l1_loss(q_taken.float(), target, beta=1.0)
    if kind == "mse":
        return F.mse_loss(q_taken.float(), target)
    raise ValueError(f"unknown td_loss '{kind}'")


def dqn_loss(q_online: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor,
             q_next_target: torch.Tensor, q_next_online: torch.Tensor | None, *, backup: str,
             temperature: float | torch.Tensor, loss_kind: str, target_clip: float | None
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The TD loss of the DQN family.

    q_online [B, A] at s_t; actions [B] int64; rewards [B] n-step returns; discounts [B];
    q_next_target [B, A] target net at s_{t+n}; q_next_online [B, A] online net at s_{t+n} for
    Double DQN (None = vanilla: the target net selects too).
    """
    select = q_next_online if q_next_online is not None else q_next_target  # [B, A]
    v_next = next_state_value(q_next_target, select, backup, temperature)  # [B]
    target = td_target(rewards, discounts, v_next, target_clip)  # [B]
    q_taken = q_online.float().gather(1, actions.long().unsqueeze(1)).squeeze(1)  # [B]
    loss = td_loss(q_taken, target, loss_kind)
    metrics = {
        "mean_q": q_taken.detach().mean(),
        "mean_target": target.mean(),
        "td_abs": (q_taken.detach() - target).abs().mean(),
    }
    return loss, metrics
