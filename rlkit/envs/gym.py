"""Any registered gymnasium id with a Box observation space as ``VecEnv``: classic control
(CartPole-v1, Acrobot-v1, Pendulum-v1), MuJoCo (Hopper-v5, ...), or a user's own registered env
(``env.id=my_module:MyEnv-v0``: gymnasium imports ``my_module``, which registers it).

Observations keep the env's shape (``[E, *obs_shape]``): float32, or uint8 when the env emits
bytes (networks scale those by 1/255). Discrete actions go out as int64; Box actions are clipped
to the bounds when sent to the env, so the policy keeps its unclipped sample for its log-prob
(CleanRL's ClipAction does the same). The task's own ``TimeLimit`` (or ``max_episode_steps``) is
reported as ``truncated``, apart from ``terminated``. NEXT_STEP autoreset: the step that ends an
episode returns its final obs; the next step ignores the action and returns the reset obs with
reward 0 and both flags False. ``reset(seed)`` seeds sub-env i with ``seed + i``.

Backends: ``auto`` and ``gymnasium_sync`` step the envs in this process (``SerialVectorEnv``), the
faster choice on a few cores for envs whose step costs less than a process round trip;
``gymnasium_async`` runs one process per env (gymnasium's AsyncVectorEnv: ``ProcessVectorEnv``).
"""

from __future__ import annotations

import functools
import importlib
import warnings
from dataclasses import dataclass
from typing import Optional

import gymnasium as gym
import numpy as np
from omegaconf import MISSING

from rlkit.config import ConfigValueError, EnvConfig, require
from rlkit.envs import ENVS
from rlkit.envs.base import EnvSpec, ProcessVectorEnv, SerialVectorEnv, StepResult, VecEnv

_BACKENDS = ("auto", "gymnasium_sync", "gymnasium_async")
LIST_IDS = "python -c 'import gymnasium; gymnasium.pprint_registry()'"


@dataclass
class GymEnvConfig(EnvConfig):
    """A gymnasium task by id, e.g. ``env=gym env.id=Acrobot-v1``."""

    name: str = "gym"
    id: str = MISSING  # a registered gymnasium id, or module:EnvId for an env that module registers
    max_episode_steps: Optional[int] = None  # time limit (a truncation); null = the task's own

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.max_episode_steps is None or self.max_episode_steps >= 1, "max_episode_steps",
                self.max_episode_steps, "null or >= 1")


def _route_mujoco_warnings() -> None:
    """MuJoCo's default warning handler appends to MUJOCO_LOG.TXT in the working directory (it warns
    about HalfCheetah's deprecated 'settotalmass' at every load): route it to Python's warnings."""
    try:
        import mujoco
    except ImportError:
        return
    mujoco.set_mju_user_warning(lambda text: warnings.warn(f"MuJoCo: {text}", RuntimeWarning, stacklevel=2))


_route_mujoco_warnings()


def check_id(env_id: str) -> None:
    """Refuse an id gymnasium does not know, naming the key and how to list the known ones. A
    ``module:EnvId`` id (gymnasium's form for a user's own env) imports ``module`` first, whose
    import registers the env, as ``gym.make`` does."""
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigValueError("env.id", env_id, f"module:EnvId with an importable module that registers the env"
                                   f" ({type(err).__name__}: {err}; is its folder on PYTHONPATH?)") from None
    try:
        gym.spec(name)
    except gym.error.Error as err:
        raise ConfigValueError("env.id", env_id, f"a registered gymnasium id ({err}; list them with {LIST_IDS})"
                               ) from None


def make_gym_env(config: GymEnvConfig) -> gym.Env:
    """One env of ``config.id`` with its time limit (the task's own unless overridden)."""
    kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
    return gym.make(config.id, **kwargs)


def _spec_kwargs(env_id: str, obs_space: gym.Space, act_space: gym.Space) -> dict:
    if not isinstance(obs_space, gym.spaces.Box):
        raise ConfigValueError("env.id", env_id, f"a task with a Box observation space ({env_id} has"
                               f" {type(obs_space).__name__})")
    obs_dtype = np.dtype(np.uint8) if obs_space.dtype == np.uint8 else np.dtype(np.float32)
    if isinstance(act_space, gym.spaces.Discrete):
        action = dict(n_actions=int(act_space.n))
    elif isinstance(act_space, gym.spaces.Box):
        action = dict(n_actions=0, action_shape=tuple(act_space.shape), action_low=act_space.low.astype(np.float32),
                      action_high=act_space.high.astype(np.float32))
    else:
        raise ConfigValueError("env.id", env_id, f"a task with Discrete or Box actions ({env_id} has"
                               f" {type(act_space).__name__})")
    return dict(env_id=env_id, obs_shape=tuple(obs_space.shape), obs_dtype=obs_dtype, **action)


class GymVecEnv:
    """``num_envs`` copies of a gymnasium task behind gymnasium's Sync or Async vector env."""

    def __init__(self, config: GymEnvConfig, num_envs: int, asynchronous: bool = False) -> None:
        check_id(config.id)
        self.num_envs = num_envs
        env_fns = [functools.partial(make_gym_env, config)] * num_envs
        self.env = ProcessVectorEnv(env_fns) if asynchronous else SerialVectorEnv(env_fns)
        try:
            self.spec = EnvSpec(**_spec_kwargs(config.id, self.env.single_observation_space,
                                               self.env.single_action_space))
        except ConfigValueError:
            self.close()
            raise
        self._action_dtype = np.int64 if self.spec.is_discrete else np.float32
        self.env.obs_dtype = self.spec.obs_dtype  # float32, or uint8 for byte observations

    @property
    def last_info(self) -> dict:
        """The last step's info, merged over envs."""
        return self.env.last_info

    def reset(self, seed: int) -> np.ndarray:
        """Reset all envs (env i seeded with ``seed + i``); returns obs ``[E, *obs_shape]``."""
        return self.env.reset(seed)

    def step(self, actions: np.ndarray) -> StepResult:
        """``actions [E]`` int64 or ``[E, act_dim]`` float32 (clipped to the bounds here)."""
        actions = np.asarray(actions, dtype=self._action_dtype)
        if not self.spec.is_discrete:  # np.clip's arithmetic without its Python wrapper (every env step)
            actions = np.minimum(np.maximum(actions, self.spec.action_low), self.spec.action_high)  # [E, A]
        return self.env.step(actions)

    def close(self) -> None:
        self.env.close()


@ENVS.register("gym", schema=GymEnvConfig)
def build_gym_env(config: GymEnvConfig, num_envs: int, backend: str, env_threads: int) -> VecEnv:
    """``num_envs`` copies of ``config.id``; ``auto`` = ``gymnasium_sync``. ``env_threads`` is unused."""
    if backend not in _BACKENDS:
        raise ConfigValueError("hardware.env_backend", backend,
                               "one of " + ", ".join(_BACKENDS) + " for env=gym (ale_vector runs Atari only)")
    return GymVecEnv(config, num_envs, asynchronous=backend == "gymnasium_async")
