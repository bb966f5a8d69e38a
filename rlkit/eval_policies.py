"""How a trained agent acts in evaluation (``rlkit-eval policy=...``), and what its panel shows.

``EVAL_POLICIES`` maps an algorithm's registry name to a builder
``(agent, run config, env spec, choice, seed) -> EvalPolicy``; the entry's trait ``policies`` lists the
policy names it offers (the first is the run's own evaluation policy's kind). An algorithm adds
its own with one decorator (SAC's, below, offers ``mean`` and ``sample`` with a squashed
``GaussianPanel``):

    @EVAL_POLICIES.register("sac", policies=("mean", "sample"))
    def sac_policy(agent, run, spec, choice, seed): ...

Random streams: with ``seed=None`` a policy draws from the agent's own evaluation streams (the
state a checkpoint holds, or as its last evaluation began: rlkit/eval_start.py), so the run's own
evaluation policy repeats the run's evaluation exactly; with a seed it draws from fresh streams
derived from that seed (``seeding.derive_seed(seed, name)``) and leaves the agent's alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Optional, Protocol

import numpy as np
import torch

from rlkit import seeding
from rlkit.algos.iqn import resolve_tau_counts
from rlkit.algos.iqn.learner import mean_q
from rlkit.algos.iqn.losses import distort_taus
from rlkit.algos.ppo.agent import PPOAgent
from rlkit.algos.sac.agent import SACAgent
from rlkit.algos.sac.losses import squashed_gaussian_sample
from rlkit.algos.value_based.actor import boltzmann_sample, epsilon_greedy_choice
from rlkit.algos.value_based.agent import ValueAgent
from rlkit.algos.value_based.losses import boltzmann_policy
from rlkit.config import RootConfig, one_of, require
from rlkit.envs.base import EnvSpec
from rlkit.panels import ActionValuesPanel, GaussianPanel, Panel, QuantilesPanel
from rlkit.registry import Registry

EVAL_POLICIES: Registry = Registry("eval_policy")
PANEL_TAUS = 32  # IQN's panel: Z(s, a) at taus (i + 0.5) / 32


@dataclass(frozen=True)
class PolicyChoice:
    """The evaluation policy asked for; ``None`` everywhere is the run's own evaluation policy."""

    name: Optional[str] = None  # greedy, epsilon, boltzmann (value-based); mean, sample (Gaussian policies)
    epsilon: Optional[float] = None  # epsilon-greedy's epsilon (null: the run's algo.eval_epsilon)
    temperature: Optional[float] = None  # Boltzmann's T (null: the run's schedule.temperature_final)
    risk_measure: Optional[str] = None  # IQN: neutral, cvar, wang (null: the run's algo.risk_measure)
    risk_eta: Optional[float] = None  # IQN: CVaR level or Wang shift (null: the run's algo.risk_eta)


class EvalPolicy(Protocol):
    name: str  # the policy's kind, e.g. "epsilon"
    settings: dict[str, Any]  # what identifies it (written into eval_<stamp>.json)
    is_runs_own: bool  # the run's own evaluation policy (what the runner evaluated with)
    deterministic: bool  # the same observation always gives the same action (no draw of any kind)

    def act(self, obs: np.ndarray, panel: bool = False) -> tuple[np.ndarray, Panel | None]:
        """obs [E, *obs_shape] -> actions [E] int64 or [E, A] float32, and (with ``panel``) the
        numbers the action was chosen by for sub-env 0."""


def policy_names(algo_name: str) -> tuple[str, ...]:
    return tuple(EVAL_POLICIES.entry(algo_name).traits["policies"])


def build_policy(agent: Any, run: RootConfig, spec: EnvSpec, choice: PolicyChoice, seed: int | None) -> EvalPolicy:
    """The evaluation policy ``choice`` of ``run``'s algorithm; a name it does not offer, or an
    option that does not apply to it, is a ConfigValueError naming what is allowed."""
    entry = EVAL_POLICIES.entry(run.algo.name)
    if choice.name is not None:
        one_of("policy", choice.name, tuple(entry.traits["policies"]))
    return entry.component(agent, run, spec, choice, seed)


def _refuse(choice: PolicyChoice, keys: tuple[str, ...], why: str) -> None:
    for key in keys:
        value = getattr(choice, key)
        require(value is None, key, value, why)


# ------------------------------------------------------------------------------ value-based


@dataclass
class ValuePolicy:
    """Greedy, epsilon-greedy or Boltzmann on the agent's Q (DQN: the network; IQN: the mean of
    Z over sampled, risk-distorted taus); epsilon-greedy with the run's epsilon, Q function and
    streams is exactly ``agent.act_eval``.

    Q is computed once per step, and the panel shows the Q the action was chosen by: IQN's Q
    differs with every draw of taus, and a second draw from the evaluation stream would also
    change the actions after it. A frame whose action epsilon drew at random had no Q; its panel
    computes one with ``panel_q_function`` (IQN: taus from a stream of the panel's own)."""

    agent: ValueAgent
    name: str
    q_function: Callable[[torch.Tensor], torch.Tensor]  # obs [E, *obs] -> Q [E, A]
    settings: dict[str, Any]
    is_runs_own: bool
    title: str
    epsilon: float = 0.0
    temperature: float = 1.0
    rng: np.random.Generator | None = None  # epsilon draws
    generator: torch.Generator | None = None  # Boltzmann draws
    quantile_network: Any = None  # IQN: the network whose Z(s, a) the panel draws
    panel_taus: torch.Tensor | None = field(default=None)  # [N]
    panel_q_function: Callable[[torch.Tensor], torch.Tensor] | None = None  # frames that explored; null: q_function

    @property
    def deterministic(self) -> bool:
        # IQN's Q draws taus, so even its greedy actions can change between visits of a state
        return self.quantile_network is None and (self.name == "greedy" or (self.name == "epsilon"
                                                                             and self.epsilon == 0.0))

    def q_values(self, obs: np.ndarray) -> torch.Tensor:
        return self.agent.actor._q(obs, self.q_function)  # [E, A] float32, as the agent's own act_eval

    def act(self, obs: np.ndarray, panel: bool = False) -> tuple[np.ndarray, Panel | None]:
        explored = False
        if self.name == "epsilon":  # as the agent's act_eval: Q only for the envs that act greedily
            actions, explore, q = epsilon_greedy_choice(self.q_values, obs, self.agent.actor.n_actions, self.epsilon,
                                                        self.rng)  # [E], [E], [G, A] or None
            explored = bool(explore[0])
            if panel and explored:  # sub-env 0's action had no Q: the panel's own forward
                q = self.agent.actor._q(obs[:1], self.panel_q_function or self.q_function)  # [1, A]
        elif self.name == "greedy":
            q = self.q_values(obs)  # [E, A]
            actions = q.argmax(dim=1).cpu().numpy().astype(np.int64)  # [E]
        else:
            q = self.q_values(obs)  # [E, A]
            actions = boltzmann_sample(q, self.temperature, self.generator)  # [E]
        if not panel:
            return actions, None
        q0 = q[0].float().cpu().numpy()  # [A]
        chosen = int(actions[0])
        if self.quantile_network is not None:
            taus, quantiles = self.quantiles(obs[:1])
            return actions, QuantilesPanel(self.title, taus, quantiles[0], q0, chosen, explored)
        probabilities = None
        if self.name == "boltzmann":
            probabilities = boltzmann_policy(q[:1].float().cpu(), self.temperature)[0].numpy()  # [A]
        return actions, ActionValuesPanel(self.title, q0, chosen, probabilities, explored)

    @torch.inference_mode()
    def quantiles(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """IQN: (taus [N], Z [E, N, A]) at the panel's fixed tau grid for obs [E, *obs_shape]."""
        device = self.agent.actor.device
        obs_t = torch.from_numpy(obs).to(device)  # [E, *obs]
        taus = self.panel_taus.to(device).expand(obs_t.shape[0], -1)  # [E, N]
        return self.panel_taus.numpy(), self.quantile_network(obs_t, taus).float().cpu().numpy()  # [E, N, A]


def panel_taus(count: int = PANEL_TAUS) -> torch.Tensor:
    return (torch.arange(count, dtype=torch.float32) + 0.5) / count  # [N] midpoints of N equal bins


def _value_policy(agent: ValueAgent, run: RootConfig, choice: PolicyChoice, seed: int | None,
                  distributional: bool) -> ValuePolicy:
    algo = run.algo
    name = choice.name or "epsilon"
    if name != "epsilon":
        _refuse(choice, ("epsilon",), "unset unless policy=epsilon")
    if name != "boltzmann":
        _refuse(choice, ("temperature",), "unset unless policy=boltzmann")
    if not distributional:
        _refuse(choice, ("risk_measure", "risk_eta"), f"unset for algo={algo.name} (IQN's risk measures only)")
    epsilon = algo.eval_epsilon if choice.epsilon is None else choice.epsilon
    require(0.0 <= epsilon <= 1.0, "epsilon", epsilon, "in [0, 1]")
    temperature = run.schedule.temperature_final if choice.temperature is None else choice.temperature
    require(temperature > 0, "temperature", temperature, "> 0")
    own_streams = seed is None
    rng = agent.eval_rng if own_streams else np.random.default_rng(seeding.derive_seed(seed, "eval_actor"))
    generator = torch.Generator().manual_seed(seeding.derive_seed(run.seed if own_streams else seed,
                                                                  "eval_boltzmann"))
    settings: dict[str, Any] = {"policy": name}
    if name == "epsilon":
        settings["epsilon"] = epsilon
    if name == "boltzmann":
        settings["temperature"] = temperature
    network = agent.learner.online
    runs_risk = True
    panel_q_function = None
    if distributional:
        risk = algo.risk_measure if choice.risk_measure is None else choice.risk_measure
        eta = algo.risk_eta if choice.risk_eta is None else choice.risk_eta
        one_of("risk_measure", risk, ("neutral", "cvar", "wang"))
        if risk == "cvar":
            require(0.0 < eta <= 1.0, "risk_eta", eta, "in (0, 1] for risk_measure=cvar")
        distort_taus(torch.full((1,), 0.5), risk, eta)
        runs_risk = (risk, eta) == (algo.risk_measure, algo.risk_eta)
        (_, _, num_acting_taus), _ = resolve_tau_counts(algo, run.hardware.device)
        if own_streams and runs_risk:
            q_function = agent.actor.eval_q_values  # the run's own: mean_q on the agent's evaluation taus
        else:
            taus_generator = agent.generators["iqn_eval_taus"] if own_streams else torch.Generator(
                device=agent.actor.device).manual_seed(seeding.derive_seed(seed, "iqn_eval_taus"))
            q_function = partial(mean_q, network, num_taus=num_acting_taus, risk_measure=risk, risk_eta=eta,
                                 generator=taus_generator)
        # its own stream, so that drawing a panel never moves the taus the actions are chosen by
        panel_generator = torch.Generator(device=agent.actor.device).manual_seed(
            seeding.derive_seed(run.seed if own_streams else seed, "iqn_panel_taus"))
        panel_q_function = partial(mean_q, network, num_taus=num_acting_taus, risk_measure=risk, risk_eta=eta,
                                   generator=panel_generator)
        settings.update(risk_measure=risk, risk_eta=eta, num_acting_taus=num_acting_taus)
        risk_label = {"neutral": "risk-neutral", "cvar": f"CVaR η={eta:g}", "wang": f"Wang η={eta:g}"}[risk]
        title = f"IQN return distribution; {_policy_label(name, epsilon, temperature)}, {risk_label}"
    else:
        q_function = agent.actor.eval_q_values
        title = (f"Action probabilities; Boltzmann T={temperature:g}" if name == "boltzmann"
                 else f"Q-values; {_policy_label(name, epsilon, temperature)}")
    is_runs_own = name == "epsilon" and epsilon == algo.eval_epsilon and runs_risk
    return ValuePolicy(agent, name, q_function, settings, is_runs_own, title, epsilon=epsilon,
                       temperature=temperature, rng=rng, generator=generator,
                       quantile_network=network if distributional else None,
                       panel_taus=panel_taus() if distributional else None, panel_q_function=panel_q_function)


def _policy_label(name: str, epsilon: float, temperature: float) -> str:
    if name == "epsilon":
        return f"ε-greedy ε={epsilon:g}"
    if name == "boltzmann":
        return f"Boltzmann T={temperature:g}"
    return "greedy"


@EVAL_POLICIES.register("dqn", policies=("epsilon", "greedy", "boltzmann"))
def dqn_policy(agent: ValueAgent, run: RootConfig, spec: EnvSpec, choice: PolicyChoice, seed: int | None
               ) -> ValuePolicy:
    return _value_policy(agent, run, choice, seed, distributional=False)


@EVAL_POLICIES.register("iqn", policies=("epsilon", "greedy", "boltzmann"))
def iqn_policy(agent: ValueAgent, run: RootConfig, spec: EnvSpec, choice: PolicyChoice, seed: int | None
               ) -> ValuePolicy:
    return _value_policy(agent, run, choice, seed, distributional=True)


# ------------------------------------------------------------------------------- Gaussian


@dataclass
class ContinuousEvalPolicy:
    """What PPO's and SAC's evaluation policies hold: the agent, the policy's kind (``mean`` or
    ``sample``), the stream samples draw from and the env's action bounds."""

    agent: Any
    name: str  # mean or sample
    generator: torch.Generator
    settings: dict[str, Any]
    is_runs_own: bool
    low: np.ndarray  # [A] the env's bounds
    high: np.ndarray  # [A]

    @property
    def deterministic(self) -> bool:
        return self.name == "mean"


@dataclass
class GaussianPolicy(ContinuousEvalPolicy):
    """PPO's Gaussian policy: the mean action, or a sample; either with the run's frozen
    observation normalization and action mapping, as ``PPOActor.act_eval``."""

    @torch.no_grad()
    def act(self, obs: np.ndarray, panel: bool = False) -> tuple[np.ndarray, Panel | None]:
        actor = self.agent.actor
        policy_obs = actor.obs_normalizer(obs, update=False) if actor.obs_normalizer is not None else obs
        mean, log_std, _ = actor.network(actor._tensor(policy_obs))  # [E, A], [A], [E]
        chosen = mean
        if self.name == "sample":
            noise = torch.randn(mean.shape, generator=self.generator, device=actor.device)  # [E, A]
            chosen = mean + log_std.exp() * noise  # [E, A]
        actions = actor.env_actions(chosen.cpu().numpy())  # [E, A] float32
        if not panel:
            return actions, None
        std = log_std.exp().expand_as(mean)  # [E, A]
        title = "Gaussian policy (PPO): " + ("mean action" if self.name == "mean" else "sampled action")
        return actions, GaussianPanel(title, mean[0].float().cpu().numpy(), std[0].float().cpu().numpy(),
                                      actions[0].copy(), self.low, self.high, actor.action_center,
                                      actor.action_half_range)


@dataclass
class SquashedGaussianEvalPolicy(ContinuousEvalPolicy):
    """SAC's policy: tanh of the Gaussian's mean, or a sample tanh(mean + std * noise), mapped onto
    the env's bounds; the same operations on the same streams as ``SACActor.act_eval``."""

    @torch.no_grad()
    def act(self, obs: np.ndarray, panel: bool = False) -> tuple[np.ndarray, Panel | None]:
        actor = self.agent.actor
        mean, log_std = actor.policy(torch.as_tensor(obs, dtype=torch.float32).to(actor.device))  # [E, A], [E, A]
        if self.name == "sample":
            noise = torch.randn(mean.shape, generator=self.generator, device=actor.device)  # [E, A]
            squashed, _ = squashed_gaussian_sample(mean, log_std, noise)  # [E, A] in (-1, 1)
        else:
            squashed = torch.tanh(mean)  # [E, A]
        actions = actor.env_actions(squashed.cpu().numpy())  # [E, A] float32 on [low, high]
        if not panel:
            return actions, None
        title = "Squashed Gaussian policy (SAC): " + ("tanh(mean) action" if self.name == "mean" else "sampled action")
        return actions, GaussianPanel(title, mean[0].float().cpu().numpy(), log_std[0].exp().float().cpu().numpy(),
                                      actions[0].copy(), self.low, self.high, actor.action_center,
                                      actor.action_half_range, squashed=True)


def _continuous_policy(cls: type[ContinuousEvalPolicy], agent: Any, run: RootConfig, spec: EnvSpec,
                       choice: PolicyChoice, seed: int | None, own_generator: torch.Generator) -> ContinuousEvalPolicy:
    """``cls`` for the policy asked for; ``own_generator``: the actor's evaluation stream (used when
    ``seed`` is None; otherwise a fresh stream derived from ``seed``)."""
    for key in ("epsilon", "temperature", "risk_measure", "risk_eta"):
        _refuse(choice, (key,), f"unset for algo={run.algo.name} (policy=mean or policy=sample)")
    own = "mean" if run.algo.eval_deterministic else "sample"
    name = choice.name or own
    device = agent.actor.device
    generator = own_generator if seed is None else torch.Generator(device=device).manual_seed(
        seeding.derive_seed(seed, "actor_eval"))
    return cls(agent, name, generator, {"policy": name}, name == own,
               np.asarray(spec.action_low, np.float32), np.asarray(spec.action_high, np.float32))


@EVAL_POLICIES.register("ppo", policies=("mean", "sample"))
def ppo_policy(agent: PPOAgent, run: RootConfig, spec: EnvSpec, choice: PolicyChoice, seed: int | None
               ) -> ContinuousEvalPolicy:
    return _continuous_policy(GaussianPolicy, agent, run, spec, choice, seed, agent.actor.eval_generator)


@EVAL_POLICIES.register("sac", policies=("mean", "sample"))
def sac_policy(agent: SACAgent, run: RootConfig, spec: EnvSpec, choice: PolicyChoice, seed: int | None
               ) -> ContinuousEvalPolicy:
    return _continuous_policy(SquashedGaussianEvalPolicy, agent, run, spec, choice, seed, agent.actor.eval_generator)
