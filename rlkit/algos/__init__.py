"""Algorithms: each one is losses.py (pure math), learner.py (optimizer, target net), actor.py."""

from rlkit.registry import Registry

ALGOS: Registry = Registry("algo")
