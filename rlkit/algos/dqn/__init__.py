"""DQN family: Double DQN on/off, max/expected/soft backups, hard or Polyak targets."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlkit.algos import ALGOS
from rlkit.algos.dqn.learner import DQNLoss, QNetwork, acting_q_network
from rlkit.algos.value_based.agent import ValueAgent, build_torso, build_value_agent
from rlkit.algos.value_based.config import OffPolicySchedule, ValueBasedConfig
from rlkit.config import RootConfig, one_of
from rlkit.envs.base import EnvSpec


@dataclass
class DQNConfig(ValueBasedConfig):
    """The DQN family: one TD loss whose target is a swappable piece (Double, backup kind)."""

    name: str = "dqn"
    td_loss: str = "huber"  # huber (delta 1) or mse

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of("td_loss", self.td_loss, ("huber", "mse"))


@ALGOS.register("dqn", schema=DQNConfig, schedule=OffPolicySchedule, actions="discrete",
                hardware=("amp", "overlap_env_steps", "replay_device", "compile", "compile_mode",
                          "cpu_linear"))
def build_dqn(run: RootConfig, spec: EnvSpec, device: torch.device) -> ValueAgent:
    algo: DQNConfig = run.algo
    online = QNetwork(build_torso(run, spec), spec.n_actions)
    loss = DQNLoss(algo.double_q, algo.backup, algo.td_loss, algo.target_clip)
    return build_value_agent(run, spec, device, online, loss,
                             q_values=lambda network, stream: acting_q_network(network))
