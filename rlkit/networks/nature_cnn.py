"""The Nature DQN convolutional torso (Mnih et al. 2015)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rlkit.config import require
from rlkit.networks import NETWORKS
from rlkit.networks.linear import linear
from rlkit.networks.torso import Torso


@dataclass
class NatureCNNConfig:
    """Mnih et al. 2015: three convs then one hidden fc layer; input scaled by 1/255 inside."""

    name: str = "nature_cnn"
    conv_channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    fc_hidden: int = 512

    def __post_init__(self) -> None:
        require(len(self.conv_channels) == 3 and all(c >= 1 for c in self.conv_channels),
                "conv_channels", list(self.conv_channels), "three positive channel counts (8x8/4, 4x4/2, 3x3/1)")
        require(self.fc_hidden >= 1, "fc_hidden", self.fc_hidden, ">= 1")


class ChannelsLast(nn.Module):
    """[B, C, H, W] in channels-last memory format (the same values; a copy only when needed: the
    torso hands the encoder frames already in it, so this copies only when the encoder is called alone)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last)


@NETWORKS.register("nature_cnn", schema=NatureCNNConfig)
def build_nature_cnn(config: NatureCNNConfig, obs_shape: tuple[int, ...], obs_dtype: np.dtype) -> Torso:
    """Convs 8x8/4, 4x4/2, 3x3/1 then one ReLU fc layer. obs_shape = (stack, H, W)."""
    if len(obs_shape) != 3:
        raise ValueError(f"network=nature_cnn needs image observations (stack, H, W); got shape {obs_shape}"
                         " - use network=mlp for vector observations")
    c1, c2, c3 = config.conv_channels
    encoder = nn.Sequential(
        ChannelsLast(),
        nn.Conv2d(obs_shape[0], c1, kernel_size=8, stride=4), nn.ReLU(),
        nn.Conv2d(c1, c2, kernel_size=4, stride=2), nn.ReLU(),
        nn.Conv2d(c2, c3, kernel_size=3, stride=1), nn.ReLU(),
        nn.Flatten(),
    )
    # channels-last convs are faster on the CPU (oneDNN) and on tensor cores: benchmarks/update_variants.py.
    # Flatten reads the logical (C, H, W) order, so the features are the same as in contiguous format.
    encoder = encoder.to(memory_format=torch.channels_last)
    with torch.no_grad():  # flattened size from the input shape (3136 for 4x84x84)
        encoder_dim = encoder(torch.zeros(1, *obs_shape)).shape[1]
    body = nn.Sequential(linear(encoder_dim, config.fc_hidden), nn.ReLU())  # oneDNN on the CPU: rlkit.networks.linear
    scale = 1.0 / 255.0 if np.dtype(obs_dtype) == np.uint8 else 1.0
    return Torso(encoder, body, encoder_dim, config.fc_hidden, input_scale=scale,
                 input_memory_format=torch.channels_last)
