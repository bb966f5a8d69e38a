"""The implicit quantile head (Dabney et al. 2018, section 3.2; Dopamine's layout).

phi(tau) = ReLU(Linear(cos(pi * i * tau), i = 1..n_cos)) has the encoder's width (3136 for the
Nature CNN) and multiplies the encoder output; the body (the 512 fc layer) and the output layer
then run once per tau. The encoder runs once per state.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rlkit.networks.torso import Torso, head_in_float32


class ImplicitQuantileNetwork(nn.Module):
    def __init__(self, torso: Torso, n_actions: int, num_cosines: int = 64) -> None:
        super().__init__()
        self.torso = torso
        self.tau_embedding = nn.Linear(num_cosines, torso.encoder_dim)
        self.head = nn.Linear(torso.out_dim, n_actions)
        self.register_buffer("cosine_frequencies", math.pi * torch.arange(1, num_cosines + 1, dtype=torch.float32))

    def embed_taus(self, taus: torch.Tensor) -> torch.Tensor:
        """taus [B, N] in [0, 1] -> phi [B, N, D]."""
        cosines = torch.cos(taus.float().unsqueeze(-1) * self.cosine_frequencies)  # [B, N, n_cos]
        return torch.relu(self.tau_embedding(cosines))  # [B, N, D]

    def forward(self, obs: torch.Tensor, taus: torch.Tensor) -> torch.Tensor:
        """obs [B, *obs_shape], taus [B, N] -> quantile values [B, N, A] (float32)."""
        psi = self.torso.encode(obs)  # [B, D]
        x = psi.unsqueeze(1) * self.embed_taus(taus).to(psi.dtype)  # [B, N, D]
        features = self.torso.body(x)  # [B, N, F]
        return head_in_float32(self.head, features)  # [B, N, A]
