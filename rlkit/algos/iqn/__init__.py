"""IQN: implicit quantile networks on the value-based learner, with risk-distorted acting."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Optional

import torch

from rlkit import seeding
from rlkit.algos import ALGOS
from rlkit.algos.iqn.learner import IQNLoss, mean_q
from rlkit.algos.value_based.agent import ValueAgent, build_torso, build_value_agent
from rlkit.algos.value_based.config import OffPolicySchedule, ValueBasedConfig
from rlkit.config import RootConfig, one_of, require
from rlkit.envs.base import EnvSpec
from rlkit.networks.quantile import ImplicitQuantileNetwork

RISK_MEASURES = ("neutral", "cvar", "wang")
CPU_TAUS = (8, 8, 8)  # N, N', K: the paper's counts make a CPU Nature-CNN update several times slower
PAPER_TAUS = (64, 64, 32)


@dataclass
class IQNConfig(ValueBasedConfig):
    """Implicit quantile networks (Dabney et al. 2018) with the DQN family's targets and exploration.

    Tau counts left null take a device preset at start (printed): CPU N = N' = K = 8; CUDA the
    paper's N = N' = 64, K = 32. ``double_q``: the online net's mean over K taus picks a';
    ``backup`` works as in algo=dqn (targets stay distributions).
    """

    name: str = "iqn"
    adam_eps: float = 3.125e-4  # Dopamine's IQN: 0.01 / 32
    kappa: float = 1.0  # quantile Huber threshold; 0 = plain quantile regression
    num_online_taus: Optional[int] = None  # N (null = device preset)
    num_target_taus: Optional[int] = None  # N' (null = device preset)
    num_acting_taus: Optional[int] = None  # K (null = device preset)
    num_cosines: int = 64  # cos(pi i tau), i = 1..num_cosines
    risk_measure: str = "neutral"  # neutral: mean over taus; cvar: taus in [0, eta]; wang: Phi(Phi^-1(tau) + eta)
    risk_eta: float = 1.0  # CVaR level in (0, 1]; Wang shift (eta < 0 is risk-averse)
    # the target's a* is greedy w.r.t. the distorted expectation too (Dabney et al. 2018, section 3:
    # the target evaluates the policy followed); false: risk-neutral a*, distortion only when acting
    risk_in_target: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.kappa >= 0, "kappa", self.kappa, ">= 0")
        for key in ("num_online_taus", "num_target_taus", "num_acting_taus"):
            value = getattr(self, key)
            require(value is None or value >= 1, key, value, "null (device preset) or >= 1")
        require(self.num_cosines >= 1, "num_cosines", self.num_cosines, ">= 1")
        one_of("risk_measure", self.risk_measure, RISK_MEASURES)
        if self.risk_measure == "cvar":
            require(0.0 < self.risk_eta <= 1.0, "risk_eta", self.risk_eta, "in (0, 1] for risk_measure=cvar")


def resolve_tau_counts(algo: IQNConfig, device: str) -> tuple[tuple[int, int, int], str]:
    preset = PAPER_TAUS if device == "cuda" else CPU_TAUS
    given = (algo.num_online_taus, algo.num_target_taus, algo.num_acting_taus)
    counts = tuple(g if g is not None else p for g, p in zip(given, preset))
    label = "the paper's (CUDA preset)" if device == "cuda" else "the CPU preset (paper: N = N' = 64, K = 32)"
    note = (f"IQN taus: N = {counts[0]}, N' = {counts[1]}, K = {counts[2]}"
            + (f"; unset counts from {label}" if None in given else ""))
    return counts, note


@ALGOS.register("iqn", schema=IQNConfig, schedule=OffPolicySchedule, actions="discrete",
                hardware=("amp", "overlap_env_steps", "replay_device", "compile", "compile_mode",
                          "cpu_linear"))
def build_iqn(run: RootConfig, spec: EnvSpec, device: torch.device) -> ValueAgent:
    algo: IQNConfig = run.algo
    (n_online, n_target, n_acting), note = resolve_tau_counts(algo, run.hardware.device)
    print(note)
    online = ImplicitQuantileNetwork(build_torso(run, spec), spec.n_actions, algo.num_cosines)
    loss = IQNLoss(n_online, n_target, n_acting, algo.kappa, algo.double_q, algo.backup, algo.target_clip,
                   seed=seeding.derive_seed(run.seed, "iqn_loss_taus"), device=device,
                   risk_measure=algo.risk_measure, risk_eta=algo.risk_eta, risk_in_target=algo.risk_in_target)
    # acting, evaluation and the loss draw taus from their own streams, so evaluation settings
    # never change the training trajectory; the agent saves all three in its checkpoints
    streams = {name: torch.Generator(device=device).manual_seed(seeding.derive_seed(run.seed, name))
               for name in ("iqn_acting_taus", "iqn_eval_taus")}
    streams["iqn_loss_taus"] = loss.generator

    def q_values(network, stream: str):
        return partial(mean_q, network, num_taus=n_acting, risk_measure=algo.risk_measure, risk_eta=algo.risk_eta,
                       generator=streams[f"iqn_{stream}_taus"])
    return build_value_agent(run, spec, device, online, loss, q_values=q_values, generators=streams)
