"""Optimizers shared by the learners."""

from __future__ import annotations

from typing import Iterable

import torch


def make_adam(params: Iterable[torch.nn.Parameter], *, lr: float, eps: float) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one (CPU since 2.4, CUDA): one kernel for all
    parameters instead of ~6 per tensor, measured 3x faster steps for our small nets on a CPU."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)
    except RuntimeError:  # no fused Adam for this device or torch version
        return torch.optim.Adam(params, lr=lr, eps=eps)
