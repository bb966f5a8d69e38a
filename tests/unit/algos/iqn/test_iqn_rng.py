"""IQN's taus come from explicit generators, never from torch's global RNG.

The global RNG is shared by the training loss, the training actor and evaluation; when the taus
were drawn from it, changing an evaluation setting (how many episodes, how many taus) shifted
every later training draw. These tests pin the separation: the loss owns a seeded generator
whose state can be checkpointed, and ``mean_q`` draws only from the generator it is given.
"""

import copy
import io

import numpy as np
import pytest
import torch

from rlkit.algos.value_based.learner import TorchBatch
from rlkit.algos.iqn.learner import IQNLoss, mean_q, sample_taus
from rlkit.networks.mlp import MLPConfig
from rlkit.networks import NETWORKS
from rlkit.networks.quantile import ImplicitQuantileNetwork

OBS_DIM, N_ACTIONS, BATCH = 4, 3, 5


def tiny_iqn(seed: int = 0) -> ImplicitQuantileNetwork:
    torch.manual_seed(seed)  # only the weight init; the tests reseed the global RNG on purpose later
    torso = NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[16, 16]), (OBS_DIM,), np.float32)
    return ImplicitQuantileNetwork(torso, N_ACTIONS, num_cosines=8)


def fixed_batch() -> TorchBatch:
    gen = torch.Generator().manual_seed(11)
    return TorchBatch(obs=torch.randn(BATCH, OBS_DIM, generator=gen),  # [B, D]
                      actions=torch.randint(N_ACTIONS, (BATCH,), generator=gen),  # [B]
                      rewards=torch.randn(BATCH, generator=gen),  # [B]
                      discounts=torch.full((BATCH,), 0.99),  # [B]
                      next_obs=torch.randn(BATCH, OBS_DIM, generator=gen))  # [B, D]


def make_loss(seed: int, backup: str = "max", **kwargs) -> IQNLoss:
    return IQNLoss(6, 7, 5, 1.0, True, backup, None, seed=seed, **kwargs)


@pytest.mark.parametrize("backup", ["max", "soft"])  # soft also samples a'_j from pi: that draw is the loss's too
def test_same_seed_gives_identical_losses_whatever_the_global_rng_does(backup):
    online = tiny_iqn()
    target = copy.deepcopy(online)
    batch = fixed_batch()
    first, second = make_loss(7, backup), make_loss(7, backup)

    torch.manual_seed(0)
    loss_a, metrics_a = first(online, target, batch, 0.5)
    torch.manual_seed(12345)
    torch.rand(1000)  # an evaluation or actor drawing from the global RNG in between
    loss_b, metrics_b = second(online, target, batch, 0.5)
    assert torch.equal(loss_a, loss_b)
    assert all(torch.equal(metrics_a[key], metrics_b[key]) for key in metrics_a)

    # The streams advance in step: the second update of each still matches.
    torch.rand(77)
    assert torch.equal(first(online, target, batch, 0.5)[0], second(online, target, batch, 0.5)[0])
    # and the seed matters
    assert not torch.equal(make_loss(8, backup)(online, target, batch, 0.5)[0], loss_a)


@pytest.mark.parametrize("backup", ["max", "soft"])
def test_the_loss_does_not_consume_the_global_rng(backup):
    online = tiny_iqn()
    target = copy.deepcopy(online)
    before = torch.random.get_rng_state()
    make_loss(3, backup)(online, target, fixed_batch(), 0.5)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_state_dict_restores_the_tau_stream():
    online = tiny_iqn()
    target = copy.deepcopy(online)
    batch = fixed_batch()
    uninterrupted = make_loss(3, "soft")
    uninterrupted(online, target, batch, 0.5)  # advance past the seed's start
    buffer = io.BytesIO()
    torch.save(uninterrupted.state_dict(), buffer)  # as a checkpoint would
    expected = [uninterrupted(online, target, batch, 0.5)[0] for _ in range(3)]

    restored = make_loss(99, "soft")  # another seed: only load_state_dict can make it match
    buffer.seek(0)
    restored.load_state_dict(torch.load(buffer))
    got = [restored(online, target, batch, 0.5)[0] for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got))


def test_mean_q_draws_only_from_the_given_generator():
    net = tiny_iqn()
    obs = fixed_batch().obs
    before = torch.random.get_rng_state()
    q = mean_q(net, obs, 8, generator=torch.Generator().manual_seed(5))  # [B, A]
    q_cvar = mean_q(net, obs, num_taus=8, risk_measure="cvar", risk_eta=0.25,
                    generator=torch.Generator().manual_seed(5))  # [B, A]
    assert torch.equal(torch.random.get_rng_state(), before)
    assert q.shape == (BATCH, N_ACTIONS)
    torch.rand(10)  # the global stream moves; the same generator seed still gives the same values
    assert torch.equal(mean_q(net, obs, 8, generator=torch.Generator().manual_seed(5)), q)
    assert not torch.equal(q_cvar, q)


def test_sample_taus_follows_the_generator():
    first = sample_taus(2, 3, torch.device("cpu"), torch.Generator().manual_seed(1))  # [2, 3]
    again = sample_taus(2, 3, torch.device("cpu"), torch.Generator().manual_seed(1))  # [2, 3]
    assert first.shape == (2, 3) and torch.equal(first, again)
    assert bool(((first > 0) & (first < 1)).all())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_loss_and_any_generator_for_mean_q():
    device = torch.device("cuda")
    online = tiny_iqn().to(device)
    target = copy.deepcopy(online)
    cpu_batch = fixed_batch()
    batch = TorchBatch(*(getattr(cpu_batch, name).to(device)
                         for name in ("obs", "actions", "rewards", "discounts", "next_obs")))
    first, second = make_loss(7, "soft", device=device), make_loss(7, "soft", device=device)
    loss_a = first(online, target, batch, 0.5)[0]
    torch.cuda.manual_seed(1)
    torch.rand(100, device=device)
    assert torch.equal(loss_a, second(online, target, batch, 0.5)[0])
    # the state round-trips through the CPU, as torch.load(map_location=...) may hand it back
    state = {key: value.to(device) for key, value in first.state_dict().items()}
    second.load_state_dict(state)
    assert torch.equal(first(online, target, batch, 0.5)[0], second(online, target, batch, 0.5)[0])
    # mean_q accepts a CUDA generator or a CPU one for a CUDA network
    for generator in (torch.Generator(device=device).manual_seed(2), torch.Generator().manual_seed(2)):
        assert mean_q(online, batch.obs, 8, generator=generator).device.type == "cuda"
    # a loss whose generator lives elsewhere than the batch says so, instead of a torch internal error
    with pytest.raises(ValueError, match="device"):
        make_loss(7)(online, target, batch, 0.5)
