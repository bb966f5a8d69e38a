"""Gymnasium MuJoCo v5 tasks as ``VecEnv``: obs ``[E, 1, obs_dim]`` float32, actions ``[E, act_dim]``.

Actions are clipped to the task's bounds here, when they are sent to the env; the policy keeps
the unclipped sample for its log-prob (CleanRL's ClipAction wrapper does the same). The task's
``TimeLimit`` (1000 steps unless ``max_episode_steps`` is set) is reported as ``truncated``, apart
from ``terminated`` (the robot fell: Hopper, Walker2d, Ant, Humanoid, InvertedPendulum).
NEXT_STEP autoreset: the step that ends an episode returns its final obs; the next step ignores
the action and returns the reset obs with reward 0 and both flags False. ``reset(seed)`` seeds
sub-env i with ``seed + i``.

Backends: ``auto`` and ``gymnasium_sync`` step the envs in this process (SyncVectorEnv), the
faster choice on a few cores (a MuJoCo step costs tens of microseconds, less than a process
round trip); ``gymnasium_async`` runs one process per env (AsyncVectorEnv).
"""

from __future__ import annotations

import functools
import warnings

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from rlkit.config import MujocoEnvConfig
from rlkit.envs import ENVS
from rlkit.envs.base import EnvSpec, StepResult, VecEnv, close_gymnasium_vector_env

_BACKENDS = ("auto", "gymnasium_sync", "gymnasium_async")


def _mujoco_warning(text: str) -> None:
    warnings.warn(f"MuJoCo: {text}", RuntimeWarning, stacklevel=2)


# MuJoCo's default warning handler appends to MUJOCO_LOG.TXT in the working directory (MuJoCo 4
# warns about HalfCheetah's deprecated 'settotalmass' at every load): route it to Python's warnings.
mujoco.set_mju_user_warning(_mujoco_warning)


def make_mujoco(config: MujocoEnvConfig) -> gym.Env:
    """One env of ``config.gym_id`` with its time limit (the task's own unless overridden)."""
    kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
    return gym.make(config.gym_id, **kwargs)


class MujocoVecEnv:
    """``num_envs`` copies of a MuJoCo task behind gymnasium's Sync or Async vector env."""

    def __init__(self, config: MujocoEnvConfig, num_envs: int, asynchronous: bool = False) -> None:
        self.num_envs = num_envs
        env_fns = [functools.partial(make_mujoco, config)] * num_envs
        vector_cls = AsyncVectorEnv if asynchronous else SyncVectorEnv
        self.env = vector_cls(env_fns, autoreset_mode=AutoresetMode.NEXT_STEP)
        obs_space, act_space = self.env.single_observation_space, self.env.single_action_space
        if not isinstance(act_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            self.env.close()
            raise ValueError(f"{config.gym_id} is not a MuJoCo task with flat observations and Box actions")
        self.action_low = act_space.low.astype(np.float32)  # [A]
        self.action_high = act_space.high.astype(np.float32)  # [A]
        self.spec = EnvSpec(
            env_id=config.gym_id,
            frame_shape=tuple(obs_space.shape),
            frame_dtype=np.dtype(np.float32),
            frame_stack=1,
            n_actions=0,
            action_shape=tuple(act_space.shape),
            action_low=self.action_low,
            action_high=self.action_high,
        )

    @staticmethod
    def _obs(obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.float32)[:, None]  # [E, obs_dim] float64 -> [E, 1, obs_dim] float32

    def reset(self, seed: int) -> np.ndarray:
        """Reset all envs (env i seeded with ``seed + i``); returns obs ``[E, 1, obs_dim]`` float32."""
        obs, _ = self.env.reset(seed=int(seed))
        return self._obs(obs)

    def step(self, actions: np.ndarray) -> StepResult:
        """``actions [E, act_dim]``, clipped to the bounds here -> obs, float32 rewards, bool flags."""
        clipped = np.clip(np.asarray(actions, dtype=np.float32), self.action_low, self.action_high)  # [E, A]
        obs, reward, terminated, truncated, _ = self.env.step(clipped)
        return StepResult(self._obs(obs), np.asarray(reward, dtype=np.float32), np.asarray(terminated, dtype=bool),
                          np.asarray(truncated, dtype=bool))

    def close(self) -> None:
        close_gymnasium_vector_env(self.env)


@ENVS.register("mujoco")
def build_mujoco_env(config: MujocoEnvConfig, num_envs: int, backend: str, env_threads: int) -> VecEnv:
    """``num_envs`` copies of ``config.gym_id``; ``auto`` = ``gymnasium_sync``. ``env_threads`` is unused.

    Raises ValueError for ``ale_vector`` (Atari only); build.py reports it under hardware.env_backend.
    """
    if backend not in _BACKENDS:
        raise ValueError("one of " + ", ".join(_BACKENDS) + " for env=mujoco (ale_vector runs Atari only)")
    return MujocoVecEnv(config, num_envs, asynchronous=backend == "gymnasium_async")
