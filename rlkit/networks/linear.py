"""Wide fully connected layers whose CPU float32 matrix products run in oneDNN.

On x86-64, torch's CPU ``nn.Linear`` multiplies with MKL's sgemm. MKL chooses its code by CPU
vendor as well as by instruction set, and on non-Intel CPUs it can run narrower vector code than
the CPU has. oneDNN, which every x86-64 torch build also carries (torch's CPU convolutions run in
it), chooses by the instruction sets the CPU reports.

``WideLinear`` is an ``nn.Linear``: the same parameters, initialization and state_dict. Its
forward and backward on CPU float32 tensors call oneDNN's inner product (the op
``torch.ops.mkldnn._linear_pointwise``, which inductor's CPU backend also lowers linear layers
to) when the process has selected oneDNN (``hardware.cpu_linear``, set by
rlkit.build.configure_host). Everywhere else it is ``nn.Linear``'s forward: on CUDA, for other
dtypes, under CPU autocast, and inside torch.compile, where inductor picks its own kernels.

MKL is tuned for Intel's CPUs, and on an Intel Xeon it ran the torsos' layers faster than oneDNN
(oneDNN's fixed per-call cost), so ``auto`` selects oneDNN only on other vendors' x86-64 CPUs
(AMD's); benchmarks/results/linear_kernels_<vendor>.md has both.

A oneDNN call has a fixed cost that only wide layers amortize. So the torsos build their layers
with ``linear(in, out)``: a WideLinear when both widths are at least ``WIDE_MIN_FEATURES``, an
nn.Linear otherwise (Q heads over a few actions, a RAM torso's 128-byte input layer).
benchmarks/linear_kernels.py times both kernels on the torsos' layer shapes.
"""

from __future__ import annotations

import platform

import torch
import torch.nn.functional as F
from torch import nn

from rlkit.config import CPU_LINEAR_KERNELS

WIDE_MIN_FEATURES = 256


def onednn_linear_available() -> bool:
    """Whether this process can run WideLinear's oneDNN path: an x86-64 CPU and a torch built with
    oneDNN that has the inner-product op (elsewhere torch's own matmul may already be oneDNN's)."""
    return (platform.machine().lower() in ("x86_64", "amd64") and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def cpuinfo_field(key: str) -> str | None:
    """A field of the first CPU in Linux's /proc/cpuinfo ("vendor_id", "model name"), or None."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip() or None
    except OSError:
        pass
    return None


def cpu_vendor() -> str | None:
    """The CPU's vendor string as the CPU reports it (GenuineIntel, AuthenticAMD, ...), or None
    where it cannot be read."""
    vendor = cpuinfo_field("vendor_id")
    if vendor is not None:
        return vendor
    words = platform.processor().split()  # Windows: "Intel64 Family 6 Model 85 Stepping 7, GenuineIntel"
    vendor = words[-1] if words else ""
    return vendor if vendor in ("GenuineIntel", "AuthenticAMD", "HygonGenuine") else None  # (macOS: "i386")


def auto_cpu_linear() -> tuple[str, str]:
    """``auto``'s kernel for this process and why: oneDNN on a non-Intel x86-64 CPU whose torch has
    the op (MKL, tuned for Intel's CPUs, ran slower than oneDNN on an AMD EPYC), torch's kernel
    otherwise."""
    if not onednn_linear_available():
        return "torch", "auto: oneDNN's inner product is unavailable here"
    vendor = cpu_vendor()
    if vendor is None:
        return "torch", "auto: the CPU's vendor is unknown"
    if vendor == "GenuineIntel":
        return "torch", "auto: an Intel CPU, which MKL's sgemm is tuned for"
    return "onednn", f"auto: a non-Intel x86-64 CPU ({vendor}); oneDNN outran MKL's sgemm on an AMD EPYC"


class _Selection:
    """The process's choice for WideLinear on the CPU (like torch's own backend flags: one per process)."""

    onednn: bool = auto_cpu_linear()[0] == "onednn"


def select_cpu_linear(setting: str) -> tuple[str, str]:
    """Select the kernel for ``hardware.cpu_linear`` (auto, onednn or torch) for this process.
    Returns the kernel now in use and how it was chosen. ``onednn`` where it is unavailable raises
    ValueError (the caller names the config key)."""
    if setting not in CPU_LINEAR_KERNELS:
        raise ValueError(f"cpu_linear must be one of {CPU_LINEAR_KERNELS}, not {setting!r}")
    if setting == "onednn" and not onednn_linear_available():
        raise ValueError("oneDNN's inner product is unavailable here (it needs an x86-64 CPU and a torch built"
                         " with oneDNN)")
    kernel, how = auto_cpu_linear() if setting == "auto" else (setting, "set")
    _Selection.onednn = kernel == "onednn"
    return kernel, how


def cpu_linear_selected() -> str:
    return "onednn" if _Selection.onednn else "torch"


def _inner_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x [N, in] @ weight[out, in].T + bias [out] -> [N, out] in oneDNN (strided operands are
    copied to contiguous by the op)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class OneDNNLinearFunction(torch.autograd.Function):
    """y = x W^T + b with every product in oneDNN; x [N, in], W [out, in], b [out] or None."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _inner_product(x, weight, bias)  # [N, out]

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):  # grad_y [N, out]
        x, weight = ctx.saved_tensors
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        grad_x = _inner_product(grad_y, weight.t(), None) if needs_x else None  # [N, in] = grad_y W
        grad_weight = _inner_product(grad_y.t(), x.t(), None) if needs_weight else None  # [out, in] = grad_y^T x
        grad_bias = grad_y.sum(0) if ctx.has_bias and needs_bias else None  # [out]
        return grad_x, grad_weight, grad_bias


class WideLinear(nn.Linear):
    """nn.Linear whose CPU float32 products run in oneDNN when the process selected it (module doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., out]
        if (_Selection.onednn and x.device.type == "cpu" and x.dtype == torch.float32
                and self.weight.dtype == torch.float32 and x.numel() > 0
                and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling()):
            rows = x.reshape(-1, self.in_features)  # [N, in]
            y = OneDNNLinearFunction.apply(rows, self.weight, self.bias)  # [N, out]
            return y.reshape(*x.shape[:-1], self.out_features)
        return F.linear(x, self.weight, self.bias)


def linear(in_features: int, out_features: int) -> nn.Linear:
    """A torso's fully connected layer: WideLinear when both widths reach WIDE_MIN_FEATURES."""
    if min(in_features, out_features) >= WIDE_MIN_FEATURES:
        return WideLinear(in_features, out_features)
    return nn.Linear(in_features, out_features)
