"""SAC's pure math against hand computations and references: the soft critic target (entropy term,
termination vs truncation, also through the replay), the squashed Gaussian's log-density against
torch's TransformedDistribution and a finite-difference change of variables, the actor loss, and
the temperature loss's direction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from rlkit.algos.sac import losses
from rlkit.buffers import FrameReplay


def test_soft_q_target_by_hand_with_the_entropy_term_termination_and_truncation():
    rewards = torch.tensor([1.0, 2.0, -1.0])
    discounts = torch.tensor([0.99, 0.0, 0.99])  # a plain step, a termination, a truncation
    next_q1 = torch.tensor([10.0, 5.0, 3.0])
    next_q2 = torch.tensor([8.0, 7.0, 4.0])
    next_log_prob = torch.tensor([-1.5, 0.5, 2.0])
    target = losses.soft_q_target(rewards, discounts, next_q1, next_q2, next_log_prob, alpha=0.2)
    # y = r + d * (min(q1, q2) - alpha * log pi)
    want = [1.0 + 0.99 * (8.0 + 0.2 * 1.5),  # 9.217
            2.0,  # terminated: no bootstrap, no entropy term
            -1.0 + 0.99 * (3.0 - 0.2 * 2.0)]  # truncated: bootstraps from the final obs, 1.574
    torch.testing.assert_close(target, torch.tensor(want))
    assert target[0].item() == pytest.approx(9.217) and target[2].item() == pytest.approx(1.574)
    # alpha 0: the twin-min TD target of TD3
    torch.testing.assert_close(losses.soft_q_target(rewards, discounts, next_q1, next_q2, next_log_prob, 0.0),
                               torch.tensor([1.0 + 0.99 * 8.0, 2.0, -1.0 + 0.99 * 3.0]))


def test_replayed_discounts_stop_at_termination_and_bootstrap_through_truncation():
    """Two envs, one episode each: env 0 terminates, env 1 is truncated. The replay's discount and
    next_obs feed the target: 0 after the termination; gamma and the final obs after the truncation."""
    gamma = 0.9
    replay = FrameReplay(64, 2, (3,), np.float32, 1, action_shape=(2,), action_dtype=np.float32, n_step=1,
                         gamma=gamma, stacked=False)
    obs = np.zeros((2, 3), np.float32)
    replay.start(obs)
    final = np.array([[1, 1, 1], [2, 2, 2]], np.float32)  # both episodes end on this step
    replay.add(np.array([[0.5, -0.5], [0.25, 0.75]], np.float32), np.array([1.0, 3.0], np.float32),
               np.array([True, False]), np.array([False, True]), final, np.array([False, False]))
    reset = np.full((2, 3), 9.0, np.float32)  # the NEXT_STEP reset step: not a transition
    replay.add(np.zeros((2, 2), np.float32), np.zeros(2, np.float32), np.zeros(2, bool), np.zeros(2, bool), reset,
               np.array([True, True]))
    assert len(replay) == 2
    batch = replay.sample(64, np.random.default_rng(0))
    by_env = {int(e): i for i, e in enumerate(batch.env_ids)}
    t, u = by_env[0], by_env[1]
    assert batch.discounts[t] == 0.0 and batch.discounts[u] == pytest.approx(gamma)
    np.testing.assert_array_equal(batch.next_obs[u], final[1])  # the final obs, not the reset obs
    np.testing.assert_array_equal(batch.actions[t], [0.5, -0.5])  # float actions kept as stored
    assert batch.actions.dtype == np.float32 and batch.obs.shape == (64, 3)
    target = losses.soft_q_target(torch.from_numpy(batch.rewards[[t, u]]), torch.from_numpy(batch.discounts[[t, u]]),
                                  torch.tensor([4.0, 4.0]), torch.tensor([6.0, 6.0]), torch.tensor([-1.0, -1.0]), 0.5)
    torch.testing.assert_close(target, torch.tensor([1.0, 3.0 + 0.9 * (4.0 + 0.5)]))


def test_tanh_log_det_jacobian_is_log_one_minus_tanh_squared_and_finite_in_the_tails():
    u = torch.linspace(-6.0, 6.0, 121, dtype=torch.float64).unsqueeze(1)  # [121, 1]
    direct = torch.log(1.0 - torch.tanh(u).pow(2)).squeeze(1)  # [121]
    torch.testing.assert_close(losses.tanh_log_det_jacobian(u), direct, rtol=1e-10, atol=1e-10)
    tails = torch.tensor([[-30.0], [30.0], [60.0]])  # float32: tanh rounds to +-1, the direct form is -inf
    assert torch.isinf(torch.log(1.0 - torch.tanh(tails).pow(2))).all()
    # log(1 - tanh^2) = log 4 - 2|u| - 2 log(1 + e^{-2|u|}) -> log 4 - 2|u|
    torch.testing.assert_close(losses.tanh_log_det_jacobian(tails),
                               torch.tensor([math.log(4) - 60.0, math.log(4) - 60.0, math.log(4) - 120.0]))


def test_squashed_log_prob_matches_torch_transformed_distribution():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(512, 3, generator=g, dtype=torch.float64)
    log_std = torch.empty(512, 3, dtype=torch.float64).uniform_(-1.5, 0.5, generator=g)
    noise = torch.randn(512, 3, generator=g, dtype=torch.float64)
    actions, log_prob = losses.squashed_gaussian_sample(mean, log_std, noise)
    reference = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()])
    assert actions.abs().max() < 1.0
    torch.testing.assert_close(log_prob, reference.log_prob(actions).sum(-1), rtol=1e-7, atol=1e-7)


def test_squashed_log_prob_is_the_change_of_variables_by_finite_differences():
    """1-D: p_a(tanh(u)) = p_u(u) / |d tanh / du|, the derivative by central differences (float64)."""
    mean, log_std = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([[-0.4]], dtype=torch.float64)
    std = math.exp(-0.4)
    for z in (-2.0, -0.7, 0.0, 1.1, 2.5):
        u, h = 0.3 + std * z, 1e-6
        dadu = (math.tanh(u + h) - math.tanh(u - h)) / (2 * h)
        log_p_u = -0.5 * z * z - math.log(std) - 0.5 * math.log(2 * math.pi)
        _, log_prob = losses.squashed_gaussian_sample(mean, log_std, torch.tensor([[z]], dtype=torch.float64))
        assert log_prob.item() == pytest.approx(log_p_u - math.log(dadu), abs=1e-8)


def test_squashed_density_integrates_to_one_over_the_action_interval():
    mean, log_std = torch.full((1, 1), 0.8, dtype=torch.float64), torch.full((1, 1), 0.3, dtype=torch.float64)
    a = torch.linspace(-1 + 1e-9, 1 - 1e-9, 400_001, dtype=torch.float64)  # [N]
    u = torch.atanh(a)
    noise = ((u - 0.8) / math.exp(0.3)).unsqueeze(1)  # [N, 1]
    _, log_prob = losses.squashed_gaussian_sample(mean.expand(len(a), 1), log_std.expand(len(a), 1), noise)
    assert torch.trapezoid(log_prob.exp(), a).item() == pytest.approx(1.0, abs=1e-4)


def test_reparameterized_gradient_reaches_mean_and_log_std():
    mean = torch.zeros(4, 2, requires_grad=True)
    log_std = torch.zeros(4, 2, requires_grad=True)
    actions, log_prob = losses.squashed_gaussian_sample(mean, log_std, torch.ones(4, 2))
    (actions.sum() + log_prob.sum()).backward()
    # d tanh(m + s e) / dm = 1 - tanh(1)^2 at u = 1; log_prob's d/dm = 2 tanh(u) (from -log(1 - tanh^2))
    want = (1 - math.tanh(1.0) ** 2) + 2 * math.tanh(1.0)
    torch.testing.assert_close(mean.grad, torch.full((4, 2), want))
    assert (log_std.grad != 0).all()


def test_critic_loss_is_the_sum_of_the_two_mse_and_does_not_move_the_target():
    q1, q2 = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([0.0, 4.0], requires_grad=True)
    target = torch.tensor([2.0, 2.0], requires_grad=True)
    loss, metrics = losses.critic_loss(q1, q2, target)
    assert loss.item() == pytest.approx((1 + 0) / 2 + (4 + 4) / 2)
    loss.backward()
    assert target.grad is None
    torch.testing.assert_close(q1.grad, torch.tensor([-1.0, 0.0]))  # 2 (q - y) / B
    assert metrics["target_q_mean"].item() == 2.0 and metrics["q2_mean"].item() == 2.0


def test_actor_loss_uses_the_smaller_q_and_the_entropy_term():
    log_prob = torch.tensor([-1.0, 0.5])
    loss, metrics = losses.actor_loss(log_prob, torch.tensor([3.0, 1.0]), torch.tensor([2.0, 4.0]), alpha=0.1)
    assert loss.item() == pytest.approx(((0.1 * -1.0 - 2.0) + (0.1 * 0.5 - 1.0)) / 2)
    assert metrics["entropy"].item() == pytest.approx(0.25)


@pytest.mark.parametrize("entropy,direction", [(-3.0, +1), (0.5, -1)])
def test_alpha_grows_below_the_target_entropy_and_shrinks_above(entropy, direction):
    """Target entropy -1 (one action dim): at entropy -3 alpha must grow, at 0.5 it must shrink."""
    log_alpha = torch.tensor(math.log(0.2), requires_grad=True)
    log_prob = torch.full((64,), -entropy, requires_grad=True)
    loss, _ = losses.alpha_loss(log_alpha, log_prob, target_entropy=-1.0)
    loss.backward()
    assert log_prob.grad is None  # no gradient into the policy
    # d loss / d log_alpha = alpha (entropy - target)
    assert log_alpha.grad.item() == pytest.approx(0.2 * (entropy + 1.0))
    optimizer = torch.optim.Adam([log_alpha], lr=0.01)
    for _ in range(20):
        optimizer.zero_grad()
        losses.alpha_loss(log_alpha, log_prob, target_entropy=-1.0)[0].backward()
        optimizer.step()
    assert direction * (log_alpha.exp().item() - 0.2) > 0.02
