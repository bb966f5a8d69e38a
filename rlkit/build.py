"""Typed config -> components, via the registries. Every user-facing refusal here is a
ConfigValueError naming the key, the value and what is allowed, raised before any file is written.
Nothing here names an algorithm or an env family: the registry entries say what they need."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import io
import os
import platform

import torch
from threadpoolctl import ThreadpoolController

from rlkit import seeding
from rlkit.algos import ALGOS
from rlkit.algos.common import replay_slots_per_env
from rlkit.config import ConfigValueError, HardwareConfig, HealthConfig, RootConfig
from rlkit.envs import ENVS, EnvSpec, VecEnv
from rlkit.health import HealthLimits, HealthTracker
from rlkit.networks.linear import select_cpu_linear
from rlkit.registry import Entry
from rlkit.runner import Agent


# hardware options an algorithm must implement to be given them: (key, the values that ask nothing)
OPTIONAL_HARDWARE = (("amp", (False,)), ("overlap_env_steps", (False,)), ("replay_device", ("auto", "cpu")),
                     ("compile", (False,)), ("compile_mode", ("default",)), ("cpu_linear", ("auto",)))


def algo_entry(run: RootConfig) -> Entry:
    """The algorithm's registry entry, refused when the schedule is not the kind it needs, or when
    a hardware option is set that it does not implement (its trait ``hardware`` lists those it does):
    an option an algorithm would silently ignore is refused instead."""
    entry = ALGOS.entry(run.algo.name)
    needed = entry.traits["schedule"]
    if not isinstance(run.schedule, needed):
        raise ConfigValueError("schedule", type(run.schedule).__name__,
                               f"a {needed.__name__} schedule for algo={run.algo.name}")
    supported = tuple(entry.traits.get("hardware", ()))
    for key, unset in OPTIONAL_HARDWARE:
        value = getattr(run.hardware, key)
        if value not in unset and key not in supported:
            implemented = f" (it implements: {', '.join(supported)})" if supported else ""
            raise ConfigValueError(f"hardware.{key}", value, f"{' or '.join(map(str, unset))} for"
                                   f" algo={run.algo.name}: it does not implement it{implemented}")
    return entry


def torch_threads(setting: str, jobs_sharing_cores: int = 1) -> tuple[int, str]:
    """The intra-op thread count for ``hardware.torch_threads`` and how it was chosen."""
    if setting != "auto":
        return int(setting), "set"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // max(1, jobs_sharing_cores))
    shared = f", shared by {jobs_sharing_cores} parallel jobs" if jobs_sharing_cores > 1 else ""
    return threads, f"auto: {cores} cores available to this job{shared}"


def set_cpu_threads(threads: int) -> None:
    """torch's intra-op threads; numpy's BLAS held to one thread. The host forwards
    (rlkit.networks.host) multiply in numpy, and OpenBLAS (numpy's wheels) or BLIS start a thread
    pool of their own that keeps spinning after each product, on the cores that torch's OpenMP
    threads need for the next update: the whole loop then stalls. torch owns the cores. (An MKL
    numpy shares its OpenMP runtime with an MKL torch; limiting it could slow torch, so it is left.)"""
    torch.set_num_threads(threads)
    ThreadpoolController().select(internal_api=["openblas", "blis"]).limit(limits=1)


# a parallel elementwise product whose results are denormal: torch splits an op this long (over its
# grain of 32,768 elements) across its threads, so each thread's flushing shows in its part
DENORMAL_PROBE_ELEMENTS = 1 << 18


def denormals_flushed_fraction() -> float:
    """The fraction of a parallel product's denormal results that came out as zero: 1.0 where every
    torch thread flushes denormals, 0.0 where none does."""
    smallest_normal = torch.finfo(torch.float32).tiny
    product = torch.full((DENORMAL_PROBE_ELEMENTS,), smallest_normal) * 0.25  # [N], each 2.9e-39 or 0
    return float((product == 0).float().mean())


def set_denormal_flush(flush: bool) -> str:
    """Flush denormal floats to zero (FTZ/DAZ) or keep them, process-wide; returns what holds, measured.

    The setting is a CPU register of each thread, and a thread takes its creator's when it starts:
    torch's OpenMP threads start at its first parallel op, from the main thread. So this must run
    before that op; where the pool started earlier (a second job in a reused worker process), the
    measurement shows it and the line says so."""
    if not torch.set_flush_denormal(flush) and flush:
        return "kept (this CPU cannot flush them)"
    fraction = denormals_flushed_fraction()
    if fraction == (1.0 if flush else 0.0):
        return "flushed to zero in every torch thread" if flush else "kept (hardware.flush_denormals=false)"
    return (f"{'flushed' if flush else 'kept'} in the main thread, but {fraction:.0%} of a parallel op's denormal"
            " results were flushed: torch's thread pool started earlier under the other setting (a new process"
            " applies it to every thread)")


# glibc's mallopt parameters (malloc.h) and the values hardware.reuse_freed_memory sets: blocks under
# 256 MiB come from the heap (a batch-1024 pixel update's largest temporary, its float input, is
# 115 MB; replay buffers of GBs stay separate mappings), and the heap returns its free memory to the
# OS only past INT_MAX bytes, so it stays in the process for the next update's tensors
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
HEAP_BLOCK_MAX_BYTES = 256 << 20
HEAP_TRIM_THRESHOLD_BYTES = 2**31 - 1


def reuse_freed_memory() -> str:
    """Make glibc keep the memory a run frees for its next allocations; returns what was done.

    By default glibc maps blocks above a moving threshold (at most 32 MiB) freshly from the OS and
    returns them on free, and trims the heap's free top: an update's batch tensors (MBs each, anew
    every update) then land on fresh pages, and each first touch of a page is a page fault, which a
    virtual machine makes dear. Kept memory is reused instead. The cost: resident memory stays at its
    peak instead of shrinking when tensors are freed."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "the allocator's own policy (reuse_freed_memory needs glibc)"
    libc = ctypes.CDLL("libc.so.6")
    if not (libc.mallopt(M_MMAP_THRESHOLD, HEAP_BLOCK_MAX_BYTES) == 1
            and libc.mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD_BYTES) == 1):
        return "glibc's default policy (mallopt refused the thresholds)"
    return (f"reused (glibc: blocks under {HEAP_BLOCK_MAX_BYTES >> 20} MiB come from the heap, which keeps up to"
            " 2 GiB of freed memory)")


def configure_host(hardware: HardwareConfig, jobs_sharing_cores: int = 1) -> None:
    """The process-wide CPU settings of ``hardware``: torch's threads, the wide linear layers'
    kernel, denormal flushing and the allocator; printed. Runs before any parallel torch op (the
    threads torch starts then take the denormal setting)."""
    try:
        kernel, kernel_how = select_cpu_linear(hardware.cpu_linear)
    except ValueError as error:
        raise ConfigValueError("hardware.cpu_linear", hardware.cpu_linear,
                               f"auto or torch: {error}") from None
    threads, how = torch_threads(hardware.torch_threads, jobs_sharing_cores)
    set_cpu_threads(threads)
    denormals = set_denormal_flush(hardware.flush_denormals)
    print(f"torch threads: {threads} ({how})")
    if hardware.device == "cpu":
        print(f"wide linear layers: {kernel} ({kernel_how})")
    print(f"denormal floats: {denormals}")
    if hardware.reuse_freed_memory:
        print(f"freed memory: {reuse_freed_memory()}")
    else:
        print("freed memory: the allocator's own policy (hardware.reuse_freed_memory=false)")


def select_device(run: RootConfig, jobs_sharing_cores: int = 1) -> torch.device:
    """The run's device, refused before the host is set up (and printed) where this machine lacks it."""
    if run.hardware.device == "cuda" and not torch.cuda.is_available():
        raise ConfigValueError("hardware.device", "cuda", "a device this machine has: torch.cuda.is_available()"
                               " is False here (use hardware=cpu, or install a CUDA build of torch)")
    configure_host(run.hardware, jobs_sharing_cores)
    return torch.device(run.hardware.device)


def build_envs(run: RootConfig, entry: Entry) -> tuple[VecEnv, VecEnv]:
    """The training envs and the evaluation envs; an algorithm for the other action kind is refused."""
    builder = ENVS.get(run.env.name)
    hw = run.hardware
    envs = builder(run.env, num_envs=hw.num_envs, backend=hw.env_backend, env_threads=hw.env_threads)
    spec = envs.spec
    needed, have = entry.traits["actions"], "discrete" if spec.is_discrete else "continuous"
    if needed != have:
        envs.close()
        raise ConfigValueError("algo.name", run.algo.name,
                               f"an algorithm for {have} actions ({spec.env_id} has {have} actions;"
                               f" algo={run.algo.name} needs {needed})")
    eval_envs = builder(run.env.for_evaluation(), num_envs=hw.eval_num_envs, backend=hw.env_backend,
                        env_threads=hw.env_threads)
    return envs, eval_envs


def build_agent(run: RootConfig, entry: Entry, envs: VecEnv, device: torch.device) -> Agent:
    return entry.component(run, envs.spec, device)


def inference_config(run: RootConfig, spec: EnvSpec, device: torch.device) -> RootConfig:
    """``run`` as an agent that only acts (evaluation, ``rlkit.load``) on ``device`` is built from:
    a replay of the fewest transitions its builder accepts instead of the run's GBs (acting stores
    nothing), its frames on the host, AMP only where ``device`` is CUDA, no torch.compile (nothing
    is trained). ``hardware.device`` stays the run's: IQN's unset tau counts take their preset from
    it, so the policy built is the one the run evaluated, on whichever device it now runs."""
    schedule = run.schedule
    if hasattr(schedule, "replay_capacity_transitions"):
        slots = replay_slots_per_env(spec, getattr(run.algo, "n_step", 1))
        capacity = max(schedule.batch_size, run.hardware.num_envs * slots)
        schedule = dataclasses.replace(schedule, replay_capacity_transitions=min(
            capacity, schedule.replay_capacity_transitions))
    hardware = dataclasses.replace(run.hardware, amp=run.hardware.amp and device.type == "cuda", replay_device="cpu",
                                   compile=False, compile_mode="default")
    return dataclasses.replace(run, schedule=schedule, hardware=hardware)


def inference_device(requested: str, run_device: str) -> torch.device:
    """Where an agent acts (rlkit-eval, rlkit.load): ``requested`` (cpu, cuda), or for auto the run's
    own device where this machine has it (its random streams then continue as saved), else the CPU."""
    if requested == "auto":
        requested = "cuda" if run_device == "cuda" and torch.cuda.is_available() else "cpu"
    if requested not in ("cpu", "cuda"):
        raise ConfigValueError("device", requested, "one of auto, cpu, cuda")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigValueError("device", "cuda", "a device this machine has (torch.cuda.is_available() is False)")
    return torch.device(requested)


def build_inference_agent(run: RootConfig, spec: EnvSpec, device: torch.device) -> Agent:
    """The run's agent for acting on ``device`` (``inference_config``), without its weights and
    counters: the caller loads a checkpoint into it."""
    with contextlib.redirect_stdout(io.StringIO()):  # the builders' start-up lines (replay size, taus): no news here
        return ALGOS.get(run.algo.name)(inference_config(run, spec, device), spec, device)


def health_limits(health: HealthConfig, algo_name: str, grad_clip_norm: float | None) -> HealthLimits:
    """The health limits for a run of ``algo_name`` (its registered ``health_judges_over_clip`` trait
    decides the over-clip limit that ``health.max_grad_norm_over_clip: null`` leaves to it)."""
    judge_over_clip = ALGOS.entry(algo_name).traits.get("health_judges_over_clip", True)
    return HealthLimits.from_config(health, grad_clip_norm, judge_over_clip)


def health_tracker(run: RootConfig) -> HealthTracker:
    health = run.health
    limits = health_limits(health, run.algo.name, run.algo.grad_clip_norm)
    return HealthTracker(limits, stop_hopeless=health.stop_hopeless,
                         judge_from_env_step=int(health.judge_after_fraction * run.schedule.total_env_steps))


def random_policy_returns(eval_envs: VecEnv, num_episodes: int, seed: int, should_stop=None):
    """Raw returns of ``num_episodes`` episodes of the uniform random policy, seeded from ``seed``;
    ``should_stop`` as ``rlkit.episodes.run_episodes`` takes it."""
    from rlkit.episodes import run_episodes
    import numpy as np

    rng = np.random.default_rng(seeding.derive_seed(seed, "random_baseline"))
    spec = eval_envs.spec
    if spec.is_discrete:
        act = lambda obs: rng.integers(spec.n_actions, size=len(obs)).astype(np.int64)  # noqa: E731
    else:  # uniform over the action box
        act = lambda obs: rng.uniform(  # noqa: E731
            spec.action_low, spec.action_high, size=(len(obs), *spec.action_shape)).astype(np.float32)
    return run_episodes(eval_envs, act, num_episodes, seeding.derive_seed(seed, "random_baseline_env"), should_stop)
