"""Rollout storage: [T, E] layout, dtypes, reset rows masked out, fill/read cycle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit.buffers.rollout import RolloutBuffer


def fill(buffer: RolloutBuffer, resets: dict[int, list[int]]):
    """Adds T rows; rows listed in ``resets`` (t -> envs) are reset rows given nonzero rewards and flags
    anyway, to check that the buffer masks them."""
    E = buffer.num_envs
    for t in range(buffer.num_steps):
        valid = np.ones(E, dtype=bool)
        valid[resets.get(t, [])] = False
        buffer.add(np.full((E, 1, 3), t, dtype=np.float32), torch.full((E, 2), float(t)), torch.full((E,), -t * 1.0),
                   torch.full((E,), t * 0.5), np.full(E, 1.0 + t, dtype=np.float32), ~valid, ~valid, valid)


def test_layout_dtypes_and_reset_rows_masked():
    buffer = RolloutBuffer(4, 3, (1, 3), (2,), torch.device("cpu"))
    fill(buffer, {1: [0], 3: [1, 2]})
    assert buffer.full
    batch = buffer.batch(torch.tensor([7.0, 8.0, 9.0]))
    assert batch.obs.shape == (4, 3, 1, 3) and batch.obs.dtype == torch.float32
    assert batch.actions.shape == (4, 3, 2) and batch.log_probs.shape == (4, 3) and batch.values.shape == (4, 3)
    assert batch.terminated.dtype == torch.bool and batch.valid.dtype == torch.bool
    assert batch.obs[2, 1, 0, 0].item() == 2.0 and batch.actions[3, 0, 1].item() == 3.0
    assert batch.values[1, 0].item() == 0.5  # a reset row keeps its value: V(final obs) for bootstrapping
    assert batch.rewards[1, 0].item() == 0.0 and batch.rewards[1, 1].item() == 2.0
    assert not batch.terminated.any() and not batch.truncated.any()  # flags on reset rows are dropped
    assert batch.num_transitions == 12 - 3
    assert batch.last_value.tolist() == [7.0, 8.0, 9.0]


def test_fill_read_cycle_and_overfill_refused():
    buffer = RolloutBuffer(2, 1, (1, 3), (2,), torch.device("cpu"))
    with pytest.raises(IndexError):
        buffer.batch(torch.zeros(1))
    fill(buffer, {})
    with pytest.raises(IndexError):
        fill(buffer, {})
    buffer.batch(torch.zeros(1))
    assert buffer.step == 0 and not buffer.full
    fill(buffer, {})
    assert buffer.full


def test_a_rollout_cut_short_gives_the_rows_added():
    buffer = RolloutBuffer(4, 2, (1, 3), (2,), torch.device("cpu"))
    full = RolloutBuffer(1, 2, (1, 3), (2,), torch.device("cpu"))
    fill(full, {})
    valid = np.ones(2, dtype=bool)
    buffer.add(np.zeros((2, 1, 3), np.float32), torch.zeros(2, 2), torch.zeros(2), torch.full((2,), 0.5),
               np.full(2, 1.0, np.float32), ~valid, ~valid, valid)  # 1 of 4 rows: the budget ended the rollout
    batch = buffer.batch(torch.zeros(2))
    assert batch.obs.shape == (1, 2, 1, 3) and batch.valid.shape == (1, 2) and buffer.step == 0
    assert torch.equal(batch.rewards, full.batch(torch.zeros(2)).rewards)
