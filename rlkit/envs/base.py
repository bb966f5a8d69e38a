"""The vector-env interface every env family implements.

Conventions shared by all backends (so loops and buffers never special-case one):

* Observations are ``[num_envs, *obs_shape]`` with the env's own shape and dtype (CartPole:
  ``[E, 4]`` float32). A family that stacks frames says so with ``frame_stack > 0``: then
  ``obs_shape = (frame_stack, *frame_shape)``, the newest frame last, zero frames before an
  episode's first observation (Atari: ``[E, 4, 84, 84]`` uint8, RAM ``[E, 1, 128]``).
* ``step`` returns raw rewards (game score, never clipped) as float32, and ``terminated`` apart
  from ``truncated`` (time limit / frame cap).
* Autoreset is NEXT_STEP: after a step that returned ``terminated | truncated`` for sub-env i,
  the next ``step`` ignores i's action and returns i's reset observation with reward 0 and both
  flags False. That step is not a transition; the loop must not store it.
* ``reset(seed)`` seeds sub-env i with ``seed + i``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np


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
    terminated: np.ndarray  # [E] bool
    truncated: np.ndarray  # [E] bool


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
