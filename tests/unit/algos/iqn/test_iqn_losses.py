import math

import numpy as np
import pytest
import torch
from torch import nn

from rlkit.algos.iqn import losses
from rlkit.algos.iqn.learner import mean_q
from rlkit.networks.nature_cnn import NatureCNNConfig
from rlkit.networks import NETWORKS
from rlkit.networks.quantile import ImplicitQuantileNetwork


def reference_quantile_huber(pred, taus, target, kappa):
    """Element-by-element loop over eq. (4)."""
    batch, n = pred.shape
    m = target.shape[1]
    total = 0.0
    for b in range(batch):
        per_state = 0.0
        for i in range(n):
            for j in range(m):
                d = float(target[b, j] - pred[b, i])
                weight = abs(float(taus[b, i]) - (1.0 if d < 0 else 0.0))
                if kappa == 0:
                    value = abs(d)
                elif abs(d) <= kappa:
                    value = 0.5 * d * d / kappa
                else:
                    value = (abs(d) - 0.5 * kappa)
                per_state += weight * value / m
        total += per_state
    return total / batch


@pytest.mark.parametrize("kappa", [1.0, 0.0, 2.0])
def test_quantile_huber_loss_equals_elementwise_loop(kappa):
    gen = torch.Generator().manual_seed(1)
    pred = torch.randn(5, 7, generator=gen) * 3
    taus = torch.rand(5, 7, generator=gen)
    target = torch.randn(5, 4, generator=gen) * 3
    got = float(losses.quantile_huber_loss(pred, taus, target, kappa))
    assert got == pytest.approx(reference_quantile_huber(pred, taus, target, kappa), rel=1e-5)


def test_kappa_two_differs_from_kappa_one_by_the_one_over_kappa_scaling():
    pred, taus, target = torch.zeros(1, 1), torch.tensor([[0.3]]), torch.tensor([[1.0]])
    # |d| = 1 <= kappa = 2: quadratic region, 0.3 * 0.5 * 1 / 2 = 0.075 (without 1/kappa it would be 0.15)
    assert float(losses.quantile_huber_loss(pred, taus, target, 2.0)) == pytest.approx(0.075)


@pytest.mark.parametrize("target_value,kappa,want_grad", [
    (5.0, 1.0, -0.25),   # target above, linear region: -tau
    (-5.0, 1.0, 0.75),   # target below, linear region: +(1 - tau)
    (0.5, 1.0, -0.125),  # target above by 0.5, quadratic region: -tau * d / kappa
    (-0.5, 2.0, 0.1875),  # below by 0.5, kappa 2: (1 - tau) * 0.5 / 2
    (5.0, 0.0, -0.25),   # plain quantile regression
])
def test_gradient_wrt_a_quantile_has_the_right_sign_and_size(target_value, kappa, want_grad):
    pred = torch.zeros(1, 1, requires_grad=True)
    loss = losses.quantile_huber_loss(pred, torch.tensor([[0.25]]), torch.tensor([[target_value]]), kappa)
    loss.backward()
    assert float(pred.grad) == pytest.approx(want_grad)


def test_embedding_shapes_and_encoder_runs_once_per_state():
    torso = NETWORKS.get("nature_cnn")(NatureCNNConfig(), (4, 84, 84), np.uint8)
    net = ImplicitQuantileNetwork(torso, n_actions=6, num_cosines=64)
    assert net.tau_embedding.in_features == 64 and net.tau_embedding.out_features == 3136
    calls = []
    net.torso.encoder.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    body_inputs = []
    net.torso.body.register_forward_hook(lambda mod, inp, out: body_inputs.append(tuple(inp[0].shape)))
    obs = torch.zeros(3, 4, 84, 84, dtype=torch.uint8)
    out = net(obs, torch.rand(3, 5))
    assert out.shape == (3, 5, 6) and out.dtype == torch.float32
    assert calls == [3]  # once per state, not per tau
    assert body_inputs == [(3, 5, 3136)]  # the 512 fc layer runs once per tau
    assert net.embed_taus(torch.rand(3, 5)).shape == (3, 5, 3136)


class GaussianQuantiles(nn.Module):
    """Z(a, tau) = loc_a + scale_a * Phi^-1(tau): a known return distribution per action."""

    def __init__(self, loc, scale):
        super().__init__()
        self.loc, self.scale = torch.tensor(loc), torch.tensor(scale)

    def forward(self, obs, taus):
        z = torch.distributions.Normal(0.0, 1.0).icdf(taus.clamp(1e-6, 1 - 1e-6))  # [B, K]
        return self.loc + self.scale * z.unsqueeze(-1)  # [B, K, A]


def test_risk_measures_match_analytic_values_and_change_the_greedy_action():
    gen = torch.Generator().manual_seed(0)
    net = GaussianQuantiles([1.0, 0.5], [4.0, 0.1])  # action 0: better mean, far riskier
    obs = torch.zeros(1, 1)
    neutral = mean_q(net, obs, 200_000, generator=gen)[0]
    assert neutral.tolist() == pytest.approx([1.0, 0.5], abs=0.03)
    cvar = mean_q(net, obs, 200_000, "cvar", 0.1, generator=gen)[0]
    tail = math.exp(-0.5 * 1.2815516**2) / math.sqrt(2 * math.pi) / 0.1  # E[z | z < Phi^-1(0.1)] = -1.755
    assert cvar.tolist() == pytest.approx([1.0 - 4.0 * tail, 0.5 - 0.1 * tail], abs=0.05)
    wang = mean_q(net, obs, 200_000, "wang", -0.5, generator=gen)[0]
    assert wang.tolist() == pytest.approx([1.0 - 0.5 * 4.0, 0.5 - 0.5 * 0.1], abs=0.05)
    assert int(neutral.argmax()) == 0 and int(cvar.argmax()) == 1 and int(wang.argmax()) == 1


def test_soft_targets_stay_a_distribution_with_the_right_mean():
    torch.manual_seed(0)
    q = torch.tensor([[0.0, 1.0, 2.0]])  # [1, A]
    next_quantiles = q.unsqueeze(1) + torch.randn(1, 100_000, 3)  # [1, M, A]: zero-mean spread over taus
    rewards, discounts = torch.tensor([1.0]), torch.tensor([0.5])
    pi = torch.softmax(q / 0.8, dim=1)[0]
    expected = float((pi * q[0]).sum())
    entropy = float(-(pi * pi.log()).sum())
    for backup, value in (("soft", expected + 0.8 * entropy), ("report_soft", expected - 0.8 * entropy),
                          ("expected", expected)):
        y = losses.distributional_target(rewards, discounts, next_quantiles, q, backup, 0.8, None)
        assert y.shape == (1, 100_000)
        assert float(y.std()) > 0.1  # not collapsed to one number
        assert float(y.mean()) == pytest.approx(1.0 + 0.5 * value, abs=0.01)
    y_max = losses.distributional_target(rewards, discounts, next_quantiles, q, "max", 0.8, None)
    assert torch.equal(y_max, 1.0 + 0.5 * next_quantiles[:, :, 2])


def test_max_target_uses_the_selector_for_the_action():
    next_quantiles = torch.tensor([[[1.0, 5.0], [3.0, 7.0]]])  # [1, M=2, A=2]
    select = torch.tensor([[9.0, 0.0]])  # selector prefers action 0 although the target net prefers 1
    y = losses.distributional_target(torch.tensor([0.0]), torch.tensor([1.0]), next_quantiles, select, "max", 1.0,
                                     None)
    assert y.tolist() == [[1.0, 3.0]]


@pytest.mark.parametrize("backup", ["max", "expected", "soft", "report_soft"])
@pytest.mark.parametrize("temperature", [0.01, 0.6535, 7.3])
def test_a_0d_tensor_temperature_gives_the_float_temperature_targets(backup, temperature):
    # the learner passes its temperature as a 0-d float32 tensor (one compiled graph for every value)
    gen = torch.Generator().manual_seed(0)
    next_quantiles = torch.randn(16, 7, 4, generator=gen) * 10  # [B, M, A]
    select_q, rewards = torch.randn(16, 4, generator=gen) * 10, torch.randn(16, generator=gen)  # [B, A], [B]
    discounts = torch.full((16,), 0.99)  # [B]

    def target(t):  # the same draws of a'_j for both: a fresh generator with one seed
        return losses.distributional_target(rewards, discounts, next_quantiles, select_q, backup, t, None,
                                            torch.Generator().manual_seed(3))  # [B, M]
    assert torch.equal(target(temperature), target(torch.tensor(temperature)))
