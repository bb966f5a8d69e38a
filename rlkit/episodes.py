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


class EpisodeQuotas:
    """Exactly ``num_episodes`` whole episodes split evenly over ``num_envs`` sub-envs, with their raw
    returns and lengths.

    Each sub-env plays a fixed quota (the first ``num_episodes % num_envs`` one more), so short
    episodes are not over-represented, as they would be by taking the first episodes to end. Reset
    steps (NEXT_STEP autoreset: the step after an episode ends) belong to no episode."""

    def __init__(self, num_envs: int, num_episodes: int) -> None:
        self.quotas = np.full(num_envs, num_episodes // num_envs)  # [E]
        self.quotas[: num_episodes % num_envs] += 1
        self.counts = np.zeros(num_envs, dtype=np.int64)  # [E] episodes counted per sub-env
        self.returns = np.zeros(num_envs, dtype=np.float64)  # [E] the running episodes' raw returns
        self.lengths = np.zeros(num_envs, dtype=np.int64)  # [E] and their env steps (transitions)
        self.is_reset_step = np.zeros(num_envs, dtype=bool)  # [E] sub-env i's next step is its reset step

    @property
    def complete(self) -> bool:
        return bool((self.counts >= self.quotas).all())

    def wants(self, env_index: int) -> bool:
        """Whether sub-env ``env_index``'s quota still needs episodes."""
        return bool(self.counts[env_index] < self.quotas[env_index])

    def step(self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> list[tuple[float, int]]:
        """rewards, terminated, truncated [E], one vector step's. Returns (raw return, length) of each
        episode that ended on it and counts towards its sub-env's quota."""
        live = ~self.is_reset_step  # [E]
        self.returns[live] += rewards[live]
        self.lengths[live] += 1
        done = (terminated | truncated) & live  # [E]
        counted = []
        for i in np.flatnonzero(done):
            if self.counts[i] < self.quotas[i]:
                counted.append((float(self.returns[i]), int(self.lengths[i])))
                self.counts[i] += 1
            self.returns[i] = 0.0
            self.lengths[i] = 0
        self.is_reset_step = done
        return counted


def run_episodes(env: VecEnv, act: Callable[[np.ndarray], np.ndarray], num_episodes: int, seed: int,
                 should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Raw returns of exactly ``num_episodes`` episodes, split over the sub-envs by ``EpisodeQuotas``.

    ``should_stop`` is asked before each vector step; when it says so, ``EpisodesStopped`` is raised.
    """
    quotas = EpisodeQuotas(env.num_envs, num_episodes)
    finished: list[float] = []
    obs = env.reset(seed=seed)
    while not quotas.complete:
        if should_stop is not None and should_stop():
            raise EpisodesStopped(f"stopped after {len(finished)} of {num_episodes} episodes")
        result = env.step(act(obs))
        finished.extend(episode_return for episode_return, _ in
                        quotas.step(result.reward, result.terminated, result.truncated))
        obs = result.obs
    return np.asarray(finished)
