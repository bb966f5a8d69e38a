import platform
import resource
import subprocess
import sys

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from rlkit.build import (build_inference_agent, configure_host, inference_config, select_device, set_cpu_threads,
                         torch_threads)
from rlkit.networks.linear import select_cpu_linear
from rlkit.config import HardwareConfig, to_run_config
from rlkit.envs.base import EnvSpec
from tests.conftest import compose_config, refuse_cuda


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


BOXING_PIXELS = EnvSpec("ALE/Boxing-v5 (pixels)", (4, 84, 84), np.dtype(np.uint8), n_actions=18, frame_stack=4,
                        frames_per_env_step=4)


def test_the_report_run_built_for_inference_on_the_cpu_keeps_a_small_host_replay_and_its_policy(monkeypatch):
    # the report's Boxing run (CUDA, AMP, 16 envs, batch 1024, 600k transitions: 4.2 GB of frames), its
    # replay's frames on the GPU and its loss compiled
    run = to_run_config(compose_config(["experiment=boxing_report", "hardware.replay_device=cuda",
                                        "hardware.compile=true"]))
    assert run.schedule.replay_capacity_transitions == 600_000 and run.hardware.amp
    cpu = inference_config(run, BOXING_PIXELS, torch.device("cpu"))
    # 1024 (the batch) >= 16 envs x (4 frames + n_step 1 + 2) slots
    assert cpu.schedule.replay_capacity_transitions == 1024 and cpu.schedule.batch_size == 1024
    assert (cpu.hardware.device, cpu.hardware.amp, cpu.hardware.replay_device, cpu.hardware.compile) == (
        "cuda", False, "cpu", False)  # the device stays the run's: IQN's tau presets follow it
    assert cpu.hardware.num_envs == 16 and cpu.algo == run.algo and cpu.env == run.env
    cuda = inference_config(run, BOXING_PIXELS, torch.device("cuda"))
    assert cuda.hardware.amp and cuda.hardware.replay_device == "cpu" and not cuda.hardware.compile
    assert run.schedule.replay_capacity_transitions == 600_000 and run.hardware.compile  # the run's, unchanged
    refuse_cuda(monkeypatch)
    agent = build_inference_agent(run, BOXING_PIXELS, torch.device("cpu"))
    assert agent.replay.frames_device is None and agent.replay.frames.nbytes == 1024 * 84 * 84  # 7 MB, not 4.2 GB
    assert not agent.learner.amp and not agent.learner.compile_clock.enabled


def test_iqn_built_for_inference_on_the_cpu_acts_with_the_taus_of_the_device_it_ran_on(monkeypatch):
    run = to_run_config(compose_config(["algo=iqn", "env=boxing", "schedule=cpu_small_pixels", "hardware=cuda"]))
    refuse_cuda(monkeypatch)
    agent = build_inference_agent(run, BOXING_PIXELS, torch.device("cpu"))
    assert agent.actor.eval_q_values.keywords["num_taus"] == 32  # the paper's K, as the run evaluated (CPU's: 8)


def test_an_agent_acts_on_the_runs_own_device_where_this_machine_has_it(monkeypatch):
    import pytest
    import torch

    from rlkit.build import inference_device
    from rlkit.config import ConfigValueError

    assert inference_device("auto", "cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert inference_device("auto", "cuda") == torch.device("cpu")  # a CUDA run on a CPU machine
    with pytest.raises(ConfigValueError, match="device='cuda' is not allowed"):
        inference_device("cuda", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert inference_device("auto", "cuda") == torch.device("cuda")  # replays a CUDA run's streams
    assert inference_device("cpu", "cuda") == torch.device("cpu")
    with pytest.raises(ConfigValueError, match="one of auto, cpu, cuda"):
        inference_device("tpu", "cpu")


def test_cuda_on_a_machine_without_it_is_refused_before_the_host_is_set_up(monkeypatch, capsys):
    """A refusal is the one message a user sees: no host setup lines (threads, kernels) printed before it."""
    from rlkit.config import ConfigValueError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run = to_run_config(compose_config(["hardware=cuda"]))
    with pytest.raises(ConfigValueError, match="hardware.device"):
        select_device(run)
    assert capsys.readouterr().out == ""
