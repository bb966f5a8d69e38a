"""IQN's loss piece inside the shared ValueLearner under hardware.compile."""

import numpy as np
import pytest
import torch

from rlkit.algos.iqn.learner import IQNLoss
from rlkit.algos.value_based.learner import ValueLearner
from rlkit.buffers import ReplayBatch
from rlkit.networks import NETWORKS
from rlkit.networks.mlp import MLPConfig
from rlkit.networks.quantile import ImplicitQuantileNetwork
from rlkit.schedules import LinearSchedule, constant


def _learner(temperature: LinearSchedule, compile: bool) -> ValueLearner:
    torch.manual_seed(0)
    net = ImplicitQuantileNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[16]), (4,), np.float32), 3,
                                  num_cosines=8)
    return ValueLearner(net, IQNLoss(6, 7, 5, 1.0, True, "soft", None, seed=1), lr_schedule=constant(1e-3),
                        temperature_schedule=temperature, adam_eps=1e-8, grad_clip_norm=10.0, target_update="soft",
                        polyak_tau=0.5, target_update_period_env_steps=100, device=torch.device("cpu"), amp=False,
                        compile=compile)


def test_a_compiled_soft_backup_compiles_only_on_the_first_update_while_the_temperature_decays(monkeypatch):
    import torch._dynamo

    from rlkit.algos.value_based import learner as learner_module

    # the loss's generator draws split it into several graphs, all made on the first update; a float
    # temperature was a constant of two of them, so each new value compiled those again
    monkeypatch.setitem(learner_module.COMPILE_OPTIONS, "backend", "eager")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    decaying = LinearSchedule(1.0, 0.01, 20)
    eager, compiled = _learner(decaying, compile=False), _learner(decaying, compile=True)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(8, 4)).astype(np.float32)  # [B, D]
    batch = ReplayBatch(obs, rng.integers(3, size=8).astype(np.int16), np.ones(8, np.float32),
                        np.full(8, 0.99, np.float32), obs, None, None)
    graphs, eager_losses, compiled_losses = [], [], []
    for step in range(20):
        eager.update(batch, step)
        compiled.update(batch, step)
        graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
        eager_losses.append(eager.pop_metrics()["loss"])
        compiled_losses.append(compiled.pop_metrics()["loss"])
    assert graphs[0] >= 1 and graphs == [graphs[0]] * 20
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-5)
    assert compiled_losses[-1] != pytest.approx(compiled_losses[0])
