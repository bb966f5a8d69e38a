"""DQN's pieces for the shared value learner: the Q network head and the TD loss piece."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlkit.algos.dqn import losses
from rlkit.algos.value_based.learner import TorchBatch
from rlkit.networks.torso import Torso, head_in_float32


class QNetwork(nn.Module):
    """torso -> Linear(out_dim, A). The head runs in float32 even under autocast."""

    def __init__(self, torso: Torso, n_actions: int) -> None:
        super().__init__()
        self.torso = torso
        self.head = nn.Linear(torso.out_dim, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        features = self.torso(obs)  # [B, F]
        return head_in_float32(self.head, features)  # [B, A] float32


@dataclass(frozen=True)
class DQNLoss:
    """The DQN family's loss piece: Double or vanilla selection, any backup, Huber or MSE."""

    double_q: bool
    backup: str
    loss_kind: str
    target_clip: float | None

    def __call__(self, online: nn.Module, target: nn.Module, batch: TorchBatch, temperature: float
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        q_online = online(batch.obs)  # [B, A]
        with torch.no_grad():
            q_next_target = target(batch.next_obs)  # [B, A]
            q_next_online = online(batch.next_obs) if self.double_q else None  # [B, A]
        return losses.dqn_loss(q_online, batch.actions, batch.rewards, batch.discounts, q_next_target,
                               q_next_online, backup=self.backup, temperature=temperature,
                               loss_kind=self.loss_kind, target_clip=self.target_clip)
