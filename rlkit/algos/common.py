"""What several algorithms share: the non-finite stop, its batch statistics, metric sums that never
sync the device between log points, and the off-policy replay sized against the memory available."""

from __future__ import annotations

import math
import time

import numpy as np
import psutil
import torch

from rlkit.buffers import FrameReplay
from rlkit.config import ConfigValueError
from rlkit.envs.base import EnvSpec

REPLAY_MEMORY_FRACTION = 0.8  # of the memory available at start
# hardware.replay_device=auto: the frames go to the GPU when they take at most this share of its free
# memory; the rest is left to the networks, the optimizer, the batches' activations and cuDNN's workspaces
REPLAY_GPU_AUTO_FRACTION = 0.5


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


class CompileClock:
    """The seconds a learner spent in the steps that compiled a torch.compile graph, read once.

    A step compiled when dynamo's count of compiled graphs rose during it: the first step, and any
    later one that met a new shape or layout (PPO's minibatch size varies with a rollout's reset
    rows). ``pop`` returns the seconds gathered since it last returned them, or None."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._seconds: float | None = None
        self._graphs, self._started = 0, 0.0  # dynamo's graph count and the clock at the step's start

    @staticmethod
    def _graph_count() -> int:
        import torch._dynamo.utils  # (imported on use: a run without compile never loads dynamo)

        return torch._dynamo.utils.counters["stats"]["unique_graphs"]

    def start(self) -> None:
        if self.enabled:
            self._graphs, self._started = self._graph_count(), time.perf_counter()

    def stop(self) -> None:
        """After the step's backward (a compiled graph's backward compiles on its first call)."""
        if self.enabled and self._graph_count() != self._graphs:
            self._seconds = (self._seconds or 0.0) + time.perf_counter() - self._started

    def pop(self) -> float | None:
        seconds, self._seconds = self._seconds, None
        return seconds


class MetricAccumulator:
    """Sums tensors on the device between log points, so updates never sync to read a metric.

    What it keeps is written in place (the sums, and the grad norms into a buffer that doubles when
    full), so an update leaves no new allocation behind: small tensors kept one per update would sit
    on the heap among the update's large temporaries and keep the allocator from reusing their space,
    and memory would grow until the next log point."""

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self._grad_norms: torch.Tensor | None = None  # [capacity] float32; the first _count are this interval's

    def add(self, metrics: dict[str, torch.Tensor], grad_norm: torch.Tensor) -> None:
        for key, value in metrics.items():
            value = value.detach().float()
            if key in self._sums:
                self._sums[key].add_(value)
            else:
                self._sums[key] = value.clone()
        norms = self._grad_norms
        if norms is None or self._count == len(norms):
            grown = torch.empty(max(64, 2 * self._count), dtype=torch.float32, device=grad_norm.device)
            if norms is not None:
                grown[: self._count].copy_(norms[: self._count])
            self._grad_norms = norms = grown
        norms[self._count].copy_(grad_norm.detach())
        self._count += 1

    def recent_grad_norms(self, count: int = 50) -> list[float]:
        """The last ``count`` grad norms (before clipping) since the last log point, oldest first."""
        if self._grad_norms is None:
            return []
        return self._grad_norms[max(0, self._count - count): self._count].tolist()

    def pop(self) -> dict[str, float]:
        if self._count == 0:
            return {}
        out = {key: float(total) / self._count for key, total in self._sums.items()}
        norms = self._grad_norms[: self._count].cpu()
        out["grad_norm"] = float(norms.mean())  # before clipping
        out["grad_norm_max"] = float(norms.max())
        out["grad_norm_std"] = float(norms.std()) if len(norms) > 1 else 0.0
        self._sums, self._count = {}, 0
        return out


def replay_slots_per_env(spec: EnvSpec, n_step: int) -> int:
    """The fewest slots an env's replay ring can have for ``spec``'s observations."""
    return FrameReplay.min_slots_per_env(max(spec.frame_stack, 1), n_step)


def replay_frames_device(setting: str, device: torch.device, frames_bytes: int,
                         image_frames: bool) -> torch.device | None:
    """Where the replay's frames live for ``hardware.replay_device`` (None: host memory) on a run whose
    networks are on ``device``: cpu, cuda, or auto: the GPU when the run is on one, the frames are
    images (``image_frames``: gathering a batch of image stacks is what costs on the host; a RAM or
    state vector costs little) and they take at most REPLAY_GPU_AUTO_FRACTION of its free memory.
    A GPU placement is printed with the sizes; cuda for frames that cannot fit is refused, naming the key."""
    if setting == "cuda" and device.type != "cuda":
        raise ConfigValueError("hardware.replay_device", setting, f"cpu or auto for a run on {device.type}")
    if setting == "cpu" or device.type != "cuda" or (setting == "auto" and not image_frames):
        return None
    free_bytes, _ = torch.cuda.mem_get_info(device)
    sizes = f"{frames_bytes / 2**30:.2f} GiB of frames, {free_bytes / 2**30:.2f} GiB free on the GPU"
    if setting == "auto" and frames_bytes > REPLAY_GPU_AUTO_FRACTION * free_bytes:
        print(f"replay frames: in host memory (hardware.replay_device=auto: {sizes}; the GPU takes them when"
              f" they need at most {REPLAY_GPU_AUTO_FRACTION:.0%} of its free memory)")
        return None
    if frames_bytes > REPLAY_MEMORY_FRACTION * free_bytes:
        raise ConfigValueError("hardware.replay_device", setting,
                               f"cpu or auto for this replay: {sizes}, more than {REPLAY_MEMORY_FRACTION:.0%} of it")
    print(f"replay frames: on the GPU (hardware.replay_device={setting}: {sizes})")
    return device


def replay_for(capacity: int, num_envs: int, spec: EnvSpec, *, gamma: float, n_step: int,
               frames_device: str = "cpu", device: torch.device = torch.device("cpu")) -> FrameReplay:
    """The replay of an off-policy agent for ``spec``'s observations and actions (discrete: int16
    or int32 indices; continuous: float32 [A]), refused naming schedule.replay_capacity_transitions
    when it would not fit in available memory; prints its size. ``frames_device`` is
    hardware.replay_device for a run on ``device`` (replay_frames_device): with the frames on the
    GPU the host keeps the per-slot bookkeeping; with the frames on the host and ``device`` a GPU,
    each batch reaches it in one copy from reused pinned memory (FrameReplay's batch_device)."""
    slots_per_env = replay_slots_per_env(spec, n_step)
    if capacity // num_envs < slots_per_env:
        raise ConfigValueError("schedule.replay_capacity_transitions", capacity,
                               f">= {slots_per_env * num_envs}: each of the {num_envs} envs' rings needs frame stack"
                               f" ({max(spec.frame_stack, 1)}) + algo.n_step ({n_step}) + 2 slots")
    if spec.is_discrete:
        action_shape, action_dtype = (), np.dtype(np.int16 if spec.n_actions < 32768 else np.int32)
    else:
        action_shape, action_dtype = spec.action_shape, np.dtype(np.float32)
    # frames on the GPU count too: every checkpoint copies them to host memory to save them
    needed = FrameReplay.bytes_required(capacity, num_envs, spec.frame_shape, spec.obs_dtype, action_shape,
                                        action_dtype)
    frames_bytes = (capacity // num_envs) * num_envs * math.prod(spec.frame_shape) * np.dtype(spec.obs_dtype).itemsize
    on_device = replay_frames_device(frames_device, device, frames_bytes, image_frames=len(spec.frame_shape) >= 2)
    available = psutil.virtual_memory().available
    per_transition = needed / capacity
    print(f"replay buffer: {capacity:,} transitions x {per_transition:,.0f} B"
          f" = {needed / 2**30:.2f} GiB (available memory {available / 2**30:.2f} GiB)")
    if needed > REPLAY_MEMORY_FRACTION * available:
        raise ConfigValueError(
            "schedule.replay_capacity_transitions", capacity,
            f"a buffer that fits in {REPLAY_MEMORY_FRACTION:.0%} of available memory: it needs"
            f" {needed / 2**30:.2f} GiB, {available / 2**30:.2f} GiB are available"
            f" (at most {int(REPLAY_MEMORY_FRACTION * available / per_transition):,} transitions)")
    return FrameReplay(capacity, num_envs, spec.frame_shape, spec.obs_dtype, max(spec.frame_stack, 1),
                       action_shape=action_shape, action_dtype=action_dtype, n_step=n_step, gamma=gamma,
                       stacked=spec.frame_stack > 0, frames_device=on_device,
                       batch_device=device if on_device is None and device.type == "cuda" else None)
