"""Running statistics: batch merging equals the statistics of the concatenated data; observation
normalization (clip, frozen use); reward scaling by the running std of the discounted return."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from rlkit.normalizers import ObservationNormalizer, RewardScaler, RunningMeanStd


@pytest.mark.parametrize("sizes", [[1, 1, 1], [5, 1, 37, 2], [1000, 3], [64] * 10])
def test_merging_batches_equals_statistics_of_concatenated_data(sizes):
    rng = np.random.default_rng(len(sizes))
    batches = [rng.normal(loc=3.0 * i, scale=1.0 + i, size=(n, 4)) for i, n in enumerate(sizes)]
    stats = RunningMeanStd((4,))
    for batch in batches:
        stats.update(batch)
    data = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, data.mean(axis=0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats.var, data.var(axis=0), rtol=1e-10, atol=1e-10)
    assert stats.count == len(data)


def test_empty_batch_changes_nothing_and_state_round_trips_through_a_safe_checkpoint():
    stats = RunningMeanStd((2,))
    stats.update(np.array([[1.0, 2.0], [3.0, 6.0]]))
    stats.update(np.zeros((0, 2)))
    assert stats.count == 2 and stats.mean.tolist() == [2.0, 4.0]
    buffer = io.BytesIO()
    torch.save(stats.state_dict(), buffer)
    buffer.seek(0)
    restored = RunningMeanStd((2,))
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.mean.tolist() == [2.0, 4.0] and restored.var.tolist() == [1.0, 4.0] and restored.count == 2


def test_observation_normalizer_updates_when_training_and_is_frozen_in_evaluation():
    norm = ObservationNormalizer((1, 2), clip=10.0)
    rng = np.random.default_rng(0)
    train = rng.normal([5.0, -2.0], [2.0, 0.5], size=(4000, 1, 2))
    for chunk in np.split(train, 40):
        out = norm(chunk, update=True)
    assert out.dtype == np.float32 and out.shape == (100, 1, 2)
    normalized = norm(train, update=False)
    np.testing.assert_allclose(normalized.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalized.std(axis=0), 1.0, atol=1e-4)
    before = norm.state_dict()["mean"].clone()
    norm(np.full((8, 1, 2), 1e6), update=False)  # evaluation: statistics untouched, output clipped
    assert torch.equal(norm.state_dict()["mean"], before)
    assert (norm(np.full((1, 1, 2), 1e6), update=False) == 10.0).all()


def test_reward_scaler_divides_by_the_std_of_discounted_returns_reset_at_episode_ends():
    gamma, E, T = 0.9, 2, 50
    rng = np.random.default_rng(1)
    rewards = rng.normal(1.0, 2.0, size=(T, E))
    done = rng.random((T, E)) < 0.1
    valid = np.ones((T, E), dtype=bool)
    valid[1:][done[:-1]] = False  # the step after a done is a reset step
    scaler = RewardScaler(E, gamma, clip=1e9)
    returns, history = np.zeros(E), []
    for t in range(T):
        r = np.where(valid[t], rewards[t], 0.0)
        scaled = scaler(r.astype(np.float32), done[t] & valid[t], valid[t])
        for e in range(E):  # naive reference
            if valid[t, e]:
                returns[e] = gamma * returns[e] + r[e]
                history.append(returns[e])
        want = np.where(valid[t], r / np.sqrt(np.var(history) + 1e-8), 0.0)
        np.testing.assert_allclose(scaled, want, rtol=1e-5, atol=1e-6)
        returns[done[t] & valid[t]] = 0.0
    clipped = RewardScaler(1, gamma, clip=10.0)
    yes = np.array([True])
    for r in rng.normal(0.0, 1.0, size=300):  # one-step episodes: the returns are the rewards, std ~1
        clipped(np.array([r], np.float32), yes, yes)
    # a reward of 1000 joins the statistics first (std ~58), so it scales to ~17: clipped to 10
    assert clipped(np.array([1e3], np.float32), yes, yes)[0] == 10.0
    assert clipped(np.array([-1e3], np.float32), yes, yes)[0] == -10.0
