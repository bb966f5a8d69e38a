"""Acting with the squashed Gaussian policy, in the policy's units and in the env's.

The policy acts in [-1, 1] per action dimension (tanh); ``env_actions`` maps an action affinely
onto the env's bounds [low, high] before it is sent (center + a * half_range), so the replay and
the critics see the policy's units on every task and the target entropy -|A| means the same on
Pendulum (+-2) as on Humanoid (+-0.4). Training: ``random`` (uniform in [-1, 1], the warm-up) or
``act`` (a sample of the policy); evaluation: ``act_eval`` (tanh of the mean, or a sample).
"""

from __future__ import annotations

import numpy as np
import torch

from rlkit import seeding
from rlkit.algos.sac.losses import squashed_gaussian_sample
from rlkit.algos.sac.networks import SquashedGaussianPolicy


class SACActor:
    def __init__(self, policy: SquashedGaussianPolicy, action_low: np.ndarray, action_high: np.ndarray, *,
                 device: torch.device, deterministic_eval: bool, seed: int) -> None:
        low, high = np.asarray(action_low, dtype=np.float32), np.asarray(action_high, dtype=np.float32)  # [A], [A]
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (high > low).all()):
            raise ValueError(f"SAC maps [-1, 1] onto the action bounds: they must be finite with high > low,"
                             f" not {low} .. {high}")
        self.policy = policy
        self.action_center = (high + low) / 2  # [A]
        self.action_half_range = (high - low) / 2  # [A]
        self.action_dim = len(low)
        self.device = device
        self.deterministic_eval = deterministic_eval
        self.rng = np.random.default_rng(seed)  # warm-up actions
        self.generator = torch.Generator(device=device).manual_seed(seed)  # training samples
        self.eval_generator = torch.Generator(device=device).manual_seed(
            seeding.derive_seed(seed, "eval"))  # evaluation samples (eval_deterministic=false)

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """Policy actions [E, A] in [-1, 1] -> env actions [E, A] float32 on [low, high]."""
        return (self.action_center + np.clip(actions, -1.0, 1.0) * self.action_half_range).astype(np.float32)

    def random(self, num_envs: int) -> np.ndarray:
        """Uniform policy actions [E, A] float32 in [-1, 1] (uniform over the env's box once mapped)."""
        return self.rng.uniform(-1.0, 1.0, size=(num_envs, self.action_dim)).astype(np.float32)

    def _sample(self, obs: np.ndarray, generator: torch.Generator) -> np.ndarray:
        mean, log_std = self.policy(torch.as_tensor(obs, dtype=torch.float32).to(self.device))  # [E, A], [E, A]
        noise = torch.randn(mean.shape, generator=generator, device=self.device)  # [E, A]
        actions, _ = squashed_gaussian_sample(mean, log_std, noise)  # [E, A]
        return actions.cpu().numpy()

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """obs [E, *obs_shape] -> sampled policy actions [E, A] float32 in (-1, 1)."""
        return self._sample(obs, self.generator)

    @torch.no_grad()
    def act_eval(self, obs: np.ndarray) -> np.ndarray:
        """obs [E, *obs_shape] -> env actions [E, A] float32: tanh(mean), or a sample."""
        if not self.deterministic_eval:
            return self.env_actions(self._sample(obs, self.eval_generator))
        mean, _ = self.policy(torch.as_tensor(obs, dtype=torch.float32).to(self.device))  # [E, A]
        return self.env_actions(torch.tanh(mean).cpu().numpy())

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "generator": self.generator.get_state(),
                "eval_generator": self.eval_generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"].cpu())
        self.eval_generator.set_state(state["eval_generator"].cpu())
