"""IQN's loss piece for the shared ValueLearner (optimizer, target net and AMP live there).

Every tau is drawn from an explicit ``torch.Generator``, never from torch's global RNG: the loss
owns one (seeded, checkpointable), and the caller hands acting and evaluation their own. On the
global RNG the three streams were interleaved, so changing an evaluation setting changed which
taus training drew afterwards, and a resumed run could not replay the uninterrupted one.
"""

from __future__ import annotations

import torch

from rlkit.algos.value_based.learner import TorchBatch
from rlkit.algos.iqn import losses
from rlkit.networks.quantile import ImplicitQuantileNetwork

IQR_TAUS = (0.25, 0.75)


def sample_taus(batch: int, count: int, device: torch.device, generator: torch.Generator) -> torch.Tensor:
    """``count`` taus ~ U(0, 1) per state from ``generator`` -> [batch, count] on ``device``.

    torch draws only on the generator's own device, so the taus are drawn there and then moved
    to ``device`` (a no-op when they match): any generator works with a network anywhere, and the
    values depend only on the generator, not on where the network lives.
    """
    taus = torch.rand(batch, count, device=generator.device, generator=generator)  # [B, count] ~ U(0, 1)
    return taus.to(device)  # [B, count]


def mean_q(network: ImplicitQuantileNetwork, obs: torch.Tensor, num_taus: int, risk_measure: str = "neutral",
           risk_eta: float = 1.0, *, generator: torch.Generator) -> torch.Tensor:
    """Q(s, a) as the mean of Z(s, a, beta(tau)) over ``num_taus`` sampled taus -> [B, A].

    ``generator`` is required (keyword-only) so that no caller falls back to the global RNG by
    omission; acting, evaluation and the loss each pass their own.
    """
    taus = sample_taus(obs.shape[0], num_taus, obs.device, generator)  # [B, K] ~ U(0, 1)
    distorted = losses.distort_taus(taus, risk_measure, risk_eta)  # [B, K] beta(tau)
    return network(obs, distorted).mean(dim=1)  # [B, A]


def _same_device(a: torch.device, b: torch.device) -> bool:
    """cuda and cuda:<current> are the same place; torch.device equality says they are not."""
    def resolve(device: torch.device) -> torch.device:
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        return device
    return resolve(a) == resolve(b)


class IQNLoss:
    """IQN's loss piece: quantile Huber loss against distributional targets (Dabney et al. 2018).

    A plain class rather than a frozen dataclass because it owns mutable state: the generator
    for every random draw of the loss (online taus, target taus, the taus that choose a', and
    a'_j for the non-max backups). ``seed`` starts it; ``state_dict`` / ``load_state_dict``
    carry it through checkpoints so a resumed run continues the same stream. ``device`` is where
    the batches will live (torch draws only on a generator of the tensor's own device).

    ``risk_measure`` / ``risk_eta`` are the acting distortion beta (``losses.distort_taus``).
    With ``risk_in_target`` the target's a* is chosen by the same distorted expectation, as in
    Dabney et al. 2018, section 3: the risk-sensitive policy is greedy w.r.t. Q_beta both when
    acting and in the bootstrap, so the target evaluates the policy that is actually followed.
    ``risk_in_target=False`` keeps the earlier behaviour (risk-neutral a*, distortion only
    when acting). The quantiles being regressed (at uniform taus) are never distorted.
    """

    def __init__(self, num_online_taus: int, num_target_taus: int, num_acting_taus: int, kappa: float,
                 double_q: bool, backup: str, target_clip: float | None, *, seed: int,
                 device: torch.device | str = "cpu", risk_measure: str = "neutral", risk_eta: float = 1.0,
                 risk_in_target: bool = True) -> None:
        losses.distort_taus(torch.full((1,), 0.5), risk_measure, risk_eta)  # unknown names fail here, not mid-run
        self.num_online_taus = num_online_taus  # N
        self.num_target_taus = num_target_taus  # N'
        self.num_acting_taus = num_acting_taus  # K, for choosing a' in the target
        self.kappa = kappa
        self.double_q = double_q
        self.backup = backup
        self.target_clip = target_clip
        self.risk_measure = risk_measure
        self.risk_eta = risk_eta
        self.risk_in_target = risk_in_target
        self.seed = seed
        self.generator = torch.Generator(device=torch.device(device))
        self.generator.manual_seed(seed)

    def __repr__(self) -> str:
        return (f"IQNLoss(N={self.num_online_taus}, N'={self.num_target_taus}, K={self.num_acting_taus}, "
                f"kappa={self.kappa}, double_q={self.double_q}, backup={self.backup!r}, "
                f"target_clip={self.target_clip}, risk_measure={self.risk_measure!r}, risk_eta={self.risk_eta}, "
                f"risk_in_target={self.risk_in_target}, seed={self.seed}, device={self.generator.device})")

    def state_dict(self) -> dict:
        """The generator's state (a CPU uint8 tensor, also for a CUDA generator)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        # set_state wants a CPU ByteTensor; torch.load(map_location=...) may have moved it.
        self.generator.set_state(state["generator"].cpu())

    def __call__(self, online: ImplicitQuantileNetwork, target: ImplicitQuantileNetwork, batch: TorchBatch,
                 temperature: float | torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        size, device = batch.obs.shape[0], batch.obs.device
        if not _same_device(device, self.generator.device):
            raise ValueError(f"IQNLoss: the batch is on device {device} but the loss's generator is on "
                             f"{self.generator.device}; construct IQNLoss with device= the learner's device")
        taus = sample_taus(size, self.num_online_taus, device, self.generator)  # [B, N]
        fixed = torch.tensor(IQR_TAUS, device=device).expand(size, 2)  # [B, 2] for the spread metric
        quantiles_all = online(batch.obs, torch.cat([taus, fixed], dim=1))  # [B, N + 2, A]
        quantiles = quantiles_all[:, : self.num_online_taus]  # [B, N, A]
        index = batch.actions.long().view(size, 1, 1).expand(size, self.num_online_taus, 1)  # [B, N, 1]
        pred = quantiles.gather(2, index).squeeze(2)  # [B, N]
        with torch.no_grad():
            target_taus = sample_taus(size, self.num_target_taus, device, self.generator)  # [B, M]
            next_quantiles = target(batch.next_obs, target_taus)  # [B, M, A]
            selector = online if self.double_q else target
            select_risk = self.risk_measure if self.risk_in_target else "neutral"
            select_q = mean_q(selector, batch.next_obs, self.num_acting_taus, select_risk, self.risk_eta,
                              generator=self.generator)  # [B, A] Q_beta(s', a), chooses a*
            y = losses.distributional_target(batch.rewards, batch.discounts, next_quantiles, select_q, self.backup,
                                             temperature, self.target_clip, self.generator)  # [B, M]
        loss = losses.quantile_huber_loss(pred, taus, y, self.kappa)  # []
        with torch.no_grad():
            at_fixed = quantiles_all[:, self.num_online_taus:].detach()  # [B, 2, A]
            q_values = quantiles.detach().mean(dim=1)  # [B, A]
            greedy = q_values.argmax(dim=1)  # [B]
            greedy_q = q_values.gather(1, greedy.unsqueeze(1)).squeeze(1)  # [B]
            iqr = (at_fixed[:, 1] - at_fixed[:, 0]).gather(1, greedy.unsqueeze(1)).squeeze(1)  # [B]
        metrics = {"mean_q": pred.detach().mean(), "mean_target": y.mean(), "greedy_q": greedy_q.mean(),
                   "return_iqr": iqr.mean()}
        return loss, metrics
