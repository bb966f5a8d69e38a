"""SAC resume equivalence: an agent restored from a checkpoint file and given the same batches ends
with bit-identical weights, target critics, temperature, optimizer states and random streams to the
one that was never interrupted (as tests/unit/algos/test_learner_resume.py for DQN, IQN and PPO)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit import build, checkpoint, seeding
from rlkit.buffers import ReplayBatch
from rlkit.config import to_run_config
from tests.conftest import compose_config

CPU = torch.device("cpu")
BASE = ["env=gym", "env.id=Pendulum-v1", "algo=sac", "schedule=sac_smoke", "network.hidden_sizes=[32,32]"]


def _run(overrides):
    return to_run_config(compose_config(overrides))


def _agent(overrides, init_seed: int, spec):
    run = _run(overrides)
    torch.manual_seed(init_seed)
    return build.algo_entry(run).component(run, spec, CPU)


def _spec(overrides):
    run = _run(overrides)
    envs, eval_envs = build.build_envs(run, build.algo_entry(run))
    envs.close()
    eval_envs.close()
    return envs.spec


def _batch(spec, seed: int) -> ReplayBatch:
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(32, *spec.obs_shape)).astype(np.float32)
    discounts = np.where(rng.random(32) < 0.1, 0.0, 0.99).astype(np.float32)  # some terminations
    return ReplayBatch(obs, rng.uniform(-1, 1, size=(32, *spec.action_shape)).astype(np.float32),
                       rng.normal(size=32).astype(np.float32), discounts, rng.normal(size=obs.shape).astype(np.float32),
                       None, None)


def _tensors(state, prefix=""):
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    if isinstance(state, dict):
        return {k: v for key, value in state.items() for k, v in _tensors(value, f"{prefix}/{key}").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, value in enumerate(state) for k, v in _tensors(value, f"{prefix}/{i}").items()}
    return {}


@pytest.mark.parametrize("extra", [[], ["algo.alpha=0.2", "algo.policy_update_period_updates=3",
                                        "algo.compensate_policy_delay=false"]], ids=["tuned", "fixed_delayed"])
def test_restored_sac_agent_matches_the_uninterrupted_one_bit_for_bit(extra, tmp_path):
    overrides = BASE + extra
    spec = _spec(overrides)
    uninterrupted = _agent(overrides, init_seed=0, spec=spec)
    for step in range(4):  # with period 3, the restored agent's next update is the one that owes policy steps
        uninterrupted.learner.update(_batch(spec, step), env_step=100 * step)
    uninterrupted.actor.act(np.zeros((3, *spec.obs_shape), np.float32))  # move the acting stream too
    state = {"agent": uninterrupted.state_dict(), "torch_rng": seeding.torch_rng_state()}
    path = checkpoint.save_checkpoint(tmp_path, 400, state, None, keep=1)

    restored = _agent(overrides, init_seed=99, spec=spec)  # other initial weights, then the checkpoint
    loaded = checkpoint.load_checkpoint(path)
    restored.load_state_dict(loaded["agent"])
    torch.manual_seed(7)  # the global stream moves on in between; SAC's own streams are in the agent state
    for agent in (restored, uninterrupted):
        for step in (4, 5):
            agent.learner.update(_batch(spec, step), env_step=100 * step)
    obs = np.random.default_rng(3).normal(size=(5, *spec.obs_shape)).astype(np.float32)
    np.testing.assert_array_equal(restored.actor.act(obs), uninterrupted.actor.act(obs))
    np.testing.assert_array_equal(restored.actor.random(5), uninterrupted.actor.random(5))

    want, got = _tensors(uninterrupted.state_dict()), _tensors(restored.state_dict())
    assert want.keys() == got.keys() and len(want) > 20
    assert not [key for key in want if not torch.equal(want[key], got[key])]
    assert restored.learner.num_updates == uninterrupted.learner.num_updates == 6
    policy_updates = 6 if not extra else 2
    assert restored.learner.num_policy_updates == uninterrupted.learner.num_policy_updates == policy_updates
    assert restored.update_credit == uninterrupted.update_credit
    if extra:  # the fixed temperature did not move
        assert float(restored.learner.alpha) == pytest.approx(0.2)
    # and the restore really replaced the other initial weights
    fresh = _agent(overrides, init_seed=99, spec=spec)
    assert not torch.equal(fresh.learner.policy.mean_head.weight, restored.learner.policy.mean_head.weight)
