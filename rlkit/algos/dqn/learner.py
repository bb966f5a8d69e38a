"""DQN's pieces for the shared value learner: the Q network head and the TD loss piece."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rlkit.algos.dqn import losses
from rlkit.algos.value_based.learner import TorchBatch
from rlkit.networks.host import host_linear, host_mlp, relu_
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


def mlp_linears(torso: Torso) -> list[nn.Linear] | None:
    """The Linear layers of a ReLU MLP torso (flatten, then Linear/ReLU pairs), in order; None for
    any other torso (convolutions, other activations)."""
    modules = [*torso.encoder, *(torso.body if isinstance(torso.body, nn.Sequential) else [torso.body])]
    modules = [m for m in modules if not isinstance(m, (nn.Flatten, nn.Identity))]
    linears, activations = modules[0::2], modules[1::2]
    if not linears or len(linears) != len(activations) or not all(
            isinstance(layer, nn.Linear) and isinstance(act, nn.ReLU) for layer, act in zip(linears, activations)):
        return None
    return linears


class HostQNetwork:
    """``QNetwork.forward`` in numpy for a ReLU MLP torso on the CPU, where acting spends most of a
    576-wide layer's time in torch's per-op dispatch (rlkit.networks.host: views of the parameters
    that follow every in-place update; agrees with ``forward`` to float32 rounding).

    Called like the network, on a CPU tensor obs [E, *obs_shape]: returns Q [E, A] float32.
    """

    def __init__(self, network: QNetwork) -> None:
        linears = mlp_linears(network.torso)
        if linears is None:
            raise ValueError("HostQNetwork needs a ReLU MLP torso")
        self.layers = [host_linear(layer) for layer in linears]
        self.head = host_linear(network.head)
        self.input_scale = np.float32(network.torso.input_scale)

    @staticmethod
    def supports(network: nn.Module) -> bool:
        """A QNetwork whose torso is a ReLU MLP, with every parameter on the CPU."""
        return (isinstance(network, QNetwork) and mlp_linears(network.torso) is not None
                and all(param.device.type == "cpu" for param in network.parameters()))

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.q_numpy(obs.numpy()))  # [E, A]

    def q_numpy(self, obs: np.ndarray) -> np.ndarray:
        """obs [E, *obs_shape] -> Q [E, A] float32, numpy in and out (the actor's epsilon-greedy
        path: no tensor wrapping, inference mode or torch argmax around a forward of microseconds)."""
        x = obs.reshape(len(obs), -1).astype(np.float32)  # [E, obs_dim] (a copy)
        if self.input_scale != 1.0:
            x *= self.input_scale
        features = host_mlp(self.layers, x, relu_)  # [E, F]
        return features @ self.head[0] + self.head[1]  # [E, A]


def acting_q_network(network: nn.Module) -> nn.Module | HostQNetwork:
    """What the actor calls for Q-values: the numpy forward where it applies, else the network."""
    return HostQNetwork(network) if HostQNetwork.supports(network) else network


@dataclass(frozen=True)
class DQNLoss:
    """The DQN family's loss piece: Double or vanilla selection, any backup, Huber or MSE."""

    double_q: bool
    backup: str
    loss_kind: str
    target_clip: float | None

    def __call__(self, online: nn.Module, target: nn.Module, batch: TorchBatch, temperature: float | torch.Tensor
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # The no-grad passes first: their activations are freed before the graph's are saved, so the
        # update's peak memory holds one of them, not both (the same numbers in either order).
        with torch.no_grad():
            q_next_target = target(batch.next_obs)  # [B, A]
            q_next_online = online(batch.next_obs) if self.double_q else None  # [B, A]
        q_online = online(batch.obs)  # [B, A]
        return losses.dqn_loss(q_online, batch.actions, batch.rewards, batch.discounts, q_next_target,
                               q_next_online, backup=self.backup, temperature=temperature,
                               loss_kind=self.loss_kind, target_clip=self.target_clip)
