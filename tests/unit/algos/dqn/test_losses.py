import math

import numpy as np
import pytest
import torch

from rlkit.algos.dqn import losses
from rlkit.algos.value_based.actor import boltzmann_sample, epsilon_greedy, epsilon_greedy_choice


def test_double_and_vanilla_targets_differ_exactly_where_argmaxes_differ():
    q_target = torch.tensor([[1.0, 5.0, 2.0], [4.0, 0.0, 3.0]])  # [B=2, A=3]
    q_online = torch.tensor([[0.0, 9.0, 1.0], [0.0, 0.0, 7.0]])  # argmax: row0 same (1), row1 differs (2 vs 0)
    vanilla = losses.next_state_value(q_target, q_target, "max", temperature=1.0)
    double = losses.next_state_value(q_target, q_online, "max", temperature=1.0)
    assert vanilla.tolist() == [5.0, 4.0]
    assert double.tolist() == [5.0, 3.0]  # row 1: online picks a=2, target values it at 3


@pytest.mark.parametrize("temperature", [0.01, 0.1, 1.0, 7.5])
def test_soft_backup_equals_temperature_logsumexp(temperature):
    q = torch.randn(64, 6, generator=torch.Generator().manual_seed(0)) * 3  # [B, A]
    soft = losses.next_state_value(q, q, "soft", temperature)
    reference = temperature * torch.logsumexp(q.double() / temperature, dim=1)
    assert torch.allclose(soft.double(), reference, atol=1e-6 * max(1.0, temperature) * 10, rtol=1e-6)


def test_backups_tell_the_entropy_sign_apart():
    q = torch.tensor([[0.0, 1.0]])  # [1, 2], T = 1: pi = softmax([0, 1])
    pi = torch.softmax(q, dim=1)[0]
    expected = float((pi * q[0]).sum())
    entropy = float(-(pi * pi.log()).sum())
    values = {k: float(losses.next_state_value(q, q, k, 1.0)) for k in ("expected", "soft", "report_soft")}
    assert values["expected"] == pytest.approx(expected, abs=1e-6)
    assert values["soft"] == pytest.approx(expected + entropy, abs=1e-6)
    assert values["report_soft"] == pytest.approx(expected - entropy, abs=1e-6)
    assert values["soft"] == pytest.approx(math.log(1 + math.e), abs=1e-6)  # logsumexp([0, 1])


def test_soft_backup_tends_to_max_as_temperature_goes_to_zero():
    q = torch.tensor([[1.0, 3.0, 2.0], [-1.0, -2.0, -0.5]])
    for backup in ("soft", "expected", "report_soft"):
        value = losses.next_state_value(q, q, backup, temperature=1e-4)
        assert torch.allclose(value, torch.tensor([3.0, -0.5]), atol=1e-3)


def test_boltzmann_policy_is_stable_for_huge_q():
    q = torch.tensor([[1.0e4, 1.0e4 - 0.05, -1.0e4]])
    probs = losses.boltzmann_policy(q.half().float(), temperature=0.05)
    assert torch.isfinite(probs).all()
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)
    assert float(probs[0, 2]) == 0.0


def test_boltzmann_sampling_frequencies_match_softmax():
    q = torch.tensor([[0.0, 0.5, 1.0, 2.0]]).repeat(40_000, 1)  # [N, 4]
    actions = boltzmann_sample(q, temperature=0.7, generator=torch.Generator().manual_seed(3))
    freq = np.bincount(actions, minlength=4) / len(actions)
    want = torch.softmax(q[0] / 0.7, dim=0).numpy()
    assert np.abs(freq - want).max() < 0.01


def test_epsilon_greedy_explores_at_the_scheduled_rate_and_runs_q_only_for_greedy_envs():
    seen = []

    def q_of(obs):  # obs [G, 1] -> Q [G, 4] favouring action 1
        seen.append(len(obs))
        return torch.tensor([[0.0, 1.0, 0.0, 0.0]]).repeat(len(obs), 1)
    obs = np.zeros((40_000, 1), np.float32)
    actions = epsilon_greedy(q_of, obs, 4, epsilon=0.4, rng=np.random.default_rng(0))
    assert np.mean(actions != 1) == pytest.approx(0.4 * 3 / 4, abs=0.01)
    assert seen[0] == pytest.approx(0.6 * 40_000, rel=0.02)  # no forward for the exploring envs
    seen.clear()
    assert epsilon_greedy(q_of, obs[:8], 4, epsilon=1.0, rng=np.random.default_rng(1)).shape == (8,) and not seen


def test_epsilon_greedy_takes_numpy_q_values_and_breaks_ties_as_torch_does():
    q = np.array([[0.0, 2.0, 2.0, 1.0], [3.0, 3.0, 3.0, 3.0], [-1.0, -2.0, -0.5, -0.5]], np.float32)  # ties
    obs = np.zeros((3, 1), np.float32)
    from_numpy = epsilon_greedy(lambda o: q, obs, 4, epsilon=0.0, rng=np.random.default_rng(0))
    from_torch = epsilon_greedy(lambda o: torch.from_numpy(q), obs, 4, epsilon=0.0, rng=np.random.default_rng(0))
    assert from_numpy.tolist() == from_torch.tolist() == [1, 0, 2]  # the first maximal action
    assert from_numpy.dtype == np.int64


def test_epsilon_greedy_choice_returns_the_q_rows_the_greedy_envs_acted_on():
    obs = np.arange(6, dtype=np.float32)[:, None]  # [6, 1]: env i observes i

    def q_of(o):  # Q [G, 3] whose argmax is obs % 3
        return torch.nn.functional.one_hot(torch.from_numpy(o[:, 0]).long() % 3, 3).float() * (1 + torch.from_numpy(o))
    actions, explore, q = epsilon_greedy_choice(q_of, obs, 3, epsilon=0.5, rng=np.random.default_rng(2))
    assert actions.tolist() == epsilon_greedy(q_of, obs, 3, epsilon=0.5, rng=np.random.default_rng(2)).tolist()
    assert 0 < explore.sum() < 6 and q.shape == (int((~explore).sum()), 3)
    np.testing.assert_array_equal(q.numpy(), q_of(obs[~explore]).numpy())  # row g: the g-th greedy env
    assert actions[~explore].tolist() == [i % 3 for i in np.flatnonzero(~explore)]
    assert epsilon_greedy_choice(q_of, obs, 3, epsilon=1.0, rng=np.random.default_rng(2))[2] is None


def test_td_target_uses_discount_and_clip():
    rewards = torch.tensor([1.0, 1.0, 50.0])
    discounts = torch.tensor([0.99, 0.0, 0.9801])  # 1-step, terminated, 2-step
    v_next = torch.tensor([10.0, 10.0, 10.0])
    assert losses.td_target(rewards, discounts, v_next, None).tolist() == pytest.approx([10.9, 1.0, 59.801])
    assert losses.td_target(rewards, discounts, v_next, 20.0).tolist() == pytest.approx([10.9, 1.0, 20.0])


def test_dqn_loss_huber_and_mse_by_hand():
    q_online = torch.tensor([[1.0, 2.0], [0.0, 5.0]], requires_grad=True)
    actions = torch.tensor([1, 0])
    rewards = torch.tensor([0.0, 3.0])
    discounts = torch.tensor([1.0, 0.0])
    q_next = torch.tensor([[2.5, 0.0], [0.0, 0.0]])
    # targets: [2.5, 3.0]; taken: [2.0, 0.0]; errors: [0.5, 3.0]
    mse, _ = losses.dqn_loss(q_online, actions, rewards, discounts, q_next, None, backup="max", temperature=1.0,
                             loss_kind="mse", target_clip=None)
    huber, metrics = losses.dqn_loss(q_online, actions, rewards, discounts, q_next, None, backup="max",
                                     temperature=1.0, loss_kind="huber", target_clip=None)
    assert float(mse.detach()) == pytest.approx((0.25 + 9.0) / 2)
    assert float(huber.detach()) == pytest.approx((0.5 * 0.25 + (3.0 - 0.5)) / 2)
    assert float(metrics["mean_q"]) == pytest.approx(1.0)
    huber.backward()
    assert q_online.grad[1, 1] == 0.0 and q_online.grad[0, 0] == 0.0  # only taken actions get gradient


@pytest.mark.parametrize("backup", ["max", "expected", "soft", "report_soft"])
@pytest.mark.parametrize("temperature", [0.01, 0.6535, 7.3])
def test_a_0d_tensor_temperature_gives_the_float_temperature_numbers(backup, temperature):
    # the learner passes its temperature as a 0-d float32 tensor (one compiled graph for every value)
    gen = torch.Generator().manual_seed(0)
    q_online, q_next_target, q_next_online = (torch.randn(64, 6, generator=gen) * 30 for _ in range(3))  # [B, A]
    actions, rewards = torch.randint(6, (64,), generator=gen), torch.randn(64, generator=gen)  # [B], [B]
    discounts = torch.full((64,), 0.99)  # [B]

    def loss(t):
        return losses.dqn_loss(q_online, actions, rewards, discounts, q_next_target, q_next_online, backup=backup,
                               temperature=t, loss_kind="huber", target_clip=None)
    (by_float, float_metrics), (by_tensor, tensor_metrics) = loss(temperature), loss(torch.tensor(temperature))
    assert torch.equal(by_float, by_tensor)
    assert all(torch.equal(float_metrics[key], tensor_metrics[key]) for key in float_metrics)
    assert torch.equal(losses.boltzmann_policy(q_online, temperature),
                       losses.boltzmann_policy(q_online, torch.tensor(temperature)))
