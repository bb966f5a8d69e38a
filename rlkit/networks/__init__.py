"""Torsos (encoder + body) built by name, and the heads that sit on them."""

from rlkit.registry import Registry

NETWORKS: Registry = Registry("network")

from rlkit.networks import actor_critic, mlp, nature_cnn  # noqa: E402,F401
from rlkit.networks.torso import Torso, count_parameters  # noqa: E402

__all__ = ["NETWORKS", "Torso", "count_parameters"]
