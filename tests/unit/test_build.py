import platform
import resource
import subprocess
import sys

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from rlkit.build import configure_host, set_cpu_threads, torch_threads
from rlkit.networks.linear import select_cpu_linear
from rlkit.config import HardwareConfig


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["internal_api"] in ("openblas", "blis")]


def test_cpu_threads_set_torch_and_hold_numpy_blas_to_one_thread():
    """The host forwards multiply in numpy: its BLAS must not start threads that spin against torch's."""
    np.ones((64, 64)) @ np.ones((64, 64))  # numpy's BLAS is loaded (OpenBLAS in numpy's wheels)
    assert _blas_threads()
    before = torch.get_num_threads()
    with threadpool_limits(limits=2, user_api="blas"):  # restores the process's limits afterwards
        assert max(_blas_threads()) == 2
        set_cpu_threads(1)
        assert torch.get_num_threads() == 1
        assert max(_blas_threads()) == 1
    torch.set_num_threads(before)


@pytest.mark.parametrize("setting, sharing, expected", [("3", 1, (3, "set")), ("2", 4, (2, "set"))])
def test_a_set_thread_count_is_taken_as_given(setting, sharing, expected):
    assert torch_threads(setting, sharing) == expected


FAULTS_PER_CYCLE = """
import resource, sys
import torch
from rlkit.build import reuse_freed_memory
if sys.argv[1] == "reuse":
    print(reuse_freed_memory(), file=sys.stderr)
def cycle():  # an update's temporaries: large tensors written, then freed, a small one kept between
    kept = []
    for _ in range(3):
        block = torch.empty((40 << 20) // 4)  # 40 MiB: above the 32 MiB up to which glibc may keep blocks
        block.fill_(1.0)
        kept.append(block.sum())
for _ in range(8):  # the heap settles into the cycle's layout
    cycle()
faults = []  # per cycle; the median, so that a kernel event in one cycle (a page migrated while other
for _ in range(7):  # work shares the machine) does not count as the allocator's
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    cycle()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sorted(faults)[len(faults) // 2])
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_reused_freed_memory_spares_the_page_faults_of_fresh_blocks():
    """glibc returns large blocks to the OS on free, so writing the next ones faults every page in
    again; reuse_freed_memory keeps them for reuse. Each run in its own process (the setting is
    process-wide)."""
    faults = {}
    for mode in ("default", "reuse"):
        proc = subprocess.run([sys.executable, "-c", FAULTS_PER_CYCLE, mode], capture_output=True, text=True,
                              check=True)
        faults[mode] = float(proc.stdout)
    pages = 3 * (40 << 20) // resource.getpagesize()
    assert faults["default"] > 0.5 * pages  # without it: the blocks' pages fault in anew every cycle
    assert faults["reuse"] < 0.1 * faults["default"]  # (0 once the heap has settled)


def test_the_start_lines_say_threads_the_linear_kernel_denormals_and_the_freed_memory_policy(capsys):
    before = torch.get_num_threads()
    configure_host(HardwareConfig(torch_threads="1", reuse_freed_memory=False, cpu_linear="torch",
                                  flush_denormals=False))  # (one thread: the main one, set here)
    assert capsys.readouterr().out.splitlines() == [
        "torch threads: 1 (set)", "wide linear layers: torch (set)",
        "denormal floats: kept (hardware.flush_denormals=false)",
        "freed memory: the allocator's own policy (hardware.reuse_freed_memory=false)"]
    torch.set_num_threads(before)
    select_cpu_linear("auto")  # the process's default again


DENORMALS_IN_A_NEW_PROCESS = """
import sys
import torch
from rlkit.build import denormals_flushed_fraction, set_denormal_flush
torch.set_num_threads(2)
if sys.argv[1] == "pool_first":  # torch's threads start before the setting
    denormals_flushed_fraction()
print(set_denormal_flush(sys.argv[2] == "flush"))
print(denormals_flushed_fraction())
# an Adam moment whose gradient turns zero decays by beta1 each step: flushed, it reaches zero; kept,
# it ends on a denormal that 0.9x rounds back to, and stays there
param = torch.zeros(1, requires_grad=True)
adam = torch.optim.Adam([param], lr=1e-3)
for step in range(1500):
    param.grad = torch.ones(1) if step == 0 else torch.zeros(1)
    adam.step()
print(float(adam.state[param]["exp_avg"]))
"""


def _denormals_in_a_new_process(order: str, setting: str) -> tuple[str, float, float]:
    proc = subprocess.run([sys.executable, "-c", DENORMALS_IN_A_NEW_PROCESS, order, setting], capture_output=True,
                          text=True, check=True)
    line, fraction, moment = proc.stdout.splitlines()
    return line, float(fraction), float(moment)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86's FTZ/DAZ flags")
def test_denormal_flush_reaches_every_torch_thread_when_set_before_they_start():
    smallest_normal = torch.finfo(torch.float32).tiny
    line, fraction, moment = _denormals_in_a_new_process("setting_first", "flush")
    assert (line, fraction, moment) == ("flushed to zero in every torch thread", 1.0, 0.0)
    line, fraction, moment = _denormals_in_a_new_process("setting_first", "keep")
    assert (line, fraction) == ("kept (hardware.flush_denormals=false)", 0.0)
    assert 0.0 < moment < smallest_normal  # stuck on a denormal
    # torch's threads started first: only the main thread's part of the op is flushed, and the line says so
    line, fraction, _ = _denormals_in_a_new_process("pool_first", "flush")
    assert 0.0 < fraction < 1.0
    assert line.startswith("flushed in the main thread, but") and "a new process" in line
