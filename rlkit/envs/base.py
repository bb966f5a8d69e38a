"""The vector-env interface every env family implements.

Conventions shared by all backends (so loops and buffers never special-case one):

* Observations are ``[num_envs, frame_stack, *frame_shape]``; the newest frame is last.
  Families without stacking use ``frame_stack = 1`` (CartPole: ``[E, 1, 4]``, RAM: ``[E, 1, 128]``).
  Frames before an episode's first observation are zero padding.
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
    """What networks, buffers and loops need to know about an env family instance."""

    env_id: str  # human-readable id, e.g. "ALE/Boxing-v5 (pixels)"
    frame_shape: tuple[int, ...]  # one frame, e.g. (84, 84), (128,), (4,)
    frame_dtype: np.dtype
    frame_stack: int  # frames per observation (1 = no stacking)
    n_actions: int  # discrete action count; 0 for continuous actions
    action_shape: tuple[int, ...] = ()  # () for discrete, (act_dim,) for continuous
    action_low: np.ndarray | None = None  # continuous bounds, [act_dim]
    action_high: np.ndarray | None = None
    frames_per_env_step: int = 1  # emulator frames per agent step (Atari frame skip)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return (self.frame_stack, *self.frame_shape)

    @property
    def is_discrete(self) -> bool:
        return self.n_actions > 0


class StepResult(NamedTuple):
    obs: np.ndarray  # [E, frame_stack, *frame_shape]
    reward: np.ndarray  # [E] float32, raw game reward
    terminated: np.ndarray  # [E] bool
    truncated: np.ndarray  # [E] bool


class VecEnv(Protocol):
    spec: EnvSpec
    num_envs: int

    def reset(self, seed: int) -> np.ndarray:  # [E, frame_stack, *frame_shape]
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
