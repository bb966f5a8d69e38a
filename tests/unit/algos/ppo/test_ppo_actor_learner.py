"""PPOActor (unclipped samples and their log-probs, frozen normalization in evaluation) and PPOLearner
(lr annealing, epochs x minibatches, target-KL stop, reset rows left out, the surrogate's direction)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit import seeding
from rlkit.algos.ppo.actor import PPOActor
from rlkit.algos.ppo.learner import PPOLearner
from rlkit.buffers.rollout import RolloutBuffer
from rlkit.networks.actor_critic import ActorCriticConfig
from rlkit.networks.actor_critic import build_actor_critic
from rlkit.normalizers import ObservationNormalizer
from rlkit.schedules import LinearSchedule, constant

CPU = torch.device("cpu")


def network(seed: int = 0):
    torch.manual_seed(seed)
    return build_actor_critic(ActorCriticConfig(), (1, 4), np.float32, (2,))


def learner_for(net, lr: float = 1e-3, anneal_lr: bool = True, total_env_steps: int = 1000, **overrides
                ) -> PPOLearner:
    options = dict(num_epochs=3, num_minibatches=4, gamma=0.99, gae_lambda=0.95, clip_coef=0.2, clip_value_loss=True,
                   value_coef=0.5, entropy_coef=0.0, grad_clip_norm=0.5, target_kl=None, normalize_advantages=True,
                   adam_eps=1e-5, device=CPU, seed=0)
    lr_schedule = LinearSchedule(lr, 0.0, total_env_steps) if anneal_lr else constant(lr)  # OnPolicySchedule's
    return PPOLearner(net, lr_schedule=lr_schedule, **{**options, **overrides})


def test_actor_keeps_unclipped_samples_and_their_log_probs():
    net = network()
    with torch.no_grad():
        net.mean_head.bias.fill_(5.0)  # far outside the [-1, 1] bounds of a typical task
    actor = PPOActor(net, None, device=CPU, deterministic_eval=True, seed=0)
    obs = np.random.default_rng(0).normal(size=(64, 1, 4)).astype(np.float32)
    step = actor.act(obs)  # on the CPU: the numpy forward (HostActorCritic)
    assert step.actions.shape == (64, 2) and (step.actions > 1.0).mean() > 0.9
    assert step.actions.dtype == step.log_probs.dtype == step.values.dtype == np.float32
    mean, log_std, value = net(torch.from_numpy(obs))
    want = torch.distributions.Normal(mean, log_std.exp()).log_prob(torch.from_numpy(step.actions)).sum(-1)
    torch.testing.assert_close(torch.from_numpy(step.log_probs), want)
    torch.testing.assert_close(torch.from_numpy(step.values), value)
    torch.testing.assert_close(actor.value(obs), value)
    # the samples are mean + std * noise with the actor's torch generator's noise, as torch acting draws it
    noise = torch.randn((64, 2), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(torch.from_numpy(step.actions), mean + log_std.exp() * noise)


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



def test_sampled_evaluation_draws_from_its_own_stream_and_leaves_the_training_samples_alone():
    net = network()
    obs = np.random.default_rng(3).normal(size=(4, 1, 4)).astype(np.float32)
    alone = PPOActor(net, None, device=CPU, deterministic_eval=False, seed=7)
    first, second = alone.act(obs).actions, alone.act(obs).actions
    actor = PPOActor(net, None, device=CPU, deterministic_eval=False, seed=7)
    np.testing.assert_array_equal(actor.act(obs).actions, first)
    eval_actions = actor.act_eval(obs)  # an evaluation between two training steps
    np.testing.assert_array_equal(actor.act(obs).actions, second)
    # the evaluation's noise: its own stream, named "eval" under the actor's seed
    mean, log_std, _ = net(torch.from_numpy(obs))
    noise = torch.randn((4, 2), generator=torch.Generator().manual_seed(seeding.derive_seed(7, "eval")))
    torch.testing.assert_close(torch.from_numpy(eval_actions), (mean + log_std.exp() * noise).detach())
    # saved and restored with the actor: the next evaluation samples continue where they were
    restored = PPOActor(net, None, device=CPU, deterministic_eval=False, seed=0)
    restored.load_state_dict(actor.state_dict())
    np.testing.assert_array_equal(restored.act_eval(obs), actor.act_eval(obs))
    np.testing.assert_array_equal(restored.act(obs).actions, actor.act(obs).actions)


def test_a_checkpoint_without_the_evaluation_stream_evaluates_from_its_training_stream():
    # checkpoints written before the evaluation stream existed drew evaluation samples from the training
    # generator: continuing from it there replays their evaluations (rlkit-eval)
    net = network()
    obs = np.random.default_rng(4).normal(size=(4, 1, 4)).astype(np.float32)
    old = PPOActor(net, None, device=CPU, deterministic_eval=False, seed=5)
    old.act(obs)
    state = {k: v for k, v in old.state_dict().items() if k != "eval_generator"}
    actor = PPOActor(net, None, device=CPU, deterministic_eval=False, seed=0)
    actor.load_state_dict(state)
    mean, log_std, _ = net(torch.from_numpy(obs))
    noise = torch.randn((4, 2), generator=old.generator)
    torch.testing.assert_close(torch.from_numpy(actor.act_eval(obs)), (mean + log_std.exp() * noise).detach())


def rollout(net, steps=8, envs=4, reset_rows=(), keep_last_obs=False):
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
        reward = step.actions[:, 0].astype(np.float32)
        buffer.add(obs, step.actions, step.log_probs, step.values, reward, done, np.zeros(envs, bool), valid)
    last_obs = rng.normal(size=(envs, 1, 4)).astype(np.float32)
    return buffer.batch(actor.value(last_obs), torch.from_numpy(last_obs) if keep_last_obs else None)


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


def test_recompute_advantages_uses_the_current_critic_from_the_second_epoch(monkeypatch):
    from rlkit.algos.ppo import losses
    seen_returns = []  # the lambda-returns each epoch's (single) minibatch got, sorted (the order is shuffled)
    real_loss = losses.ppo_loss

    def recording_loss(mean, log_std, values, actions, old_log_prob, old_values, advantages, returns, **kw):
        seen_returns.append(sorted(returns.tolist()))
        return real_loss(mean, log_std, values, actions, old_log_prob, old_values, advantages, returns, **kw)

    monkeypatch.setattr(losses, "ppo_loss", recording_loss)

    def gae_returns(batch, values, last_value):  # [N] sorted, valid rows only
        returns = losses.generalized_advantages(batch.rewards, values, last_value, batch.terminated,
                                                batch.truncated, batch.valid, 0.99, 0.95)[1]
        return sorted(returns.flatten()[batch.valid.flatten()].tolist())

    for recompute in (False, True):
        seen_returns.clear()
        # lr 0: the critic stays as it is, so the recomputed values are exactly its values of the rollout
        learner = learner_for(network(), lr=0.0, anneal_lr=False, num_epochs=2, num_minibatches=1,
                              recompute_advantages=recompute)
        batch = rollout(learner.network, reset_rows=[(4, 1)], keep_last_obs=True)
        with torch.no_grad():
            critic_values = learner.network.value(batch.obs.flatten(0, 1)).view(8, 4)  # [T, E]
            critic_last = learner.network.value(batch.last_obs)  # [E]
        batch.values.fill_(3.0)  # stale rollout values, far from the critic's
        batch.last_value.fill_(3.0)
        learner.update(batch, env_step=0)
        stale = gae_returns(batch, batch.values, batch.last_value)
        assert seen_returns[0] == pytest.approx(stale)
        want_second = gae_returns(batch, critic_values, critic_last) if recompute else stale
        assert seen_returns[1] == pytest.approx(want_second, abs=1e-6)
        assert (seen_returns[1] != pytest.approx(stale)) == recompute
    with pytest.raises(ValueError, match="last_obs"):
        learner_for(network(), recompute_advantages=True).update(rollout(network()), env_step=0)


def test_rescaled_actions_are_clipped_to_unit_range_and_mapped_onto_the_bounds():
    low, high = np.array([-0.4, -3.0, 0.0], np.float32), np.array([0.4, 3.0, 2.0], np.float32)
    actor = PPOActor(network(), None, device=CPU, deterministic_eval=True, seed=0, action_bounds=(low, high))
    policy_actions = np.array([[0.5, -0.5, 0.0], [2.0, -7.0, 1.0], [-1.0, 1.0, -1.0]], np.float32)
    np.testing.assert_allclose(actor.env_actions(policy_actions),
                               [[0.2, -1.5, 1.0], [0.4, -3.0, 2.0], [-0.4, 3.0, 0.0]], rtol=1e-6)
    unit = PPOActor(network(), None, device=CPU, deterministic_eval=True, seed=0,
                    action_bounds=(-np.ones(3, np.float32), np.ones(3, np.float32)))
    inside = np.array([[0.123456789, -0.987654321, 0.3]], np.float32)
    assert (unit.env_actions(inside) == inside).all()  # the identity, bit for bit, on [-1, 1]
    plain = PPOActor(network(), None, device=CPU, deterministic_eval=True, seed=0)
    assert (plain.env_actions(policy_actions) == policy_actions).all()  # env units: the env clips
    two_dims = PPOActor(network(), None, device=CPU, deterministic_eval=True, seed=0, action_bounds=(low[:2], high[:2]))
    obs = np.random.default_rng(0).normal(size=(4, 1, 4)).astype(np.float32)
    mean = network()(torch.from_numpy(obs))[0].detach()  # [4, 2]
    np.testing.assert_allclose(two_dims.act_eval(obs), mean.numpy() * [0.4, 3.0], rtol=1e-6)  # the mean, mapped
    with pytest.raises(ValueError, match="high > low"):
        PPOActor(network(), None, device=CPU, deterministic_eval=True, seed=0, action_bounds=(high, low))


def test_a_compiled_minibatch_loss_makes_the_same_updates_and_times_its_compiles_once(monkeypatch):
    import torch._dynamo

    from rlkit.algos.ppo import learner as learner_module

    # aot_eager traces the forward and its backward as inductor does, without its C++ build
    monkeypatch.setitem(learner_module.COMPILE_OPTIONS, "backend", "aot_eager")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    eager, compiled = learner_for(network(), num_minibatches=3), learner_for(network(), num_minibatches=3, compile=True)
    for learner in (eager, compiled):  # 29 transitions in 3 minibatches: sizes 10 and 9, two shapes
        learner.update(rollout(learner.network, reset_rows=[(3, 0), (5, 2), (0, 1)]), env_step=0)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # the loss did go through dynamo
    for a, b in zip(eager.network.parameters(), compiled.network.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    eager_row, compiled_row = eager.pop_metrics(), compiled.pop_metrics()
    assert "compile_s" not in eager_row and compiled_row["compile_s"] > 0
    assert compiled_row["loss"] == pytest.approx(eager_row["loss"], rel=1e-5, abs=1e-7)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    compiled.update(rollout(compiled.network), env_step=0)  # sizes 11 and 10: served by the graphs made
    assert "compile_s" not in compiled.pop_metrics()
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs
