"""DQN family: Double DQN on/off, max/expected/soft backups, hard or Polyak targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from rlkit.algos import ALGOS
from rlkit.algos.dqn.actor import ValueActor
from rlkit.algos.dqn.learner import DQNLoss, QNetwork, ValueLearner
from rlkit.algos.registry_entry import AlgoEntry
from rlkit.config import DQNConfig, OffPolicySchedule, RootConfig
from rlkit.networks import NETWORKS
from rlkit.schedules import LinearSchedule, constant
from rlkit import seeding

if TYPE_CHECKING:
    from rlkit.envs.base import EnvSpec


def value_schedules(schedule: OffPolicySchedule) -> dict[str, LinearSchedule]:
    """The lr, epsilon and temperature schedules of a value-based run, all in env steps."""
    lr_final = schedule.lr if schedule.lr_final is None else schedule.lr_final
    lr_decay = schedule.lr_decay_env_steps or schedule.total_env_steps
    return {
        "lr": LinearSchedule(schedule.lr, lr_final, lr_decay) if schedule.lr_final is not None else constant(schedule.lr),
        "epsilon": LinearSchedule(schedule.epsilon_start, schedule.epsilon_final, schedule.epsilon_decay_env_steps),
        "temperature": LinearSchedule(schedule.temperature_start, schedule.temperature_final,
                                      schedule.temperature_decay_env_steps),
    }


def build_dqn(run: RootConfig, spec: EnvSpec, device: torch.device) -> tuple[ValueLearner, ValueActor]:
    algo: DQNConfig = run.algo
    schedule: OffPolicySchedule = run.schedule
    torso = NETWORKS.get(run.network.name)(run.network, spec.obs_shape, spec.frame_dtype)
    online = QNetwork(torso, spec.n_actions)
    schedules = value_schedules(schedule)
    learner = ValueLearner(
        online, DQNLoss(algo.double_q, algo.backup, algo.td_loss, algo.target_clip),
        lr_schedule=schedules["lr"], temperature_schedule=schedules["temperature"], adam_eps=algo.adam_eps,
        grad_clip_norm=algo.grad_clip_norm, target_update=algo.target_update, polyak_tau=algo.polyak_tau,
        target_update_period_env_steps=schedule.target_update_period_env_steps, device=device,
        amp=run.hardware.amp)
    actor = ValueActor(learner.online, spec.n_actions, exploration=algo.exploration,
                       epsilon_schedule=schedules["epsilon"], temperature_schedule=schedules["temperature"],
                       device=device, amp=run.hardware.amp, seed=seeding.derive_seed(run.seed, "actor"))
    return learner, actor


ALGOS.register("dqn")(AlgoEntry(build=build_dqn, loop="off_policy", action_kind="discrete",
                                schedule_kind="off_policy"))
