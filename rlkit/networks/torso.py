"""A torso maps observations to features in two parts, so heads can act between them.

``encoder``: [B, *obs_shape] -> [B, encoder_dim] (convs and flatten, or the first MLP layer);
``body``:    [..., encoder_dim] -> [..., out_dim] (the hidden fc layers).
A Q head is ``Linear(out_dim, A)`` on ``body(encoder(x))``; IQN multiplies the encoder output by
its tau embedding before the body, so the body and the output layer run once per tau.
"""

from __future__ import annotations

import torch
from torch import nn


class Torso(nn.Module):
    def __init__(self, encoder: nn.Module, body: nn.Module, encoder_dim: int, out_dim: int,
                 input_scale: float, input_memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__()
        self.encoder = encoder
        self.body = body
        self.encoder_dim = encoder_dim
        self.out_dim = out_dim
        self.input_scale = input_scale  # 1/255 for uint8 frames, 1 for float observations
        self.input_memory_format = input_memory_format  # the layout the encoder's first layer reads fastest

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        # The layout is changed on the observations as they come (uint8 frames: a quarter of the
        # float32 bytes), then they are cast to float32 keeping it, and scaled in place where the cast
        # made a copy: the same numbers as obs.float() * scale, with one float batch, not the two (a
        # cast temporary and the product) that uint8 * float allocates.
        obs = obs.contiguous(memory_format=self.input_memory_format)  # [B, *obs]
        x = obs.float()  # the caller's own tensor when it is float32 already
        if self.input_scale != 1.0:
            x = x * self.input_scale if x is obs else x.mul_(self.input_scale)
        return self.encoder(x)  # [B, encoder_dim]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(self.encode(obs))  # [B, out_dim]


def head_in_float32(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """``head(features)`` in float32, with autocast turned off around it when it is on (entering an
    autocast context costs even when it changes nothing, and acting calls this every env step)."""
    device_type = features.device.type
    if torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type=device_type, enabled=False):
            return head(features.float())
    return head(features.float())


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
