"""PPOActor (unclipped samples and their log-probs, frozen normalization in evaluation) and PPOLearner
(lr annealing, epochs x minibatches, target-KL stop, reset rows left out, the surrogate's direction)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit.algos.ppo.actor import PPOActor
from rlkit.algos.ppo.learner import PPOLearner
from rlkit.buffers.rollout import RolloutBuffer
from rlkit.config import ActorCriticConfig
from rlkit.networks.actor_critic import build_actor_critic
from rlkit.normalizers import ObservationNormalizer

CPU = torch.device("cpu")


def network(seed: int = 0):
    torch.manual_seed(seed)
    return build_actor_critic(ActorCriticConfig(), (1, 4), np.float32, (2,))


def learner_for(net, **overrides) -> PPOLearner:
    options = dict(lr=1e-3, anneal_lr=True, total_env_steps=1000, num_epochs=3, num_minibatches=4, gamma=0.99,
                   gae_lambda=0.95, clip_coef=0.2, clip_value_loss=True, value_coef=0.5, entropy_coef=0.0,
                   max_grad_norm=0.5, target_kl=None, normalize_advantages=True, adam_eps=1e-5, device=CPU, seed=0)
    return PPOLearner(net, **{**options, **overrides})


def test_actor_keeps_unclipped_samples_and_their_log_probs():
    net = network()
    with torch.no_grad():
        net.mean_head.bias.fill_(5.0)  # far outside the [-1, 1] bounds of a typical task
    actor = PPOActor(net, None, device=CPU, deterministic_eval=True, seed=0)
    obs = np.random.default_rng(0).normal(size=(64, 1, 4)).astype(np.float32)
    step = actor.act(obs)
    assert step.actions.shape == (64, 2) and (step.actions > 1.0).float().mean() > 0.9
    mean, log_std, value = net(torch.from_numpy(obs))
    want = torch.distributions.Normal(mean, log_std.exp()).log_prob(step.actions).sum(-1)
    torch.testing.assert_close(step.log_probs, want)
    torch.testing.assert_close(step.values, value)
    torch.testing.assert_close(actor.value(obs), value)


def test_evaluation_takes_the_mean_action_with_frozen_statistics():
    net = network()
    normalizer = ObservationNormalizer((1, 4))
    actor = PPOActor(net, normalizer, device=CPU, deterministic_eval=True, seed=0)
    rng = np.random.default_rng(1)
    policy_obs = actor.observe(rng.normal(3.0, 2.0, size=(256, 1, 4)))
    assert normalizer.stats.count == 256 and abs(policy_obs.mean()) < 1e-3
    raw = rng.normal(3.0, 2.0, size=(8, 1, 4))
    eval_actions = actor.act_eval(raw)
    assert normalizer.stats.count == 256  # frozen
    mean, _, _ = net(torch.from_numpy(normalizer(raw, update=False)))
    np.testing.assert_allclose(eval_actions, mean.detach().numpy(), rtol=1e-6)
    stochastic = PPOActor(net, normalizer, device=CPU, deterministic_eval=False, seed=0)
    assert not np.allclose(stochastic.act_eval(raw), eval_actions)


def rollout(net, steps=8, envs=4, reset_rows=()):
    actor = PPOActor(net, None, device=CPU, deterministic_eval=True, seed=1)
    buffer = RolloutBuffer(steps, envs, (1, 4), (2,), CPU)
    rng = np.random.default_rng(2)
    for t in range(steps):
        obs = rng.normal(size=(envs, 1, 4)).astype(np.float32)
        step = actor.act(obs)
        valid = np.ones(envs, dtype=bool)
        for row, env in reset_rows:
            if row == t:
                valid[env] = False
        done = np.zeros(envs, dtype=bool)
        for row, env in reset_rows:
            if row == t + 1:
                done[env] = True
        # reward = the first action coordinate: the policy should learn to push it up
        reward = step.actions[:, 0].numpy().astype(np.float32)
        buffer.add(obs, step.actions, step.log_probs, step.values, reward, done, np.zeros(envs, bool), valid)
    return buffer.batch(actor.value(rng.normal(size=(envs, 1, 4)).astype(np.float32)))


def test_lr_anneals_linearly_to_zero_and_updates_are_epochs_times_minibatches():
    learner = learner_for(network())
    learner.update(rollout(learner.network), env_step=500)
    row = learner.pop_metrics()
    assert row["lr"] == pytest.approx(5e-4) and learner.optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert row["updates"] == 3 * 4 and row["epochs"] == 3 and row["rollouts"] == 1
    assert row["rollout_transitions"] == 32
    constant = learner_for(network(), anneal_lr=False)
    constant.update(rollout(constant.network), env_step=900)
    assert constant.pop_metrics()["lr"] == pytest.approx(1e-3)


def test_reset_rows_are_left_out():
    learner = learner_for(network())
    learner.update(rollout(learner.network, reset_rows=[(3, 0), (5, 2), (0, 1)]), env_step=0)
    assert learner.pop_metrics()["rollout_transitions"] == 32 - 3


def test_target_kl_stops_the_epochs_early():
    learner = learner_for(network(), target_kl=1e-9, num_epochs=10, lr=1e-2, anneal_lr=False)
    learner.update(rollout(learner.network), env_step=0)
    row = learner.pop_metrics()
    assert row["epochs"] == 1 and row["updates"] == 4


def test_updates_move_the_policy_towards_higher_advantage_actions():
    net = network()
    learner = learner_for(net, lr=3e-3, anneal_lr=False, num_epochs=10)
    before = net.mean_head.bias[0].item()
    for _ in range(5):
        learner.update(rollout(net), env_step=0)
    probe = torch.zeros(16, 1, 4)
    assert net(probe)[0][:, 0].mean().item() > before + 0.05  # the first action coordinate pays
    row = learner.pop_metrics()
    assert row["grad_norm"] > 0 and 0 <= row["clip_fraction"] <= 1 and row["approx_kl"] >= 0
