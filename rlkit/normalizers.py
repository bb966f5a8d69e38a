"""Running statistics for on-policy training: observation normalization and reward scaling.

``ObservationNormalizer`` and ``RewardScaler`` follow gymnasium's NormalizeObservation and
NormalizeReward as CleanRL's ppo_continuous_action uses them (normalized observations and scaled
rewards clipped to +-10), with one difference: the statistics start empty (count 0) instead of
from a pseudo-count of 1e-4, so merged batches give exactly the statistics of the concatenated
data. Their state is plain tensors (checkpoints load with ``weights_only=True``); evaluation
uses the training statistics frozen (``update=False``).
"""

from __future__ import annotations

import numpy as np
import torch


def _clip(x: np.ndarray, bound: float) -> np.ndarray:
    """np.clip(x, -bound, bound) as two ufuncs (np.clip's Python wrapper costs more on [E] arrays)."""
    return np.minimum(np.maximum(x, -bound), bound)


class RunningMeanStd:
    """Mean and (population) variance of everything passed to ``update``, one batch at a time.

    Batches merge exactly with Chan, Golub and LeVeque's pairwise formula (1979): for counts
    n_a, n_b, means m_a, m_b and M2 = variance x count,
    M2 = M2_a + M2_b + (m_b - m_a)^2 n_a n_b / (n_a + n_b). Computed in float64.
    """

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)  # 1 until the first batch: normalizing is a no-op
        self.count = 0.0

    def update(self, batch: np.ndarray) -> None:
        """batch [N, *shape]; an empty batch changes nothing."""
        batch = np.asarray(batch, dtype=np.float64)
        n = batch.shape[0]
        if n == 0:
            return
        # np.mean and np.var's own arithmetic, without their wrappers' overhead (this runs every env step)
        batch_mean = batch.sum(axis=0) / n  # [*shape]
        deviation = batch - batch_mean  # [N, *shape]
        batch_var = (deviation * deviation).sum(axis=0) / n  # [*shape]
        total = self.count + n
        delta = batch_mean - self.mean  # [*shape]
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total  # [*shape]
        self.mean = self.mean + delta * n / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict:
        return {"mean": torch.tensor(np.asarray(self.mean, dtype=np.float64)),
                "var": torch.tensor(np.asarray(self.var, dtype=np.float64)), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean = state["mean"].numpy().astype(np.float64)  # a 0-d array for scalar statistics
        self.var = state["var"].numpy().astype(np.float64)
        self.count = float(state["count"])


class ObservationNormalizer:
    """obs -> clip((obs - mean) / sqrt(var + eps), -clip, clip) with running statistics."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, epsilon: float = 1e-8) -> None:
        self.stats = RunningMeanStd(shape)
        self.clip = clip
        self.epsilon = epsilon

    def __call__(self, obs: np.ndarray, update: bool) -> np.ndarray:
        """obs [N, *shape] -> [N, *shape] float32; with ``update`` the batch joins the statistics first."""
        if update:
            self.stats.update(obs)
        scaled = (obs - self.stats.mean) / np.sqrt(self.stats.var + self.epsilon)  # [N, *shape] float64
        return _clip(scaled, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return self.stats.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.stats.load_state_dict(state)


class RewardScaler:
    """reward -> clip(reward / sqrt(var(G) + eps), -clip, clip), G the running discounted return.

    G_i = gamma G_i + r_i per sub-env, reset to 0 after the step that ends an episode (gymnasium
    resets it in the ending step instead, dropping that step's history; either way the scale
    tracks the spread of discounted returns). Only the scale changes: the sign and the zero of
    the reward are kept, so terminations keep their meaning. Reset steps (``valid`` False) are no
    transitions: they neither join the statistics nor get a reward.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        self.returns = np.zeros(num_envs, dtype=np.float64)  # [E]
        self.stats = RunningMeanStd(())
        self.gamma = gamma
        self.clip = clip
        self.epsilon = epsilon

    def __call__(self, reward: np.ndarray, done: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """reward, done, valid: [E] -> scaled reward [E] float32 (0 where not valid)."""
        self.returns[valid] = self.returns[valid] * self.gamma + reward[valid]  # [E]
        self.stats.update(self.returns[valid])
        scaled = reward / np.sqrt(self.stats.var + self.epsilon)  # [E]
        scaled = np.where(valid, _clip(scaled, self.clip), 0.0)  # [E]
        self.returns[done & valid] = 0.0
        return scaled.astype(np.float32)

    def state_dict(self) -> dict:
        return self.stats.state_dict()  # per-env returns restart with the envs on resume

    def load_state_dict(self, state: dict) -> None:
        self.stats.load_state_dict(state)
