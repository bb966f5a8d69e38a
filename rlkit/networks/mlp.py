"""A ReLU MLP torso over flattened observations (RAM bytes, CartPole state)."""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np
from torch import nn

from rlkit.config import require
from rlkit.networks import NETWORKS
from rlkit.networks.linear import linear
from rlkit.networks.torso import Torso


@dataclass
class MLPConfig:
    """A ReLU MLP torso over the flattened observation (uint8 inputs scaled by 1/255 inside)."""

    name: str = "mlp"
    hidden_sizes: list[int] = field(default_factory=lambda: [576, 576])

    def __post_init__(self) -> None:
        require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
                "hidden_sizes", list(self.hidden_sizes), "one or more positive widths")


@NETWORKS.register("mlp", schema=MLPConfig)
def build_mlp(config: MLPConfig, obs_shape: tuple[int, ...], obs_dtype: np.dtype) -> Torso:
    """encoder = flatten + first Linear/ReLU; body = the remaining hidden layers (wide ones in oneDNN on
    the CPU: rlkit.networks.linear)."""
    in_dim = math.prod(obs_shape)
    widths = list(config.hidden_sizes)
    encoder = nn.Sequential(nn.Flatten(), linear(in_dim, widths[0]), nn.ReLU())
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths[:-1], widths[1:]):
        layers += [linear(w_in, w_out), nn.ReLU()]
    body = nn.Sequential(*layers) if layers else nn.Identity()
    scale = 1.0 / 255.0 if np.dtype(obs_dtype) == np.uint8 else 1.0
    return Torso(encoder, body, widths[0], widths[-1], input_scale=scale)
