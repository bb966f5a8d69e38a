"""PPO's pure math against naive references: GAE (truncation, termination, reset rows), the clipped
surrogate and its gradient, the Gaussian log-prob and entropy, value clipping, approx KL."""

from __future__ import annotations

import math

import pytest
import torch

from rlkit.algos.ppo import losses

GAMMA, LAM = 0.9, 0.8


def reference_gae(rewards, values, last_value, terminated, truncated, valid, gamma, lam):
    """Forward sums per env, per transition: A_t = sum_k (gamma lam)^k delta_{t+k} within the episode,
    delta with V(next obs) = 0 after a termination, V(final obs) after a truncation."""
    T, E = len(rewards), len(rewards[0])
    adv = [[0.0] * E for _ in range(T)]
    for e in range(E):
        def next_value(t):
            return values[t + 1][e] if t + 1 < T else last_value[e]

        def delta(t):
            bootstrap = 0.0 if terminated[t][e] else next_value(t)
            return rewards[t][e] + gamma * bootstrap - values[t][e]

        for t in range(T):
            if not valid[t][e]:
                continue
            total, k = 0.0, t
            while True:
                total += (gamma * lam) ** (k - t) * delta(k)
                if terminated[k][e] or truncated[k][e] or k + 1 == T:
                    break
                k += 1
            adv[t][e] = total
    return adv


def rollout_with_episode_ends():
    """T=10 rollout of 3 envs. env 0: termination at t=2 (reset row t=3), truncation at t=6 (reset row
    t=7). env 1: starts with a reset row (its episode ended in the previous rollout), truncation at
    the last row t=9 (bootstraps from last_value = V(final obs)). env 2: no episode end."""
    T, E = 10, 3
    g = torch.Generator().manual_seed(0)
    rewards = torch.randn(T, E, generator=g)
    values = torch.randn(T, E, generator=g)
    last_value = torch.randn(E, generator=g)
    terminated = torch.zeros(T, E, dtype=torch.bool)
    truncated = torch.zeros(T, E, dtype=torch.bool)
    valid = torch.ones(T, E, dtype=torch.bool)
    terminated[2, 0] = True
    valid[3, 0] = False
    truncated[6, 0] = True
    valid[7, 0] = False
    valid[0, 1] = False
    truncated[9, 1] = True
    rewards[~valid] = 0.0
    return rewards, values, last_value, terminated, truncated, valid


def test_gae_equals_reference_loop_with_terminations_truncations_and_reset_rows():
    rewards, values, last_value, terminated, truncated, valid = rollout_with_episode_ends()
    adv, ret = losses.generalized_advantages(rewards, values, last_value, terminated, truncated, valid, GAMMA, LAM)
    want = torch.tensor(reference_gae(rewards.tolist(), values.tolist(), last_value.tolist(), terminated.tolist(),
                                      truncated.tolist(), valid.tolist(), GAMMA, LAM))
    assert adv.shape == (10, 3) and adv.dtype == torch.float32
    torch.testing.assert_close(adv, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ret[valid], (adv + values)[valid])
    assert (adv[~valid] == 0).all() and (ret[~valid] == 0).all()


def test_gae_truncation_bootstraps_from_final_obs_value_termination_does_not():
    # one env, two rows: the done step, then its reset row whose value is V(final obs) = 5
    rewards = torch.tensor([[1.0], [0.0]])
    values = torch.tensor([[2.0], [5.0]])
    valid = torch.tensor([[True], [False]])
    no = torch.zeros(2, 1, dtype=torch.bool)
    yes = torch.tensor([[True], [False]])
    adv_trunc, _ = losses.generalized_advantages(rewards, values, torch.tensor([9.0]), no, yes, valid, 0.5, 0.9)
    adv_term, _ = losses.generalized_advantages(rewards, values, torch.tensor([9.0]), yes, no, valid, 0.5, 0.9)
    assert adv_trunc[0, 0].item() == pytest.approx(1.0 + 0.5 * 5.0 - 2.0)
    assert adv_term[0, 0].item() == pytest.approx(1.0 - 2.0)


def test_gae_lambda_one_gives_discounted_return_minus_value_and_zero_gives_td_error():
    T = 6
    g = torch.Generator().manual_seed(1)
    rewards, values, last = torch.randn(T, 1, generator=g), torch.randn(T, 1, generator=g), torch.randn(1, generator=g)
    flags = torch.zeros(T, 1, dtype=torch.bool)
    valid = torch.ones(T, 1, dtype=torch.bool)
    adv1, ret1 = losses.generalized_advantages(rewards, values, last, flags, flags, valid, GAMMA, 1.0)
    mc = [sum(GAMMA ** (k - t) * rewards[k, 0].item() for k in range(t, T)) + GAMMA ** (T - t) * last.item()
          for t in range(T)]
    torch.testing.assert_close(ret1[:, 0], torch.tensor(mc), atol=1e-5, rtol=1e-5)
    adv0, _ = losses.generalized_advantages(rewards, values, last, flags, flags, valid, GAMMA, 0.0)
    next_v = torch.cat([values[1:, 0], last])
    torch.testing.assert_close(adv0[:, 0], rewards[:, 0] + GAMMA * next_v - values[:, 0])


def test_surrogate_at_ratio_one_is_minus_mean_advantage():
    g = torch.Generator().manual_seed(2)
    log_prob = torch.randn(64, generator=g)
    adv = torch.randn(64, generator=g)
    loss, log_ratio = losses.clipped_surrogate_loss(log_prob, log_prob.clone(), adv, 0.2)
    assert loss.item() == pytest.approx(-adv.mean().item(), abs=1e-6)
    assert (log_ratio == 0).all()
    assert losses.approx_kl(log_ratio).item() == 0.0 and losses.clip_fraction(log_ratio, 0.2).item() == 0.0


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_clip_engages_exactly_past_one_plus_minus_epsilon(sign):
    eps = 0.2
    ratios = torch.tensor([0.5, 0.79, 0.81, 0.95, 1.0, 1.05, 1.19, 1.21, 1.5])
    old = torch.zeros(len(ratios))
    new = ratios.log().clone().requires_grad_(True)
    adv = torch.full((len(ratios),), sign)
    loss, log_ratio = losses.clipped_surrogate_loss(new, old, adv, eps)
    loss.backward()
    grad = new.grad
    # A > 0: the objective stops rewarding ratios above 1 + eps; A < 0: below 1 - eps
    flat = ratios > 1 + eps if sign > 0 else ratios < 1 - eps
    assert (grad[flat] == 0).all()
    inside = ~flat
    # d/dlogr of -A r / B = -A r / B where unclipped
    torch.testing.assert_close(grad[inside], -sign * ratios[inside] / len(ratios))
    assert losses.clip_fraction(log_ratio, eps).item() == pytest.approx(
        ((ratios - 1).abs() > eps).float().mean().item())


def test_surrogate_is_pessimistic_minimum_of_the_two_objectives():
    ratios = torch.tensor([0.5, 1.5, 0.5, 1.5])
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0])
    loss, _ = losses.clipped_surrogate_loss(ratios.log(), torch.zeros(4), adv, 0.2)
    # per sample objective min(r A, clip(r) A): 0.5, 1.2, -0.8, -1.5
    assert loss.item() == pytest.approx(-(0.5 + 1.2 - 0.8 - 1.5) / 4)


@pytest.mark.parametrize("per_state_log_std", [False, True])
def test_gaussian_log_prob_and_entropy_equal_torch_normal(per_state_log_std):
    g = torch.Generator().manual_seed(3)
    mean = torch.randn(32, 6, generator=g)
    log_std = torch.randn(32, 6, generator=g) * 0.5 if per_state_log_std else torch.randn(6, generator=g) * 0.5
    actions = mean + torch.randn(32, 6, generator=g) * 2.0
    dist = torch.distributions.Normal(mean, log_std.exp().expand_as(mean))
    torch.testing.assert_close(losses.gaussian_log_prob(actions, mean, log_std), dist.log_prob(actions).sum(-1))
    torch.testing.assert_close(losses.gaussian_entropy(mean, log_std), dist.entropy().sum(-1))


def test_value_loss_clipping_takes_the_larger_error():
    old = torch.tensor([0.0, 0.0, 0.0])
    new = torch.tensor([1.0, 0.1, -1.0])
    returns = torch.tensor([2.0, 0.0, 0.0])
    # unclipped errors: 1, 0.01, 1; clipped values (eps 0.2): 0.2, 0.1, -0.2 -> errors 3.24, 0.01, 0.04
    assert losses.value_loss(new, old, returns, None).item() == pytest.approx(0.5 * (1 + 0.01 + 1) / 3)
    assert losses.value_loss(new, old, returns, 0.2).item() == pytest.approx(0.5 * (3.24 + 0.01 + 1) / 3)


def test_approx_kl_estimates_kl_old_to_new():
    old = torch.distributions.Normal(0.0, 1.0)
    new = torch.distributions.Normal(0.3, 1.2)
    x = old.sample((200_000,))
    log_ratio = new.log_prob(x) - old.log_prob(x)
    true_kl = torch.distributions.kl_divergence(old, new).item()
    assert losses.approx_kl(log_ratio).item() == pytest.approx(true_kl, rel=0.05)


def test_explained_variance():
    returns = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert losses.explained_variance(returns, returns).item() == pytest.approx(1.0)
    assert losses.explained_variance(torch.full((4,), 2.5), returns).item() == pytest.approx(0.0)
    assert math.isnan(losses.explained_variance(returns, torch.ones(4)).item())


def test_ppo_loss_combines_terms_and_normalizes_advantages():
    g = torch.Generator().manual_seed(4)
    mean, log_std = torch.randn(16, 2, generator=g), torch.full((2,), -0.5)
    actions = mean + 0.1 * torch.randn(16, 2, generator=g)
    old_lp = losses.gaussian_log_prob(actions, mean, log_std)
    values, returns = torch.randn(16, generator=g), torch.randn(16, generator=g)
    adv = 5.0 + 3.0 * torch.randn(16, generator=g)
    loss, m = losses.ppo_loss(mean, log_std, values, actions, old_lp, values, adv, returns, clip_coef=0.2,
                              clip_value_loss=True, value_coef=0.5, entropy_coef=0.01, normalize_advantages=True)
    assert m["policy_loss"].item() == pytest.approx(0.0, abs=1e-6)  # ratio 1, normalized advantages: -mean = 0
    want = -0.01 * m["entropy"] + 0.5 * 0.5 * ((values - returns) ** 2).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    _, raw = losses.ppo_loss(mean, log_std, values, actions, old_lp, values, adv, returns, clip_coef=0.2,
                             clip_value_loss=True, value_coef=0.5, entropy_coef=0.0, normalize_advantages=False)
    assert raw["policy_loss"].item() == pytest.approx(-adv.mean().item(), rel=1e-5)
