"""Network forwards in numpy on a CPU network's own parameter memory, for acting.

An agent acts on one small batch per env step. For narrow layers torch's per-op dispatch costs
several times the arithmetic, numpy's a fraction of it. The arrays are views of the parameters
(no copies), so they follow every in-place change of them (Adam's step, ``load_state_dict``).
The math is the same, in float32; the results agree with the torch forward to float32 rounding,
not bit for bit (a different matrix-multiply kernel).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

HostLinear = tuple[np.ndarray, np.ndarray]  # (weight.T [in, out], bias [out]): views of a Linear's parameters


def host_view(param: torch.Tensor) -> np.ndarray:
    """A numpy view of a CPU parameter's memory (no copy)."""
    if param.device.type != "cpu":
        raise ValueError(f"a host forward needs the network on the CPU, not {param.device}")
    return param.detach().numpy()


def host_linear(layer: nn.Linear) -> HostLinear:
    if layer.bias is None:
        raise ValueError("host_linear needs a Linear with a bias")
    return host_view(layer.weight).T, host_view(layer.bias)


def host_mlp(layers: list[HostLinear], x: np.ndarray, activation: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """x [B, in] float32 -> [B, out]: every layer followed by ``activation`` (which may work in place)."""
    for weight_t, bias in layers:
        x = activation(x @ weight_t + bias)
    return x


def relu_(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


def tanh_(x: np.ndarray) -> np.ndarray:
    return np.tanh(x, out=x)
