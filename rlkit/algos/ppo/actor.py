"""Acting with a Gaussian policy: normalize observations, sample actions, read values.

Training: ``observe`` normalizes each new obs batch with the running statistics (and adds it to
them, as gymnasium's NormalizeObservation); ``act`` samples a ~ N(mean, std) and returns the
unclipped sample with its log-prob and the state value (the env clips the action it executes).
Evaluation: ``act_eval`` normalizes with the statistics frozen and takes the mean action
(or a sample when ``deterministic_eval`` is off, drawn from a stream of its own, so evaluating
never moves the training samples).

With ``action_bounds`` (low [A], high [A]) the Gaussian lives in [-1, 1] per dimension: an action
is clipped to [-1, 1] and mapped affinely onto [low, high] before it reaches the env (Tianshou's
action scaling), so the policy's std means the same fraction of the range on every task
(Humanoid's torques are bounded by 0.4, InvertedPendulum's by 3). On [-1, 1] tasks the map is the
identity. Without them the actions go out in the env's units (the env clips them: CleanRL).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from rlkit import seeding
from rlkit.algos.ppo.losses import LOG_SQRT_2PI
from rlkit.networks.actor_critic import GaussianActorCritic, HostActorCritic
from rlkit.normalizers import ObservationNormalizer


class PolicyStep(NamedTuple):
    """One vector step's policy output, host float32 arrays (the rollout is stored on the host)."""

    actions: np.ndarray  # [E, A] unclipped samples (in [-1, 1] units with action bounds)
    log_probs: np.ndarray  # [E]
    values: np.ndarray  # [E]


def gaussian_log_prob_host(actions: np.ndarray, mean: np.ndarray, log_std: np.ndarray) -> np.ndarray:
    """``losses.gaussian_log_prob`` in numpy for acting: actions, mean [E, A], log_std [A] -> [E] float32."""
    z = (actions - mean) * np.exp(-log_std)  # [E, A]
    return (-0.5 * z * z - log_std - LOG_SQRT_2PI).sum(-1)  # [E]


class PPOActor:
    def __init__(self, network: GaussianActorCritic, obs_normalizer: ObservationNormalizer | None, *,
                 device: torch.device, deterministic_eval: bool, seed: int,
                 action_bounds: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.network = network
        if action_bounds is None:
            self.action_center = self.action_half_range = None
        else:
            low, high = (np.asarray(b, dtype=np.float32) for b in action_bounds)  # [A], [A]
            if not (np.isfinite(low).all() and np.isfinite(high).all() and (high > low).all()):
                raise ValueError(f"action rescaling needs finite bounds with high > low, not {low} .. {high}")
            self.action_center = (high + low) / 2  # [A]
            self.action_half_range = (high - low) / 2  # [A]
        self.obs_normalizer = obs_normalizer
        self.device = device
        self.deterministic_eval = deterministic_eval
        self.generator = torch.Generator(device=device).manual_seed(seed)  # training samples
        self.eval_generator = torch.Generator(device=device).manual_seed(
            seeding.derive_seed(seed, "eval"))  # evaluation samples (eval_deterministic=false)
        # on the CPU, acting runs the network's forward in numpy (HostActorCritic: torch's per-op
        # cost dominates a batch of a few observations); on a GPU, the network itself
        self.host_network = HostActorCritic(network) if device.type == "cpu" else None

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """Raw obs [E, *obs_shape] -> the policy's input [E, *obs_shape] float32 (statistics updated)."""
        if self.obs_normalizer is None:
            return np.asarray(obs, dtype=np.float32)
        return self.obs_normalizer(obs, update=True)

    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, dtype=torch.float32).to(self.device)  # [E, *obs_shape]

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """Policy actions [E, A] -> the actions sent to the env [E, A] float32 (mapped onto the bounds)."""
        out = actions.astype(np.float32, copy=False)  # [E, A]
        if self.action_center is None:
            return out
        return self.action_center + np.minimum(np.maximum(out, -1.0), 1.0) * self.action_half_range  # [E, A]

    def act(self, policy_obs: np.ndarray) -> PolicyStep:
        """policy_obs [E, *obs_shape] (from ``observe``) -> sampled actions, their log-probs, values."""
        if self.host_network is not None:
            mean, log_std, values = self.host_network(policy_obs)  # [E, A], [A], [E]
            noise = torch.randn(mean.shape, generator=self.generator).numpy()  # [E, A]
        else:
            with torch.no_grad():
                mean, log_std, values = (t.cpu().numpy() for t in self.network(self._tensor(policy_obs)))
                noise = torch.randn(mean.shape, generator=self.generator, device=self.device).cpu().numpy()
        actions = mean + np.exp(log_std) * noise  # [E, A]
        return PolicyStep(actions, gaussian_log_prob_host(actions, mean, log_std), values)

    @torch.no_grad()
    def value(self, policy_obs: np.ndarray) -> torch.Tensor:
        return self.network.value(self._tensor(policy_obs))  # [E]

    @torch.no_grad()
    def act_eval(self, obs: np.ndarray) -> np.ndarray:
        """Raw obs [E, *obs_shape] -> env actions [E, A] float32 with frozen normalization."""
        if self.obs_normalizer is not None:
            obs = self.obs_normalizer(obs, update=False)
        mean, log_std, _ = self.network(self._tensor(obs))  # [E, A], [A], [E]
        if not self.deterministic_eval:
            noise = torch.randn(mean.shape, generator=self.eval_generator, device=self.device)  # [E, A]
            mean = mean + log_std.exp() * noise  # [E, A]
        return self.env_actions(mean.cpu().numpy())

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "eval_generator": self.eval_generator.get_state(),
                "obs_normalizer": self.obs_normalizer.state_dict() if self.obs_normalizer is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"].cpu())
        # a checkpoint from before the evaluation stream drew evaluation samples from the training
        # stream: continuing from that state there replays its evaluations (rlkit-eval)
        self.eval_generator.set_state(state.get("eval_generator", state["generator"]).cpu())
        if self.obs_normalizer is not None:
            self.obs_normalizer.load_state_dict(state["obs_normalizer"])
