"""The vector-env interface every env family implements.

Conventions shared by all backends (so loops and buffers never special-case one):

* Observations are ``[num_envs, *obs_shape]`` with the env's own shape and dtype (CartPole:
  ``[E, 4]`` float32). A family that stacks frames says so with ``frame_stack > 0``: then
  ``obs_shape = (frame_stack, *frame_shape)``, the newest frame last, zero frames before an
  episode's first observation (Atari: ``[E, 4, 84, 84]`` uint8, RAM ``[E, 1, 128]``).
* ``step`` returns raw rewards (game score, never clipped) as float32, and ``terminated`` apart
  from ``truncated`` (time limit / frame cap).
* ``episode_end`` marks the end of a whole episode, the unit episode returns and lengths are
  counted in: ``terminated | truncated``, except where an env ends learning episodes inside a
  longer one (Atari's episodic life: a lost life is ``terminated``, so learning does not bootstrap
  past it, but the game goes on; the game over or truncation is the ``episode_end``). Such an env
  may also set it on a NEXT_STEP reset step, when the step that was to continue the game after a
  learning episode's end ended the game instead.
* Autoreset is NEXT_STEP: after a step that returned ``terminated | truncated`` for sub-env i,
  the next ``step`` ignores i's action and returns i's reset observation with reward 0 and both
  flags False. That step is not a transition; the loop must not store it.
* ``reset(seed)`` seeds sub-env i with ``seed + i``.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol

import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode


@dataclass(frozen=True)
class EnvSpec:
    """What agents, networks and buffers need to know about an env: any gymnasium Box or Discrete
    space, described without family-specific axes."""

    env_id: str  # human-readable id, e.g. "ALE/Boxing-v5 (pixels)", "Pendulum-v1"
    obs_shape: tuple[int, ...]  # one observation, e.g. (4, 84, 84), (128,), (11,)
    obs_dtype: np.dtype
    n_actions: int  # discrete action count; 0 for continuous actions
    action_shape: tuple[int, ...] = ()  # () for discrete, (act_dim,) for continuous
    action_low: np.ndarray | None = None  # continuous bounds, [act_dim]
    action_high: np.ndarray | None = None
    frame_stack: int = 0  # > 0: obs_shape[0] stacks the newest frames (replay stores each frame once)
    frames_per_env_step: int = 1  # emulator frames per agent step (Atari frame skip)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """One stored frame: the observation without its stack axis."""
        return self.obs_shape[1:] if self.frame_stack else self.obs_shape

    @property
    def is_discrete(self) -> bool:
        return self.n_actions > 0


class StepResult(NamedTuple):
    obs: np.ndarray  # [E, *obs_shape]
    reward: np.ndarray  # [E] float32, raw game reward
    terminated: np.ndarray  # [E] bool: learning does not bootstrap past it
    truncated: np.ndarray  # [E] bool
    episode_end: np.ndarray  # [E] bool: a whole episode (game) ended; terminated | truncated but for episodic life


class VecEnv(Protocol):
    spec: EnvSpec
    num_envs: int

    def reset(self, seed: int) -> np.ndarray:  # [E, *obs_shape]
        ...

    def step(self, actions: np.ndarray) -> StepResult:  # actions [E] int64 or [E, act_dim] float32
        ...

    def close(self) -> None:
        ...


def close_gymnasium_vector_env(env) -> None:
    """Close a gymnasium vector env, also after a worker died: AsyncVectorEnv.close waits for the
    pending step and raises on the dead pipe, so its workers are then terminated directly."""
    try:
        env.close()
    except Exception:  # a dead worker's pipe (EOFError, BrokenPipeError, ...)
        for process in getattr(env, "processes", []):
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)
        env.closed = True  # its __del__ must not try again


class SerialVectorEnv:
    """gymnasium envs stepped one after the other in this process, with NEXT_STEP autoreset.

    What gymnasium's ``SyncVectorEnv(autoreset_mode=NEXT_STEP)`` returns, number for number
    (``tests/unit/envs/test_serial_vector_env.py``), without its per-step generic work: merging
    every env's info dict into arrays (done here only when ``last_info`` is read), iterating and
    concatenating through the spaces, deep-copying the observations. For a MuJoCo or Atari RAM env
    that work cost a fair share of the env step itself. Observations come out as ``obs_dtype``
    (a fresh array each call, so callers may keep it), rewards float32, flags bool.
    """

    def __init__(self, env_fns, obs_dtype: np.dtype | None = None) -> None:
        self.envs = [env_fn() for env_fn in env_fns]
        self.num_envs = len(self.envs)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.obs_dtype = np.dtype(obs_dtype or self.single_observation_space.dtype)
        self._obs_shape = tuple(self.single_observation_space.shape)
        self._needs_reset = [False] * self.num_envs  # sub-env i ended its episode on the last step
        self._infos: list[dict] = [{} for _ in self.envs]
        self.closed = False

    @property
    def last_info(self) -> dict[str, np.ndarray]:
        """The last step's (or reset's) info, merged over envs: a key's values as one array, for
        the keys every env reported."""
        keys = set(self._infos[0]).intersection(*self._infos[1:])
        return {key: np.array([info[key] for info in self._infos]) for key in sorted(keys)}

    def reset(self, seed: int) -> np.ndarray:
        """Sub-env i is reset with seed ``seed + i``; obs [E, *obs_shape]."""
        obs = np.empty((self.num_envs, *self._obs_shape), dtype=self.obs_dtype)
        for i, env in enumerate(self.envs):
            obs[i], self._infos[i] = env.reset(seed=int(seed) + i)
        self._needs_reset = [False] * self.num_envs
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        """actions [E, ...]: action i goes to sub-env i (ignored on its reset step)."""
        num_envs = self.num_envs
        obs = np.empty((num_envs, *self._obs_shape), dtype=self.obs_dtype)
        rewards = np.zeros(num_envs, dtype=np.float32)
        terminated = np.zeros(num_envs, dtype=bool)
        truncated = np.zeros(num_envs, dtype=bool)
        needs_reset = self._needs_reset
        for i, env in enumerate(self.envs):
            if needs_reset[i]:
                obs[i], self._infos[i] = env.reset()
                needs_reset[i] = False
            else:
                obs[i], rewards[i], terminated[i], truncated[i], self._infos[i] = env.step(actions[i])
                needs_reset[i] = bool(terminated[i] or truncated[i])
        return StepResult(obs, rewards, terminated, truncated, terminated | truncated)

    def close(self) -> None:
        if not self.closed:
            for env in self.envs:
                env.close()
            self.closed = True


def _deaf_to_ctrl_c(env_fn: Callable) -> Callable:
    """``env_fn`` for a worker process that ignores SIGINT: a terminal's Ctrl-C reaches its whole
    process group, and a worker that died of it would fail the step the main process finishes
    before it saves its checkpoint. The main process stops and closes its workers (SIGTERM, which
    they keep: gymnasium terminates its workers with it). gymnasium also calls the first env_fn in
    the main process (for the spaces): there the handler stays as it was."""
    main_pid = os.getpid()

    def make_env():
        if os.getpid() != main_pid:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        return env_fn()
    return make_env


class ProcessVectorEnv:
    """gymnasium's ``AsyncVectorEnv`` (one process per env, NEXT_STEP autoreset) with
    ``SerialVectorEnv``'s interface: ``reset(seed)`` -> obs, ``step`` -> ``StepResult``, ``last_info``."""

    def __init__(self, env_fns, **kwargs) -> None:
        env_fns = [_deaf_to_ctrl_c(fn) for fn in env_fns]
        self.env = AsyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.NEXT_STEP, **kwargs)
        self.num_envs = self.env.num_envs
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space
        self.obs_dtype = np.dtype(self.single_observation_space.dtype)
        self.last_info: dict = {}

    def reset(self, seed: int) -> np.ndarray:
        obs, self.last_info = self.env.reset(seed=int(seed))
        return np.asarray(obs, dtype=self.obs_dtype)

    def step(self, actions: np.ndarray) -> StepResult:
        obs, reward, terminated, truncated, self.last_info = self.env.step(actions)
        terminated, truncated = np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)
        return StepResult(np.asarray(obs, dtype=self.obs_dtype), np.asarray(reward, dtype=np.float32),
                          terminated, truncated, terminated | truncated)

    def close(self) -> None:
        close_gymnasium_vector_env(self.env)
