"""What several algorithms share: the non-finite stop, its batch statistics, and metric sums that
never sync the device between log points."""

from __future__ import annotations

import math

import torch


class NonFiniteError(RuntimeError):
    """A NaN or Inf appeared in a training quantity; carries what and when for the diagnostic."""

    def __init__(self, metric: str, env_step: int, details: dict[str, float]) -> None:
        self.metric, self.env_step, self.details = metric, env_step, details
        super().__init__(f"non-finite {metric} at env step {env_step}")


def tensor_statistics(**tensors: torch.Tensor) -> dict[str, dict[str, float]]:
    """min / max / mean / std and the non-finite count of each tensor, for a non-finite diagnostic."""
    out = {}
    for name, tensor in tensors.items():
        values = tensor.detach().float().cpu()
        finite = values[torch.isfinite(values)]
        out[name] = {"shape": list(values.shape), "nonfinite_count": int(values.numel() - finite.numel()),
                     "min": float(finite.min()) if finite.numel() else math.nan,
                     "max": float(finite.max()) if finite.numel() else math.nan,
                     "mean": float(finite.mean()) if finite.numel() else math.nan,
                     "std": float(finite.std()) if finite.numel() > 1 else 0.0}
    return out


class MetricAccumulator:
    """Sums tensors on the device between log points, so updates never sync to read a metric."""

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self.grad_norms: list[torch.Tensor] = []

    def add(self, metrics: dict[str, torch.Tensor], grad_norm: torch.Tensor) -> None:
        for key, value in metrics.items():
            value = value.detach().float()
            self._sums[key] = self._sums[key] + value if key in self._sums else value
        self.grad_norms.append(grad_norm.detach().float())
        self._count += 1

    def pop(self) -> dict[str, float]:
        if self._count == 0:
            return {}
        out = {key: float(total) / self._count for key, total in self._sums.items()}
        norms = torch.stack(self.grad_norms).cpu()
        out["grad_norm"] = float(norms.mean())  # before clipping
        out["grad_norm_max"] = float(norms.max())
        out["grad_norm_std"] = float(norms.std()) if len(norms) > 1 else 0.0
        self._sums, self._count, self.grad_norms = {}, 0, []
        return out
