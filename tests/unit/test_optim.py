"""The learners' gradient helpers equal torch's own, number for number."""

from __future__ import annotations

import math

import pytest
import torch

from rlkit.optim import clear_grads, clip_grad_norm


def params_with_grads(scale: float) -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    params = list(net.parameters())
    for param in params:
        param.grad = torch.randn_like(param) * scale
    return params


@pytest.mark.parametrize("max_norm", [0.5, 100.0, math.inf])
def test_clip_grad_norm_equals_torch(max_norm):
    ours, theirs = params_with_grads(3.0), params_with_grads(3.0)
    norm = clip_grad_norm(ours, max_norm)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert torch.equal(norm, expected)  # the norm before clipping
    for a, b in zip(ours, theirs):
        assert torch.equal(a.grad, b.grad)
    if max_norm == 0.5:  # the clipped gradients have the asked norm
        total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours]))
        assert total.item() == pytest.approx(0.5, rel=1e-5)


def test_clip_grad_norm_skips_missing_grads_and_clear_grads_drops_them():
    params, theirs = params_with_grads(1.0), params_with_grads(1.0)
    params[0].grad = theirs[0].grad = None
    assert torch.equal(clip_grad_norm(params, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0))
    clear_grads(params)
    assert all(p.grad is None for p in params)
    assert clip_grad_norm(params, 1.0).item() == 0.0
