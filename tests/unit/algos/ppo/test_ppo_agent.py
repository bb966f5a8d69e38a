"""PPOAgent's rollout: the training reward is clipped by env.reward_clip before the reward scaler, as every
algorithm clips it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit.algos.ppo import build_ppo
from rlkit.config import to_run_config
from rlkit.envs.base import EnvSpec, StepResult
from rlkit.episodes import EpisodeTracker
from rlkit.normalizers import RewardScaler
from rlkit.runner import TrainingEnvs
from tests.conftest import compose_config

CPU = torch.device("cpu")
REWARDS = np.array([5.0, -7.0, 0.5, 2.0, -0.25], np.float32)  # cycled; three of them outside [-1, 1]


class ContinuousFakeEnvs:
    """E sub-envs with 3-dim observations and one action in [-1, 1]; episodes of ``episode_length``
    transitions whose rewards cycle through REWARDS; NEXT_STEP autoreset (reward 0 on the reset step)."""

    def __init__(self, num_envs: int, episode_length: int = 4) -> None:
        self.num_envs = num_envs
        self.spec = EnvSpec("fake", (3,), np.dtype(np.float32), n_actions=0, action_shape=(1,),
                            action_low=-np.ones(1, np.float32), action_high=np.ones(1, np.float32))
        self.episode_length = episode_length
        self.calls = 0
        self.t = np.zeros(num_envs, dtype=np.int64)  # [E]
        self.ended = np.zeros(num_envs, dtype=bool)  # [E]
        self.raw_rewards: list[np.ndarray] = []  # [E] per step, as returned

    def reset(self, seed: int) -> np.ndarray:
        self.t[:] = 0
        self.ended[:] = False
        return np.zeros((self.num_envs, 3), np.float32)

    def step(self, actions: np.ndarray) -> StepResult:
        reset = self.ended.copy()  # [E]
        self.t = np.where(reset, 0, self.t + 1)
        cycled = REWARDS[(self.calls + np.arange(self.num_envs)) % len(REWARDS)]  # [E]
        reward = np.where(reset, 0.0, cycled).astype(np.float32)
        self.calls += 1
        terminated = ~reset & (self.t >= self.episode_length)
        self.ended = terminated
        self.raw_rewards.append(reward)
        obs = np.stack([self.t, actions[:, 0], reward], axis=1).astype(np.float32)
        return StepResult(obs, reward, terminated, np.zeros(self.num_envs, bool), terminated)

    def close(self) -> None:
        pass


def one_rollout(overrides: list[str]):
    """Build PPO for the fake envs (2 envs, 8 steps each) and run one train step; -> (agent, batch, envs)."""
    run = to_run_config(compose_config(["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke",
                                        "hardware.num_envs=2", "schedule.rollout_transitions=16", *overrides]))
    fake = ContinuousFakeEnvs(2)
    agent = build_ppo(run, fake.spec, CPU)
    batches = []
    agent.learner.update = lambda batch, env_step: batches.append(batch)
    envs = TrainingEnvs(fake, EpisodeTracker(2), total_env_steps=1000)
    agent.start(envs.reset(seed=0))
    agent.train_step(envs)
    assert len(batches) == 1 and len(fake.raw_rewards) == 8
    return agent, batches[0], fake


def test_env_reward_clip_clips_the_training_reward():
    _, batch, fake = one_rollout(["env.reward_clip=1.0", "algo.normalize_reward=false"])
    raw = np.stack(fake.raw_rewards)  # [T, E]
    assert np.abs(raw).max() == 7.0
    np.testing.assert_array_equal(batch.rewards.numpy(), np.clip(raw, -1.0, 1.0))
    _, unclipped, _ = one_rollout(["algo.normalize_reward=false"])  # env.reward_clip null: raw rewards
    np.testing.assert_array_equal(unclipped.rewards.numpy(), raw)


def test_the_reward_scaler_sees_the_clipped_reward():
    agent, batch, fake = one_rollout(["env.reward_clip=1.0"])
    assert agent.reward_scaler.clip == 10.0  # algo.reward_clip unset: CleanRL's clip of the scaled reward
    reference = RewardScaler(2, 0.99, clip=10.0)
    want = []
    for t, raw in enumerate(fake.raw_rewards):
        valid = batch.valid.numpy()[t]  # [E]
        done = batch.terminated.numpy()[t] | batch.truncated.numpy()[t]  # [E]
        want.append(reference(np.clip(raw, -1.0, 1.0), done, valid))
    np.testing.assert_allclose(batch.rewards.numpy(), np.stack(want), rtol=1e-6)
    assert agent.reward_scaler.stats.count == reference.stats.count
    assert agent.reward_scaler.stats.var == pytest.approx(float(reference.stats.var))



def test_a_rollout_the_envs_end_by_raising_leaves_the_statistics_of_its_start():
    # the runner saves the checkpoint of the rollout's start on an env failure: the obs normalizer, the
    # reward scaler and the sampling stream must be those of that start, not of the steps that came
    run = to_run_config(compose_config(["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke",
                                        "hardware.num_envs=2", "schedule.rollout_transitions=16"]))
    fake = ContinuousFakeEnvs(2)
    agent = build_ppo(run, fake.spec, CPU)
    envs = TrainingEnvs(fake, EpisodeTracker(2), total_env_steps=1000)
    agent.start(envs.reset(seed=0))
    agent.train_step(envs)  # one whole rollout (and its update) first
    before = agent.state_dict()
    fake_step = fake.step

    def failing_step(actions):
        if fake.calls == 13:  # inside the second rollout
            raise OSError("the env's process died")
        return fake_step(actions)

    fake.step = failing_step
    with pytest.raises(Exception, match="process died"):
        agent.train_step(envs)
    after = agent.state_dict()
    assert fake.calls == 13 and after["actor"]["obs_normalizer"]["count"] == before["actor"]["obs_normalizer"]["count"]
    for part, name in (("actor", "generator"), ("actor", "eval_generator")):
        assert torch.equal(after[part][name], before[part][name]), name
    for key in ("mean", "var"):
        assert torch.equal(after["actor"]["obs_normalizer"][key], before["actor"]["obs_normalizer"][key])
        assert torch.equal(after["reward_scaler"][key], before["reward_scaler"][key])
    assert after["reward_scaler"]["count"] == before["reward_scaler"]["count"] > 0
