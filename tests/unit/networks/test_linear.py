"""WideLinear: nn.Linear's numbers and gradients from oneDNN's kernel, where it applies; nn.Linear's
own forward elsewhere; the process-wide selection and the width rule the torsos build with."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rlkit.build import configure_host
from rlkit.config import ConfigValueError, HardwareConfig
from rlkit.networks import linear as linear_module
from rlkit.networks.linear import (WIDE_MIN_FEATURES, OneDNNLinearFunction, WideLinear, cpu_linear_selected, linear,
                                   select_cpu_linear)
from rlkit.networks.mlp import MLPConfig, build_mlp
from rlkit.networks.nature_cnn import NatureCNNConfig, build_nature_cnn

needs_onednn = pytest.mark.skipif(not linear_module.onednn_linear_available(),
                                  reason="oneDNN's inner product needs an x86-64 CPU and a torch with oneDNN")


@pytest.fixture
def kernel():
    """Select a kernel for the test; the process's selection is restored after it."""
    before = cpu_linear_selected()
    yield lambda setting: select_cpu_linear(setting)
    select_cpu_linear(before)


def onednn_calls(monkeypatch) -> list[tuple[int, ...]]:
    """Record the x shape of every oneDNN inner product from here on."""
    calls, inner = [], linear_module._inner_product

    def recording(x, weight, bias):
        calls.append(tuple(x.shape))
        return inner(x, weight, bias)
    monkeypatch.setattr(linear_module, "_inner_product", recording)
    return calls


def gradients(layer: nn.Linear, x: torch.Tensor, forward) -> tuple[torch.Tensor, ...]:
    """(y, dL/dx, dL/dW, dL/db) for L = sum(y * fixed random weights)."""
    x = x.detach().requires_grad_(True)
    layer.zero_grad(set_to_none=True)
    y = forward(x)
    y.backward(torch.linspace(-1.0, 1.0, y.numel()).reshape(y.shape))
    return y.detach(), x.grad, layer.weight.grad, layer.bias.grad


@needs_onednn
@pytest.mark.parametrize("shape", [(64, 576), (3, 5, 576), (1, 576)])
def test_forward_and_gradients_equal_nn_linear_to_float32_rounding(kernel, monkeypatch, shape):
    kernel("onednn")
    torch.manual_seed(0)
    layer = WideLinear(576, 300)
    x = torch.randn(shape)
    calls = onednn_calls(monkeypatch)
    ours = gradients(layer, x, layer)
    rows = int(np.prod(shape[:-1]))
    # forward, grad_x and grad_W in oneDNN (grad_W multiplies grad_y^T [out, N] by x^T [in, N])
    assert calls == [(rows, 576), (rows, 300), (300, rows)]
    reference = gradients(layer, x, lambda v: F.linear(v, layer.weight, layer.bias))
    assert ours[0].shape == (*shape[:-1], 300)
    for got, want in zip(ours, reference):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@needs_onednn
def test_only_the_gradients_asked_for_are_computed(kernel, monkeypatch):
    kernel("onednn")
    layer = WideLinear(256, 256)
    calls = onednn_calls(monkeypatch)
    layer(torch.randn(8, 256)).sum().backward()  # an input without grad: no grad_x product
    assert calls == [(8, 256), (256, 8)]
    layer.requires_grad_(False)
    x = torch.randn(8, 256, requires_grad=True)
    calls.clear()
    layer(x).sum().backward()  # frozen weights (a target network): grad_x only
    assert calls == [(8, 256), (8, 256)] and layer.weight.grad is not None  # (the earlier grad, untouched)
    torch.testing.assert_close(x.grad, layer.weight.sum(0).expand(8, -1), rtol=1e-5, atol=1e-5)


@needs_onednn
def test_the_kernel_follows_in_place_weight_updates(kernel):
    """Adam and load_state_dict write the weights in place: no stale copy of them may be used."""
    kernel("onednn")
    layer = WideLinear(256, 256)
    x = torch.randn(4, 256)
    with torch.no_grad():
        before = layer(x)
        layer.weight.mul_(-2.0)
        layer.bias.add_(1.0)
        after = layer(x)
    assert not torch.allclose(after, before, atol=1e-2)
    torch.testing.assert_close(after, F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)


@needs_onednn
def test_one_training_trajectory_with_either_kernel_stays_within_float32_rounding(kernel):
    """20 Adam steps of a 2-layer regression from the same start: the kernels differ only by rounding."""
    results = {}
    for setting in ("torch", "onednn"):
        kernel(setting)
        torch.manual_seed(0)
        net = nn.Sequential(linear(300, 400), nn.ReLU(), linear(400, 300))
        x, y = torch.randn(64, 300), torch.randn(64, 300)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(20):
            loss = F.mse_loss(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        results[setting] = (loss.item(), [p.detach().clone() for p in net.parameters()])
    assert results["onednn"][0] == pytest.approx(results["torch"][0], rel=1e-4)
    for ours, theirs in zip(results["onednn"][1], results["torch"][1]):
        torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-4)


def test_torch_setting_and_other_dtypes_take_nn_linear_forward(kernel, monkeypatch):
    calls = onednn_calls(monkeypatch)
    layer = WideLinear(256, 256)
    kernel("torch")
    layer(torch.randn(2, 256))
    if linear_module.onednn_linear_available():
        kernel("onednn")
    layer.double()(torch.randn(2, 256, dtype=torch.float64))  # oneDNN's path is float32 only
    layer.float()(torch.randn(0, 256))  # an empty batch
    assert calls == []


@needs_onednn
def test_inside_torch_compile_the_layer_is_nn_linear_for_inductor(kernel, monkeypatch):
    kernel("onednn")
    calls = onednn_calls(monkeypatch)
    layer = WideLinear(256, 256)
    x = torch.randn(4, 256)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)  # what dynamo's trace sees
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
    assert calls == []


def test_the_torsos_build_wide_layers_as_wide_linear_and_narrow_ones_as_nn_linear():
    assert type(linear(WIDE_MIN_FEATURES, WIDE_MIN_FEATURES)) is WideLinear
    assert type(linear(WIDE_MIN_FEATURES - 1, 4096)) is nn.Linear
    assert type(linear(4096, WIDE_MIN_FEATURES - 1)) is nn.Linear
    ram = build_mlp(MLPConfig(hidden_sizes=[576, 576]), (128,), np.uint8)
    assert [type(m) for m in [*ram.encoder, *ram.body] if isinstance(m, nn.Linear)] == [nn.Linear, WideLinear]
    cnn = build_nature_cnn(NatureCNNConfig(), (4, 84, 84), np.uint8)
    assert [type(m) for m in cnn.body if isinstance(m, nn.Linear)] == [WideLinear]
    torch.manual_seed(3)
    wide = linear(300, 300)
    torch.manual_seed(3)
    plain = nn.Linear(300, 300)
    assert wide.state_dict().keys() == plain.state_dict().keys()  # checkpoints load either way
    torch.testing.assert_close(wide.weight, plain.weight)  # nn.Linear's initialization, same seed same weights


def test_selection_auto_onednn_torch_and_its_start_line(kernel, monkeypatch, capsys):
    before = torch.get_num_threads()
    configure_host(HardwareConfig(torch_threads="1", reuse_freed_memory=False, cpu_linear="torch"))
    assert cpu_linear_selected() == "torch"
    assert "wide linear layers: torch (set)" in capsys.readouterr().out.splitlines()
    monkeypatch.setattr(linear_module, "onednn_linear_available", lambda: False)
    assert kernel("auto") == ("torch", "auto: oneDNN's inner product is unavailable here")
    with pytest.raises(ConfigValueError, match=r"hardware.cpu_linear='onednn'.*auto or torch: oneDNN"):
        configure_host(HardwareConfig(torch_threads="1", cpu_linear="onednn"))
    assert cpu_linear_selected() == "torch"  # the refused setting changed nothing
    monkeypatch.setattr(linear_module, "onednn_linear_available", lambda: True)
    monkeypatch.setattr(linear_module, "cpu_vendor", lambda: "AuthenticAMD")
    amd = "auto: a non-Intel x86-64 CPU (AuthenticAMD); oneDNN outran MKL's sgemm on an AMD EPYC"
    assert kernel("auto") == ("onednn", amd) and cpu_linear_selected() == "onednn"
    configure_host(HardwareConfig(torch_threads="1", device="cpu", cpu_linear="auto"))
    assert f"wide linear layers: onednn ({amd})" in capsys.readouterr().out
    monkeypatch.setattr(linear_module, "cpu_vendor", lambda: "GenuineIntel")
    assert kernel("auto") == ("torch", "auto: an Intel CPU, which MKL's sgemm is tuned for")
    assert cpu_linear_selected() == "torch"
    assert kernel("onednn") == ("onednn", "set") and cpu_linear_selected() == "onednn"  # still selectable on Intel
    monkeypatch.setattr(linear_module, "cpu_vendor", lambda: None)
    assert kernel("auto") == ("torch", "auto: the CPU's vendor is unknown") and cpu_linear_selected() == "torch"
    torch.set_num_threads(before)


def test_cpu_vendor_from_cpuinfo_or_the_platform(monkeypatch, tmp_path):
    import builtins
    real_open = builtins.open
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel name\t: AMD EPYC 9B45\n")
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path, *a, **k))
    assert linear_module.cpu_vendor() == "AuthenticAMD"
    assert linear_module.cpuinfo_field("model name") == "AMD EPYC 9B45"
    assert linear_module.cpuinfo_field("flags") is None

    def no_cpuinfo(path, *args, **kwargs):
        if path == "/proc/cpuinfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    assert linear_module.cpuinfo_field("vendor_id") is None
    monkeypatch.setattr(linear_module.platform, "processor", lambda: "Intel64 Family 6 Model 85 Stepping 7, GenuineIntel")
    assert linear_module.cpu_vendor() == "GenuineIntel"
    monkeypatch.setattr(linear_module.platform, "processor", lambda: "i386")  # macOS: no vendor
    assert linear_module.cpu_vendor() is None


def test_bad_setting_is_refused_naming_the_key():
    with pytest.raises(ConfigValueError, match=r"cpu_linear='blas' is not allowed: one of auto, onednn, torch"):
        HardwareConfig(cpu_linear="blas")
    with pytest.raises(ConfigValueError, match=r"cpu_linear='onednn' is not allowed: auto with device=cuda"):
        HardwareConfig(device="cuda", cpu_linear="onednn")
    assert HardwareConfig(device="cuda").cpu_linear == "auto"


@needs_onednn
def test_the_function_without_a_bias_matches_f_linear():
    x = torch.randn(16, 256, requires_grad=True)
    weight = torch.randn(300, 256, requires_grad=True)
    y = OneDNNLinearFunction.apply(x, weight, None)
    y.sum().backward()
    torch.testing.assert_close(y, F.linear(x, weight), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(weight.grad, x.detach().sum(0).expand(300, -1), rtol=1e-5, atol=1e-4)
