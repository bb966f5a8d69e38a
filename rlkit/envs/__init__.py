"""Vector env construction per family; ENVS maps a config `name:` to its builder and schema."""

from rlkit.envs.base import EnvSpec, StepResult, VecEnv
from rlkit.registry import Registry

ENVS: Registry = Registry("env")

# Families register themselves on import.
from rlkit.envs import atari, gym  # noqa: E402,F401

__all__ = ["ENVS", "EnvSpec", "StepResult", "VecEnv"]
