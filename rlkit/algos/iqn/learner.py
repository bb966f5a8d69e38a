"""IQN's loss piece for the shared ValueLearner (optimizer, target net and AMP live there)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlkit.algos.dqn.learner import TorchBatch
from rlkit.algos.iqn import losses
from rlkit.networks.quantile import ImplicitQuantileNetwork

IQR_TAUS = (0.25, 0.75)


def sample_taus(batch: int, count: int, device: torch.device) -> torch.Tensor:
    return torch.rand(batch, count, device=device)  # [B, count] ~ U(0, 1)


def mean_q(network: ImplicitQuantileNetwork, obs: torch.Tensor, num_taus: int, risk_measure: str = "neutral",
           risk_eta: float = 1.0) -> torch.Tensor:
    """Q(s, a) as the mean of Z(s, a, beta(tau)) over ``num_taus`` sampled taus -> [B, A]."""
    taus = losses.distort_taus(sample_taus(obs.shape[0], num_taus, obs.device), risk_measure, risk_eta)  # [B, K]
    return network(obs, taus).mean(dim=1)  # [B, A]


@dataclass(frozen=True)
class IQNLoss:
    num_online_taus: int  # N
    num_target_taus: int  # N'
    num_acting_taus: int  # K, for choosing a' in the target
    kappa: float
    double_q: bool
    backup: str
    target_clip: float | None

    def __call__(self, online: ImplicitQuantileNetwork, target: ImplicitQuantileNetwork, batch: TorchBatch,
                 temperature: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        size, device = batch.obs.shape[0], batch.obs.device
        taus = sample_taus(size, self.num_online_taus, device)  # [B, N]
        fixed = torch.tensor(IQR_TAUS, device=device).expand(size, 2)  # [B, 2] for the spread metric
        quantiles_all = online(batch.obs, torch.cat([taus, fixed], dim=1))  # [B, N + 2, A]
        quantiles = quantiles_all[:, : self.num_online_taus]  # [B, N, A]
        index = batch.actions.long().view(size, 1, 1).expand(size, self.num_online_taus, 1)  # [B, N, 1]
        pred = quantiles.gather(2, index).squeeze(2)  # [B, N]
        with torch.no_grad():
            next_quantiles = target(batch.next_obs, sample_taus(size, self.num_target_taus, device))  # [B, M, A]
            selector = online if self.double_q else target
            select_q = mean_q(selector, batch.next_obs, self.num_acting_taus)  # [B, A]
            y = losses.distributional_target(batch.rewards, batch.discounts, next_quantiles, select_q, self.backup,
                                             temperature, self.target_clip)  # [B, M]
        loss = losses.quantile_huber_loss(pred, taus, y, self.kappa)
        with torch.no_grad():
            at_fixed = quantiles_all[:, self.num_online_taus:].detach()  # [B, 2, A]
            q_values = quantiles.detach().mean(dim=1)  # [B, A]
            greedy = q_values.argmax(dim=1)  # [B]
            greedy_q = q_values.gather(1, greedy.unsqueeze(1)).squeeze(1)  # [B]
            iqr = (at_fixed[:, 1] - at_fixed[:, 0]).gather(1, greedy.unsqueeze(1)).squeeze(1)  # [B]
        metrics = {"mean_q": pred.detach().mean(), "mean_target": y.mean(), "greedy_q": greedy_q.mean(),
                   "return_iqr": iqr.mean()}
        return loss, metrics
