"""SACLearner (Polyak targets, delayed and compensated policy updates, the critics untouched by the
actor loss, the temperature moving toward the target entropy, a fixed temperature) and SACActor
(actions mapped onto the bounds, warm-up actions, tanh(mean) in evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit.algos.sac.actor import SACActor
from rlkit.algos.sac.learner import SACLearner
from rlkit.algos.sac.networks import SACNetworkConfig, build_sac_mlp
from rlkit.buffers import ReplayBatch

CPU = torch.device("cpu")
OBS_DIM, ACT_DIM = 5, 2


def network(seed: int = 0, hidden=(32, 32)):
    torch.manual_seed(seed)
    return build_sac_mlp(SACNetworkConfig(hidden_sizes=list(hidden)), (OBS_DIM,), np.float32, (ACT_DIM,))


def learner_for(net, **overrides) -> SACLearner:
    options = dict(critic_lr=1e-3, actor_lr=3e-4, alpha_lr=1e-3, adam_eps=1e-8, polyak_tau=0.005, fixed_alpha=None,
                   init_alpha=1.0, target_entropy=-float(ACT_DIM), policy_update_period_updates=1,
                   compensate_policy_delay=True, grad_clip_norm=None, device=CPU, seed=0)
    return SACLearner(net, **{**options, **overrides})


def batch(seed: int, size: int = 32) -> ReplayBatch:
    rng = np.random.default_rng(seed)
    return ReplayBatch(rng.normal(size=(size, OBS_DIM)).astype(np.float32),
                       rng.uniform(-1, 1, size=(size, ACT_DIM)).astype(np.float32),
                       rng.normal(size=size).astype(np.float32), np.full(size, 0.99, np.float32),
                       rng.normal(size=(size, OBS_DIM)).astype(np.float32), None, None)


def params(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_targets_start_equal_and_move_by_polyak_tau_after_each_critic_update():
    learner = learner_for(network(), polyak_tau=0.25)
    assert same(params(learner.target_critic), params(learner.critic))
    old_target = params(learner.target_critic)
    learner.update(batch(0), env_step=0)
    for target, old, online in zip(learner.target_critic.parameters(), old_target, learner.critic.parameters()):
        torch.testing.assert_close(target, 0.75 * old + 0.25 * online.detach())
    assert not same(params(learner.target_critic), old_target)


def test_the_actor_loss_steps_the_policy_and_leaves_the_critics_and_their_grads_alone():
    learner = learner_for(network())
    critic_before, policy_before = params(learner.critic), params(learner.policy)
    tb = learner.to_torch(batch(1))
    learner._policy_step(tb.obs, 0, tb)
    assert same(params(learner.critic), critic_before)
    assert all(p.grad is None for p in learner.critic.parameters())
    assert all(p.requires_grad for p in learner.critic.parameters())  # unfrozen again for the critic step
    assert not same(params(learner.policy), policy_before)


@pytest.mark.parametrize("period,compensate,updates,policy_updates", [
    (1, True, 5, 5), (2, True, 1, 0), (2, True, 6, 6), (2, False, 6, 3), (3, False, 7, 2), (3, True, 7, 6)])
def test_policy_updates_follow_every_kth_critic_update(period, compensate, updates, policy_updates):
    learner = learner_for(network(), policy_update_period_updates=period, compensate_policy_delay=compensate)
    policy_before = params(learner.policy)
    for step in range(updates):
        learner.update(batch(step), env_step=step)
    assert learner.num_updates == updates and learner.num_policy_updates == policy_updates
    assert same(params(learner.policy), policy_before) == (policy_updates == 0)
    row = learner.pop_metrics()
    assert row["updates"] == updates and row["policy_updates"] == policy_updates
    assert ("actor_loss" in row) == (policy_updates > 0) and row["grad_norm"] > 0


def _set_log_std(learner: SACLearner, log_std: float) -> None:
    """Every action dim's log-std at ``log_std``, whatever the state (the head squashes into [-5, 2])."""
    raw = np.arctanh(np.clip((log_std + 5.0) / 3.5 - 1.0, -1 + 1e-6, 1 - 1e-6))
    with torch.no_grad():
        learner.policy.log_std_head.weight.zero_()
        learner.policy.log_std_head.bias.fill_(float(raw))


@pytest.mark.parametrize("log_std,grows", [(-5.0, True), (0.0, False)])
def test_the_tuned_temperature_moves_toward_the_target_entropy(log_std, grows):
    """Target entropy -2 (two action dims). log-std -5: entropy about 2 x (1.42 - 5) = -7 -> alpha
    grows; log-std 0: tanh(N(mean, 1)) has about 2 x 0.5 nats (1.42 + E log(1 - tanh^2 u)) -> alpha
    shrinks. (A far wider Gaussian is not the way up: its tanh piles mass at +-1, entropy falls.)"""
    learner = learner_for(network(), actor_lr=1e-9, alpha_lr=3e-3, init_alpha=0.5)
    _set_log_std(learner, log_std)
    for step in range(30):
        learner.update(batch(step), env_step=step)
    row = learner.pop_metrics()
    assert (row["entropy"] < -2.0) == grows
    assert (row["alpha"] > 0.5) == grows and abs(row["alpha"] - 0.5) > 0.02
    assert row["alpha"] == pytest.approx(float(learner.alpha))


def test_a_fixed_temperature_stays_fixed():
    learner = learner_for(network(), fixed_alpha=0.2)
    _set_log_std(learner, -5.0)  # entropy far below the target: a tuned alpha would grow
    for step in range(10):
        learner.update(batch(step), env_step=step)
    row = learner.pop_metrics()
    assert row["alpha"] == pytest.approx(0.2) and "alpha_loss" not in row and learner.alpha_optimizer is None
    assert learner.state_dict()["alpha_optimizer"] is None


def test_gradient_clipping_reports_the_norm_before_clipping_and_limits_the_step():
    clipped, free = learner_for(network(), grad_clip_norm=1e-3), learner_for(network())
    before = params(clipped.critic)
    clipped.update(batch(0), env_step=0)
    free.update(batch(0), env_step=0)
    assert clipped.pop_metrics()["grad_norm"] == pytest.approx(free.pop_metrics()["grad_norm"], rel=1e-5)
    assert not same(params(clipped.critic), before)


def test_a_batch_sent_as_tensors_updates_exactly_as_its_numpy_arrays():
    """On a GPU the replay sends each batch as device tensors (one copy): the learner takes them as
    they are, to the same update."""
    from_numpy, from_tensors = learner_for(network()), learner_for(network())
    for step in range(3):
        arrays = batch(step)
        from_numpy.update(arrays, env_step=step)
        from_tensors.update(arrays._replace(**{name: torch.from_numpy(getattr(arrays, name)) for name in
                                                ("obs", "actions", "rewards", "discounts", "next_obs")}), env_step=step)
    assert same(params(from_numpy.critic), params(from_tensors.critic))
    assert same(params(from_numpy.policy), params(from_tensors.policy))


def test_actor_maps_the_unit_box_onto_the_env_bounds():
    low, high = np.array([-2.0, 0.0], np.float32), np.array([2.0, 0.4], np.float32)
    actor = SACActor(network().policy, low, high, device=CPU, deterministic_eval=True, seed=0)
    np.testing.assert_allclose(actor.env_actions(np.array([[-1, -1], [1, 1], [0, 0], [0.5, -0.5]], np.float32)),
                               [[-2, 0], [2, 0.4], [0, 0.2], [1, 0.1]], rtol=1e-6)
    random = actor.random(4096)
    assert random.shape == (4096, 2) and random.dtype == np.float32
    assert random.min() >= -1 and random.max() <= 1 and abs(random.mean()) < 0.05
    with pytest.raises(ValueError, match="finite"):
        SACActor(network().policy, np.array([-np.inf, 0]), np.array([np.inf, 1]), device=CPU,
                 deterministic_eval=True, seed=0)


def test_actor_samples_in_the_unit_box_and_evaluates_with_tanh_of_the_mean():
    net = network()
    low, high = np.array([-2.0, -2.0], np.float32), np.array([2.0, 2.0], np.float32)
    actor = SACActor(net.policy, low, high, device=CPU, deterministic_eval=True, seed=0)
    obs = np.random.default_rng(0).normal(size=(256, OBS_DIM)).astype(np.float32)
    sampled = actor.act(obs)
    assert sampled.shape == (256, ACT_DIM) and np.abs(sampled).max() < 1.0
    mean, _ = net.policy(torch.from_numpy(obs))
    np.testing.assert_allclose(actor.act_eval(obs), 2.0 * np.tanh(mean.detach().numpy()), rtol=1e-5, atol=1e-6)
    assert not np.allclose(sampled, np.tanh(mean.detach().numpy()))
    stochastic = SACActor(net.policy, low, high, device=CPU, deterministic_eval=False, seed=0)
    assert not np.allclose(stochastic.act_eval(obs), actor.act_eval(obs))
