"""The risk measure chooses a* in the target as well as when acting (Dabney et al. 2018, section 3).

The risk-sensitive agent is greedy w.r.t. the distorted expectation Q_beta(s, a) = E_tau[Z(s, a,
beta(tau))]; its target must bootstrap from the action that policy would take, not from the
risk-neutral argmax. A stub network with known quantile functions makes the two argmaxes differ
for certain, so the target y shows which action was chosen.
"""

import pytest
import torch
from torch import nn

from rlkit.algos.value_based.learner import TorchBatch
from rlkit.algos.iqn import losses
from rlkit.algos.iqn.learner import IQNLoss

N, M, K, BATCH = 4, 5, 7, 3  # distinct counts so each recorded call says what it was for
RISKY_SLOPE, RISKY_OFFSET, SAFE_VALUE = 100.0, -5.0, 6.0


class TwoActionStub(nn.Module):
    """Z(s, 0, tau) = 100 tau - 5 (mean 45 over U(0, 1), at most 5 for tau <= 0.1); Z(s, 1, tau) = 6.

    Risk-neutral selection picks action 0; CVaR(0.1) or Wang(-3) selection picks action 1.
    Records the taus of every call.
    """

    def __init__(self):
        super().__init__()
        self.calls: list[torch.Tensor] = []

    def forward(self, obs, taus):
        self.calls.append(taus.detach().clone())  # [B, T]
        risky = RISKY_OFFSET + RISKY_SLOPE * taus  # [B, T]
        safe = torch.full_like(taus, SAFE_VALUE)  # [B, T]
        return torch.stack([risky, safe], dim=2)  # [B, T, A=2]

    def taus_of_width(self, width):
        return [taus for taus in self.calls if taus.shape[1] == width]


def stub_batch() -> TorchBatch:
    return TorchBatch(obs=torch.zeros(BATCH, 1), actions=torch.zeros(BATCH, dtype=torch.int64),
                      rewards=torch.tensor([0.0, 1.0, -2.0]), discounts=torch.tensor([0.9, 0.5, 0.0]),
                      next_obs=torch.zeros(BATCH, 1))


def run_loss(monkeypatch, backup="max", double_q=True, **kwargs):
    """One loss call on fresh stubs; returns the loss, metrics, the target y [B, M] and the stubs."""
    captured = {}
    original = losses.distributional_target

    def capture(*args, **kw):
        captured["y"] = original(*args, **kw)  # [B, M]
        return captured["y"]

    monkeypatch.setattr(losses, "distributional_target", capture)
    online, target = TwoActionStub(), TwoActionStub()
    loss_piece = IQNLoss(N, M, K, 1.0, double_q, backup, None, seed=0, **kwargs)
    loss, metrics = loss_piece(online, target, stub_batch(), 0.5)
    return loss, metrics, captured["y"], online, target


@pytest.mark.parametrize("double_q", [True, False])
@pytest.mark.parametrize("risk_measure,eta", [("cvar", 0.1), ("wang", -3.0)])
def test_the_risk_measure_chooses_the_target_action(monkeypatch, double_q, risk_measure, eta):
    batch = stub_batch()
    rewards, discounts = batch.rewards.unsqueeze(1), batch.discounts.unsqueeze(1)  # [B, 1]

    _, _, y_risk, online, target = run_loss(monkeypatch, double_q=double_q, risk_measure=risk_measure,
                                            risk_eta=eta, risk_in_target=True)
    # a* = 1 (the safe action) for every target sample
    assert torch.equal(y_risk, (rewards + discounts * SAFE_VALUE).expand(BATCH, M))  # [B, M]
    selector = online if double_q else target
    if risk_measure == "cvar":  # the selector saw the acting distortion: CVaR taus lie in [0, eta]
        assert all(float(taus.max()) <= eta for taus in selector.taus_of_width(K))

    _, _, y_neutral, online, target = run_loss(monkeypatch, double_q=double_q, risk_measure=risk_measure,
                                               risk_eta=eta, risk_in_target=False)
    # today's behaviour kept: a* = 0 (the risky action, better in the mean), at the target net's taus
    (target_taus,) = target.taus_of_width(M)  # [B, M]
    assert torch.allclose(y_neutral, rewards + discounts * (RISKY_OFFSET + RISKY_SLOPE * target_taus))
    assert not torch.allclose(y_neutral, y_risk)
    selector = online if double_q else target
    assert any(float(taus.max()) > 0.1 for taus in selector.taus_of_width(K))  # undistorted U(0, 1) taus


@pytest.mark.parametrize("backup", ["max", "soft"])
def test_neutral_risk_gives_the_same_loss_with_and_without_risk_in_target(monkeypatch, backup):
    loss_on, metrics_on, y_on, _, _ = run_loss(monkeypatch, backup, risk_measure="neutral", risk_in_target=True)
    loss_off, metrics_off, y_off, _, _ = run_loss(monkeypatch, backup, risk_measure="neutral",
                                                  risk_in_target=False)
    assert torch.equal(y_on, y_off)
    assert torch.equal(loss_on, loss_off)
    assert all(torch.equal(metrics_on[key], metrics_off[key]) for key in metrics_on)


def test_defaults_are_risk_neutral_with_risk_in_target():
    loss_piece = IQNLoss(N, M, K, 1.0, True, "max", None, seed=0)
    assert (loss_piece.risk_measure, loss_piece.risk_eta, loss_piece.risk_in_target) == ("neutral", 1.0, True)


def test_an_unknown_risk_measure_fails_at_construction():
    with pytest.raises(ValueError, match="risk_measure"):
        IQNLoss(N, M, K, 1.0, True, "max", None, seed=0, risk_measure="cvarr")
