"""Episode bookkeeping shared by the loops and evaluation: raw returns, NEXT_STEP resets skipped."""

from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np

from rlkit.envs.base import VecEnv


class EpisodeTracker:
    """Running raw returns per sub-env and the last ``window`` finished episodes.

    Episodes are whole ones (``StepResult.episode_end``): with Atari's episodic life a game, not a
    life, so training returns mean what evaluation's (whole games) and DeepMind's mean."""

    def __init__(self, num_envs: int, window: int = 100) -> None:
        self.returns = np.zeros(num_envs, dtype=np.float64)  # [E]
        self.lengths = np.zeros(num_envs, dtype=np.int64)  # [E]
        self.recent_returns: deque[float] = deque(maxlen=window)
        self.recent_lengths: deque[int] = deque(maxlen=window)
        self.num_episodes = 0

    def step(self, raw_rewards: np.ndarray, episode_end: np.ndarray, is_reset_step: np.ndarray) -> None:
        """raw_rewards [E]; episode_end [E] bool, the env's (on a reset step: the game ended in the
        env's restart step, after the last transition); is_reset_step [E] bool."""
        live = ~is_reset_step  # [E] reset steps are not part of any episode
        self.returns[live] += raw_rewards[live]
        self.lengths[live] += 1
        for i in np.flatnonzero(episode_end):
            self.recent_returns.append(float(self.returns[i]))
            self.recent_lengths.append(int(self.lengths[i]))
            self.num_episodes += 1
            self.returns[i] = 0.0
            self.lengths[i] = 0

    def summary(self) -> dict[str, float]:
        if not self.recent_returns:
            return {"train/episodes": self.num_episodes}
        returns = np.asarray(self.recent_returns)
        return {
            "train/episode_return_mean": float(returns.mean()),
            "train/episode_return_median": float(np.median(returns)),
            "train/episode_return_max": float(returns.max()),
            "train/episode_length_mean": float(np.mean(self.recent_lengths)),
            "train/episodes": self.num_episodes,
        }

    def state_dict(self) -> dict:
        return {"recent_returns": list(self.recent_returns), "recent_lengths": list(self.recent_lengths),
                "num_episodes": self.num_episodes}

    def load_state_dict(self, state: dict) -> None:
        self.recent_returns.extend(state["recent_returns"])
        self.recent_lengths.extend(state["recent_lengths"])
        self.num_episodes = int(state["num_episodes"])


class EpisodesStopped(Exception):
    """``run_episodes`` was asked to stop before its episodes were done (a stop request)."""


def run_episodes(env: VecEnv, act: Callable[[np.ndarray], np.ndarray], num_episodes: int, seed: int,
                 should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Raw returns of exactly ``num_episodes`` episodes, split evenly over the sub-envs.

    Each sub-env runs a fixed quota, so short episodes are not over-represented. ``should_stop`` is
    asked before each vector step; when it says so, ``EpisodesStopped`` is raised.
    """
    num_envs = env.num_envs
    quotas = np.full(num_envs, num_episodes // num_envs)  # [E]
    quotas[: num_episodes % num_envs] += 1
    finished: list[float] = []
    counts = np.zeros(num_envs, dtype=np.int64)  # [E]
    running = np.zeros(num_envs, dtype=np.float64)  # [E]
    is_reset_step = np.zeros(num_envs, dtype=bool)  # [E]
    obs = env.reset(seed=seed)
    while (counts < quotas).any():
        if should_stop is not None and should_stop():
            raise EpisodesStopped(f"stopped after {len(finished)} of {num_episodes} episodes")
        result = env.step(act(obs))
        live = ~is_reset_step
        running[live] += result.reward[live]
        done = (result.terminated | result.truncated) & live
        for i in np.flatnonzero(done):
            if counts[i] < quotas[i]:
                finished.append(float(running[i]))
                counts[i] += 1
            running[i] = 0.0
        is_reset_step = done
        obs = result.obs
    return np.asarray(finished)
