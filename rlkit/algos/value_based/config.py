"""The value-based family's schemas: what DQN and IQN share, and their replay schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING

from rlkit.config import (SCHEDULES, AlgoConfig, RunSchedule, one_of, require, require_positive,
                          require_replay_schedule)
from rlkit.schedules import LinearSchedule, constant

BACKUPS = ("max", "expected", "soft", "report_soft")


@dataclass
class ValueBasedConfig(AlgoConfig):
    """Targets and exploration of the value-based family (DQN, IQN)."""

    gamma: float = 0.99  # discount per env step
    n_step: int = 1  # n-step returns, cut at episode ends
    double_q: bool = True  # online net picks a', target net evaluates it (van Hasselt et al. 2016)
    # max: max_a' Q; expected: sum_a' pi(a') Q under pi = softmax(Q / T);
    # soft: sum pi (Q - T log pi) = T logsumexp(Q / T) (soft Q-learning);
    # report_soft: sum pi Q - T H(pi), the course report's formula (sign flipped), kept to reproduce it
    backup: str = "max"
    exploration: str = "epsilon_greedy"  # epsilon_greedy or boltzmann (softmax over Q / T)
    target_update: str = "soft"  # hard: copy every target_update_period_env_steps; soft: Polyak each update
    polyak_tau: float = 0.003  # soft-update weight of the online net, in (0, 1] (the report's)
    grad_clip_norm: Optional[float] = 10.0
    adam_eps: float = 1.5e-4
    target_clip: Optional[float] = None  # clamp TD targets to [-c, c] (null = off)
    eval_epsilon: float = 0.001  # epsilon of evaluation episodes

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.gamma <= 1.0, "gamma", self.gamma, "in [0, 1]")
        require(self.n_step >= 1, "n_step", self.n_step, ">= 1")
        one_of("backup", self.backup, BACKUPS)
        one_of("exploration", self.exploration, ("epsilon_greedy", "boltzmann"))
        one_of("target_update", self.target_update, ("hard", "soft"))
        require(0.0 < self.polyak_tau <= 1.0, "polyak_tau", self.polyak_tau, "in (0, 1]")
        require(self.adam_eps > 0, "adam_eps", self.adam_eps, "> 0")
        require(self.target_clip is None or self.target_clip > 0, "target_clip", self.target_clip, "null or > 0")
        require(0.0 <= self.eval_epsilon <= 1.0, "eval_epsilon", self.eval_epsilon, "in [0, 1]")


@dataclass
class OffPolicySchedule(RunSchedule):
    """How long and how big a replay-based run is. All counts in env steps summed over envs."""

    warmup_env_steps: int = MISSING  # env steps collected (random actions) before the first update
    replay_capacity_transitions: int = MISSING
    batch_size: int = MISSING
    # gradient updates per env step, summed over envs: with 16 envs, 1.0 = 16 updates per vector
    # step, 0.25 = one update every 4 env steps
    updates_per_env_step: float = MISSING
    lr: float = MISSING
    lr_final: Optional[float] = None  # linear decay target (null = constant lr)
    lr_decay_env_steps: Optional[int] = None  # null = total_env_steps
    epsilon_start: float = 1.0
    epsilon_final: float = 0.01
    epsilon_decay_env_steps: int = 100_000
    temperature_start: float = 1.0  # Boltzmann / soft-backup temperature (the report's alpha)
    temperature_final: float = 0.01
    temperature_decay_env_steps: int = 100_000
    target_update_period_env_steps: int = 8_000  # hard target updates only

    def __post_init__(self) -> None:
        super().__post_init__()
        require_replay_schedule(self)
        require_positive(self, "updates_per_env_step", "lr", "epsilon_decay_env_steps", "temperature_decay_env_steps",
                         "target_update_period_env_steps")
        require(self.lr_final is None or self.lr_final > 0, "lr_final", self.lr_final, "null or > 0")
        require(self.lr_decay_env_steps is None or self.lr_decay_env_steps > 0, "lr_decay_env_steps",
                self.lr_decay_env_steps, "null or > 0")
        for key in ("epsilon_start", "epsilon_final"):
            require(0.0 <= getattr(self, key) <= 1.0, key, getattr(self, key), "in [0, 1]")
        for key in ("temperature_start", "temperature_final"):
            require(getattr(self, key) > 0, key, getattr(self, key), "> 0")

    def lr_schedule(self) -> LinearSchedule:
        """The lr against the env step: linear from lr to lr_final over lr_decay_env_steps (null: the
        budget), or constant without lr_final."""
        if self.lr_final is None:
            return constant(self.lr)
        return LinearSchedule(self.lr, self.lr_final, self.lr_decay_env_steps or self.total_env_steps)


SCHEDULES.add("off_policy", OffPolicySchedule, schema=OffPolicySchedule)
