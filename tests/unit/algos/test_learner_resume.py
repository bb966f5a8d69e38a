"""Learner equivalence: an agent restored from a checkpoint file and given the same batch ends with
bit-identical weights, target weights and optimizer state to the one that was never interrupted
(DQN, IQN and PPO on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit import build, checkpoint, seeding
from rlkit.buffers import ReplayBatch
from rlkit.buffers.rollout import RolloutBatch
from rlkit.config import to_run_config
from tests.conftest import compose_config

CPU = torch.device("cpu")


def _agent(overrides: list[str], init_seed: int, spec):
    run = to_run_config(compose_config(overrides))
    entry = build.algo_entry(run)
    torch.manual_seed(init_seed)
    return entry.component(run, spec, CPU)


def _spec(overrides: list[str]):
    run = to_run_config(compose_config(overrides))
    envs, eval_envs = build.build_envs(run, build.algo_entry(run))
    envs.close()
    eval_envs.close()
    return envs.spec


def _replay_batch(spec, seed: int) -> ReplayBatch:
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(32, *spec.obs_shape)).astype(np.float32)
    next_obs = rng.normal(size=obs.shape).astype(np.float32)
    return ReplayBatch(obs, rng.integers(spec.n_actions, size=32).astype(np.int16),
                       rng.normal(size=32).astype(np.float32), np.full(32, 0.99, np.float32), next_obs, None, None)


def _rollout_batch(spec, seed: int) -> RolloutBatch:
    g = torch.Generator().manual_seed(seed)
    steps, envs, act_dim = 16, 4, spec.action_shape[0]
    return RolloutBatch(obs=torch.randn(steps, envs, *spec.obs_shape, generator=g),
                        actions=torch.randn(steps, envs, act_dim, generator=g),
                        log_probs=torch.randn(steps, envs, generator=g), values=torch.randn(steps, envs, generator=g),
                        rewards=torch.randn(steps, envs, generator=g),
                        terminated=torch.rand(steps, envs, generator=g) < 0.05,
                        truncated=torch.rand(steps, envs, generator=g) < 0.05,
                        valid=torch.ones(steps, envs, dtype=torch.bool), last_value=torch.randn(envs, generator=g))


def _tensors(state, prefix=""):
    """Every tensor in a nested state dict, by path."""
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    if isinstance(state, dict):
        return {k: v for key, value in state.items() for k, v in _tensors(value, f"{prefix}/{key}").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, value in enumerate(state) for k, v in _tensors(value, f"{prefix}/{i}").items()}
    return {}


@pytest.mark.parametrize("overrides,make_batch", [
    (["env=cartpole", "algo=dqn", "schedule=smoke"], _replay_batch),
    (["env=cartpole", "algo=iqn", "schedule=smoke", "algo.target_update=hard"], _replay_batch),
    (["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke"], _rollout_batch),
], ids=["dqn", "iqn", "ppo"])
def test_restored_learner_matches_the_uninterrupted_one_bit_for_bit(overrides, make_batch, tmp_path):
    spec = _spec(overrides)
    torch.manual_seed(123)
    uninterrupted_agent = _agent(overrides, init_seed=0, spec=spec)
    uninterrupted = uninterrupted_agent.learner
    for step in range(3):
        uninterrupted.update(make_batch(spec, step), env_step=100 * step)
    state = {"agent": uninterrupted_agent.state_dict(), "torch_rng": seeding.torch_rng_state()}
    path = checkpoint.save_checkpoint(tmp_path, 300, state, None, keep=1)

    restored_agent = _agent(overrides, init_seed=99, spec=spec)  # different initial weights, then the checkpoint
    restored = restored_agent.learner
    loaded = checkpoint.load_checkpoint(path)
    restored_agent.load_state_dict(loaded["agent"])
    torch.manual_seed(7)  # the RNG moves on in between; the loop restores it from the checkpoint
    seeding.set_torch_rng_state(loaded["torch_rng"])
    restored.update(make_batch(spec, 3), env_step=300)

    seeding.set_torch_rng_state(state["torch_rng"])
    uninterrupted.update(make_batch(spec, 3), env_step=300)

    want, got = _tensors(uninterrupted.state_dict()), _tensors(restored.state_dict())
    assert want.keys() == got.keys() and len(want) > 6
    different = [key for key in want if not torch.equal(want[key], got[key])]
    assert not different
    assert restored.num_updates == uninterrupted.num_updates > 0
