"""Algorithms. Each registers a builder ``(run config, env spec, device) -> agent`` (see
rlkit/runner.py's ``Agent``) with its schema, the schedule schema it needs and the action kind
it supports, and the optional hardware options it implements (rlkit/build.py refuses the others):
``@ALGOS.register("dqn", schema=DQNConfig, schedule=OffPolicySchedule, actions="discrete", hardware=("amp", ...))``."""

from rlkit.registry import Registry

ALGOS: Registry = Registry("algo")

# Algorithms register themselves on import.
from rlkit.algos import dqn, iqn, ppo, sac  # noqa: E402,F401
