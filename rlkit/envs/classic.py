"""Gymnasium classic-control tasks (CartPole) as ``VecEnv``: obs ``[E, 1, obs_dim]`` float32.

The task's own ``TimeLimit`` (CartPole-v1: 500 steps) is reported as ``truncated``, apart from
``terminated`` (the pole fell / the cart left the track). NEXT_STEP autoreset; ``reset(seed)``
seeds sub-env i with ``seed + i``. Rewards are the task's raw rewards as float32.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from rlkit.config import ClassicEnvConfig, ConfigValueError
from rlkit.envs import ENVS
from rlkit.envs.base import EnvSpec, StepResult, VecEnv, close_gymnasium_vector_env

_BACKENDS = ("auto", "gymnasium_sync", "gymnasium_async")


class ClassicVecEnv:
    """A gymnasium vector env of ``gym_id`` with a frame axis of 1 added to observations."""

    def __init__(self, config: ClassicEnvConfig, num_envs: int, asynchronous: bool = False) -> None:
        self.num_envs = num_envs
        env_fns = [functools.partial(gym.make, config.gym_id)] * num_envs
        if asynchronous:
            self.env = AsyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.NEXT_STEP)
        else:
            self.env = SyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.NEXT_STEP)
        obs_space, act_space = self.env.single_observation_space, self.env.single_action_space
        if isinstance(act_space, gym.spaces.Discrete):
            action = dict(n_actions=int(act_space.n))
        elif isinstance(act_space, gym.spaces.Box):
            action = dict(n_actions=0, action_shape=tuple(act_space.shape),
                          action_low=act_space.low.astype(np.float32), action_high=act_space.high.astype(np.float32))
        else:
            raise ConfigValueError("env.gym_id", config.gym_id, "a task with Discrete or Box actions")
        self._discrete = action["n_actions"] > 0
        self.spec = EnvSpec(
            env_id=config.gym_id,
            frame_shape=tuple(obs_space.shape),
            frame_dtype=np.dtype(np.float32),
            frame_stack=1,
            **action,
        )
        self.last_info: dict = {}

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.float32)[:, None]  # [E, obs_dim] -> [E, 1, obs_dim]

    def reset(self, seed: int) -> np.ndarray:
        """Reset all envs (env i seeded with ``seed + i``); returns obs ``[E, 1, obs_dim]`` float32."""
        obs, self.last_info = self.env.reset(seed=int(seed))
        return self._obs(obs)

    def step(self, actions: np.ndarray) -> StepResult:
        """``actions [E]`` int64 (or ``[E, act_dim]`` float32) -> obs, float32 rewards, bool flags."""
        actions = np.asarray(actions, dtype=np.int64 if self._discrete else np.float32)
        obs, reward, terminated, truncated, self.last_info = self.env.step(actions)
        return StepResult(self._obs(obs), reward.astype(np.float32), terminated.astype(bool), truncated.astype(bool))

    def close(self) -> None:
        close_gymnasium_vector_env(self.env)


@ENVS.register("classic")
def build_classic_env(config: ClassicEnvConfig, num_envs: int, backend: str, env_threads: int) -> VecEnv:
    """``num_envs`` copies of ``config.gym_id``; ``auto`` = ``gymnasium_sync``. ``env_threads`` is unused."""
    if backend not in _BACKENDS:
        raise ConfigValueError("hardware.env_backend", backend,
                               "one of " + ", ".join(_BACKENDS) + " for env=classic (ale_vector runs Atari only)")
    return ClassicVecEnv(config, num_envs, asynchronous=backend == "gymnasium_async")
