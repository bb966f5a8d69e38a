"""SAC's network (``network=sac_mlp``): a tanh-squashed Gaussian policy and twin Q functions.

CleanRL's sac_continuous_action shapes: ReLU MLPs (256, 256) for the policy and for each Q
function, which takes the observation and the action concatenated; PyTorch's default init
(U(-1/sqrt(in), 1/sqrt(in)) for every weight and bias). The
policy outputs the mean and a state-dependent log-std of the Gaussian before the tanh; the log-std
is squashed smoothly into [log_std_min, log_std_max] (CleanRL; the paper clips it). Actions are in
the policy's units, [-1, 1] per dimension; the actor maps them onto the env's bounds.

Registered here, beside the algorithm that uses it, so that adding SAC touches no existing file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rlkit.config import require
from rlkit.networks import NETWORKS


def relu_layers(in_dim: int, hidden_sizes: list[int]) -> nn.Sequential:
    """[B, in_dim] -> [B, hidden_sizes[-1]]: Linear + ReLU per width."""
    layers: list[nn.Module] = []
    for w_in, w_out in zip([in_dim, *hidden_sizes[:-1]], hidden_sizes):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers)


class SquashedGaussianPolicy(nn.Module):
    """obs [B, *obs_shape] float32 -> (mean [B, A], log_std [B, A]) of the Gaussian before the tanh."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: list[int], log_std_min: float,
                 log_std_max: float) -> None:
        super().__init__()
        self.body = relu_layers(obs_dim, hidden_sizes)
        self.mean_head = nn.Linear(hidden_sizes[-1], action_dim)
        self.log_std_head = nn.Linear(hidden_sizes[-1], action_dim)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(obs.flatten(1))  # [B, H]
        raw = torch.tanh(self.log_std_head(features))  # [B, A] in (-1, 1)
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (raw + 1.0)  # [B, A]
        return self.mean_head(features), log_std  # [B, A], [B, A]


class EnsembleLinear(nn.Module):
    """``members`` independent linear layers applied at once: x [M, B, in] -> [M, B, out] (one batched
    matmul instead of M). Initialized as ``nn.Linear``: weights and biases ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim).uniform_(-bound, bound))  # [M, in, out]
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim).uniform_(-bound, bound))  # [M, 1, out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)  # [M, B, out]


class TwinQ(nn.Module):
    """(obs [B, *obs_shape], actions [B, A]) -> (Q1 [B], Q2 [B]): two independent ReLU MLPs, evaluated
    together as one ensemble: batched matmuls, half the kernel launches of two separate MLPs."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: list[int]) -> None:
        super().__init__()
        widths = [obs_dim + action_dim, *hidden_sizes, 1]
        self.layers = nn.ModuleList(EnsembleLinear(2, w_in, w_out) for w_in, w_out in zip(widths[:-1], widths[1:]))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs.flatten(1), actions], dim=1)  # [B, O + A]
        x = x.unsqueeze(0).expand(2, -1, -1)  # [2, B, O + A]
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))  # [2, B, H]
        q = self.layers[-1](x).squeeze(-1)  # [2, B]
        return q[0], q[1]  # [B], [B]


class SACNetwork(nn.Module):
    """The policy and the online twin critics (the learner keeps the target critics)."""

    def __init__(self, policy: SquashedGaussianPolicy, critic: TwinQ) -> None:
        super().__init__()
        self.policy = policy
        self.critic = critic


@dataclass
class SACNetworkConfig:
    """SAC's policy and twin Q networks over flat float observations (CleanRL's sac_continuous_action)."""

    name: str = "sac_mlp"
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])  # ReLU widths of the policy and each Q
    log_std_min: float = -5.0  # the policy's log-std is squashed into [log_std_min, log_std_max]
    log_std_max: float = 2.0

    def __post_init__(self) -> None:
        require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
                "hidden_sizes", list(self.hidden_sizes), "one or more positive widths")
        require(self.log_std_max > self.log_std_min, "log_std_max", self.log_std_max,
                f"> log_std_min ({self.log_std_min})")


@NETWORKS.register("sac_mlp", schema=SACNetworkConfig)
def build_sac_mlp(config: SACNetworkConfig, obs_shape: tuple[int, ...], obs_dtype: np.dtype,
                  action_shape: tuple[int, ...] | None = None) -> SACNetwork:
    """SAC's networks for continuous actions; value-based algorithms (no action_shape) are refused."""
    if action_shape is None or len(action_shape) != 1:
        raise ValueError("sac_mlp is SAC's policy and twin Q networks for continuous actions (algo=sac);"
                         " value-based algorithms need a torso: mlp, mlp_small or nature_cnn")
    if np.dtype(obs_dtype) != np.float32:
        raise ValueError(f"sac_mlp takes float32 observations, not {np.dtype(obs_dtype)}")
    obs_dim, action_dim, hidden = math.prod(obs_shape), action_shape[0], list(config.hidden_sizes)
    return SACNetwork(SquashedGaussianPolicy(obs_dim, action_dim, hidden, config.log_std_min, config.log_std_max),
                      TwinQ(obs_dim, action_dim, hidden))
