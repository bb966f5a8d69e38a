"""IQN: implicit quantile networks on the value-based learner, with risk-distorted acting."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch

from rlkit import seeding
from rlkit.algos import ALGOS
from rlkit.algos.dqn import value_schedules
from rlkit.algos.dqn.actor import ValueActor
from rlkit.algos.dqn.learner import ValueLearner
from rlkit.algos.iqn.learner import IQNLoss, mean_q
from rlkit.algos.registry_entry import AlgoEntry
from rlkit.config import IQNConfig, RootConfig
from rlkit.networks import NETWORKS
from rlkit.networks.quantile import ImplicitQuantileNetwork

if TYPE_CHECKING:
    from rlkit.envs.base import EnvSpec

CPU_TAUS = (8, 8, 8)  # N, N', K: about 0.05 s per batch-32 Nature-CNN update on 2 cores
PAPER_TAUS = (64, 64, 32)


def resolve_tau_counts(algo: IQNConfig, device: str) -> tuple[tuple[int, int, int], str]:
    preset = PAPER_TAUS if device == "cuda" else CPU_TAUS
    given = (algo.num_online_taus, algo.num_target_taus, algo.num_acting_taus)
    counts = tuple(g if g is not None else p for g, p in zip(given, preset))
    label = "the paper's (CUDA preset)" if device == "cuda" else "the CPU preset (paper: N = N' = 64, K = 32)"
    note = (f"IQN taus: N = {counts[0]}, N' = {counts[1]}, K = {counts[2]}"
            + (f"; unset counts from {label}" if None in given else ""))
    return counts, note


def build_iqn(run: RootConfig, spec: EnvSpec, device: torch.device) -> tuple[ValueLearner, ValueActor]:
    algo: IQNConfig = run.algo
    (n_online, n_target, n_acting), note = resolve_tau_counts(algo, run.hardware.device)
    print(note)
    torso = NETWORKS.get(run.network.name)(run.network, spec.obs_shape, spec.frame_dtype)
    online = ImplicitQuantileNetwork(torso, spec.n_actions, algo.num_cosines)
    schedules = value_schedules(run.schedule)
    loss = IQNLoss(n_online, n_target, n_acting, algo.kappa, algo.double_q, algo.backup, algo.target_clip)
    learner = ValueLearner(
        online, loss, lr_schedule=schedules["lr"], temperature_schedule=schedules["temperature"],
        adam_eps=algo.adam_eps, grad_clip_norm=algo.grad_clip_norm, target_update=algo.target_update,
        polyak_tau=algo.polyak_tau, target_update_period_env_steps=run.schedule.target_update_period_env_steps,
        device=device, amp=run.hardware.amp)
    q_values = partial(mean_q, learner.online, num_taus=n_acting, risk_measure=algo.risk_measure,
                       risk_eta=algo.risk_eta)
    actor = ValueActor(q_values, spec.n_actions, exploration=algo.exploration,
                       epsilon_schedule=schedules["epsilon"], temperature_schedule=schedules["temperature"],
                       device=device, amp=run.hardware.amp, seed=seeding.derive_seed(run.seed, "actor"))
    return learner, actor


ALGOS.register("iqn")(AlgoEntry(build=build_iqn, loop="off_policy", action_kind="discrete",
                                schedule_kind="off_policy"))
