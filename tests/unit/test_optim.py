"""The learners' gradient helpers equal torch's own, number for number."""

from __future__ import annotations

import math

import pytest
import torch

from rlkit.optim import adam_step, clear_grads, clip_grad_norm, make_adam


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


def test_clip_grad_norm_below_the_bound_leaves_the_gradients_as_torch_does():
    ours, theirs = params_with_grads(0.01), params_with_grads(0.01)
    before = [p.grad.clone() for p in ours]
    assert torch.equal(clip_grad_norm(ours, 10.0), torch.nn.utils.clip_grad_norm_(theirs, 10.0))
    for a, b, c in zip(ours, theirs, before):
        assert torch.equal(a.grad, b.grad) and torch.equal(a.grad, c)


def make_net_and_adam(seed: int) -> tuple[list[torch.nn.Parameter], torch.optim.Adam]:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    params = list(net.parameters())
    return params, make_adam(params, lr=3e-3, eps=1e-5)


def test_adam_step_equals_torch_step_for_step():
    (ours, our_adam), (theirs, their_adam) = make_net_and_adam(0), make_net_and_adam(0)
    assert our_adam.param_groups[0]["fused"]
    generator = torch.Generator().manual_seed(1)
    for step in range(6):
        grads = [torch.randn(p.shape, generator=generator) for p in ours]
        for params in (ours, theirs):
            for param, grad in zip(params, grads):
                param.grad = None if (step == 3 and param is params[1]) else grad.clone()  # a missing grad
        for optimizer in (our_adam, their_adam):
            optimizer.param_groups[0]["lr"] = 3e-3 * (1.0 - step / 10)  # the learners anneal the lr
        adam_step(our_adam)
        their_adam.step()
        for a, b in zip(ours, theirs):
            assert torch.equal(a, b)
    for a, b in zip(ours, theirs):  # the same state, so checkpoints are interchangeable
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(our_adam.state[a][key], their_adam.state[b][key])
    assert our_adam.state[ours[1]]["step"].item() == 5  # the step without a grad left its counter


def test_adam_step_falls_back_to_torch_for_other_adams():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3))]
    optimizer = torch.optim.Adam(params, lr=0.1, amsgrad=True)
    params[0].grad = torch.ones(3)
    adam_step(optimizer)
    adam_step(optimizer)
    assert optimizer.state[params[0]]["step"].item() == 2
    assert "max_exp_avg_sq" in optimizer.state[params[0]]
