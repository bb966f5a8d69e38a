"""Math the value-based algorithms share (pure functions). Shapes: B = batch, A = actions."""

from __future__ import annotations

import torch


def boltzmann_policy(q: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
    """pi(a) = softmax(q / T), computed in float32 with the max subtracted (stable for |q| ~ 1e4).
    T is a float or a 0-d float32 tensor (the learner's, one compiled graph for every T)."""
    logits = q.float() / temperature  # [B, A]
    logits = logits - logits.max(dim=1, keepdim=True).values  # [B, A], max is 0
    return torch.softmax(logits, dim=1)  # [B, A]
