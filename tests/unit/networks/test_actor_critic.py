"""The actor-critic network: orthogonal init gains, separate vs shared trunk, refusal for discrete algos."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlkit.networks.actor_critic import ActorCriticConfig
from rlkit.networks import NETWORKS
from rlkit.networks.actor_critic import GaussianActorCritic, HostActorCritic


def build(trunk: str) -> GaussianActorCritic:
    torch.manual_seed(0)
    return NETWORKS.get("actor_critic")(ActorCriticConfig(trunk=trunk), (1, 11), np.float32, (3,))


def singular_values(layer: torch.nn.Linear) -> torch.Tensor:
    return torch.linalg.svdvals(layer.weight.detach())


@pytest.mark.parametrize("trunk", ["separate", "shared"])
def test_orthogonal_init_gains_and_outputs(trunk):
    net = build(trunk)
    hidden = [m for m in net.policy_body if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in hidden] == [(64, 11), (64, 64)]
    for layer in hidden:
        torch.testing.assert_close(singular_values(layer), torch.full((min(layer.weight.shape),), math.sqrt(2.0)))
        assert (layer.bias == 0).all()
    torch.testing.assert_close(singular_values(net.mean_head), torch.full((3,), 0.01))
    torch.testing.assert_close(singular_values(net.value_head), torch.full((1,), 1.0))
    mean, log_std, value = net(torch.randn(5, 1, 11))
    assert mean.shape == (5, 3) and log_std.shape == (3,) and value.shape == (5,)
    assert mean.abs().max() < 0.1 and (log_std == -0.5).all()  # the config default: std 0.61
    torch.testing.assert_close(net.value(torch.ones(2, 1, 11)), net(torch.ones(2, 1, 11))[2])


def test_shared_trunk_has_one_mlp_and_separate_has_two():
    separate, shared = build("separate"), build("shared")
    n_sep = sum(p.numel() for p in separate.parameters())
    n_shared = sum(p.numel() for p in shared.parameters())
    trunk = 11 * 64 + 64 + 64 * 64 + 64
    heads = 64 * 3 + 3 + 64 + 1 + 3
    assert (n_sep, n_shared) == (2 * trunk + heads, trunk + heads)
    # in the shared net the value loss reaches the policy's features
    shared(torch.randn(4, 1, 11))[2].sum().backward()
    assert shared.policy_body[1].weight.grad is not None
    separate(torch.randn(4, 1, 11))[2].sum().backward()
    assert separate.policy_body[1].weight.grad is None


def test_refused_without_continuous_actions():
    with pytest.raises(ValueError, match="continuous actions"):
        NETWORKS.get("actor_critic")(ActorCriticConfig(), (1, 4), np.float32)


@pytest.mark.parametrize("trunk", ["separate", "shared"])
def test_functional_forward_equals_the_modules(trunk):
    """forward calls F.linear and tanh on the modules' parameters: bit for bit what calling them gives."""
    net = build(trunk)
    obs = torch.randn(5, 1, 11)
    policy = net.policy_body(obs)
    value = policy if net.value_body is None else net.value_body(obs)
    mean, log_std, values = net(obs)
    assert torch.equal(mean, net.mean_head(policy))
    assert torch.equal(values, net.value_head(value).squeeze(-1))
    assert torch.equal(net.value(obs), values)
    assert log_std is net.log_std


@pytest.mark.parametrize("trunk", ["separate", "shared"])
def test_host_forward_follows_the_parameters_and_agrees_with_forward(trunk):
    """The numpy forward reads the parameters' memory: it agrees with forward to float32 rounding,
    also after an optimizer step and a load_state_dict, which update the parameters in place."""
    net = build(trunk)
    host = HostActorCritic(net)
    obs = np.random.default_rng(0).normal(size=(5, 1, 11)).astype(np.float32)

    def agree() -> None:
        mean, log_std, values = net(torch.from_numpy(obs))
        host_mean, host_log_std, host_values = host(obs)
        assert host_mean.dtype == host_values.dtype == np.float32 and host_values.shape == (5,)
        np.testing.assert_allclose(host_mean, mean.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(host_values, values.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(host_log_std, log_std.detach().numpy())

    agree()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1, fused=True)
    mean, log_std, values = net(torch.from_numpy(obs))
    (mean.sum() + values.sum() + log_std.sum()).backward()
    optimizer.step()
    agree()
    before = host(obs)[0].copy()
    net.load_state_dict(build(trunk).state_dict())
    agree()
    assert not np.allclose(before, host(obs)[0])  # the loaded weights, not the stepped ones
