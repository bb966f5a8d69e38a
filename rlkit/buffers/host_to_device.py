"""Groups of small host arrays to a torch device in one copy, through reused pinned buffers.

A replay whose frames live on a GPU sends a few index and bookkeeping arrays there for every
sample and every env step. Pinning each array (``Tensor.pin_memory``: an allocation, a memcpy and
an ``is_pinned`` check) and copying each apart costs more host time than the transfers
themselves. ``HostToDevice`` packs a group into one pinned buffer and sends it in one
asynchronous copy; the arrays come back as views of that one device tensor.

A replay whose frames stay in host memory while the learner runs on a GPU gathers each batch
straight into such a buffer (``stage``), with the batch's small arrays beside it, so the batch's
stacks are written once on the host and sent in the same single copy.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

ALIGN_BYTES = 16  # each array starts at a multiple of this in the packed buffer, so any dtype can view it


@functools.lru_cache(maxsize=None)
def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


class HostToDevice:
    """Sends groups of host arrays to ``device``, each group in one copy.

    To a GPU a group is packed into one of ``num_buffers`` reused pinned host buffers and copied
    without making the host wait for the GPU's queued work. A buffer is written again only after
    its previous copy has finished (a CUDA event per buffer), so the host may run up to
    ``num_buffers`` groups ahead of the GPU before a put waits. To the CPU the group is packed the
    same way and the packed tensor cloned, so the packing runs, and is tested, without a GPU; other
    devices get a plain copy of the packed buffer.
    """

    def __init__(self, device: torch.device | str, num_buffers: int = 4) -> None:
        if num_buffers < 1:
            raise ValueError(f"HostToDevice needs num_buffers >= 1, got {num_buffers}")
        self.device = torch.device(device)
        self.pinned = self.device.type == "cuda"
        self._buffers: list[torch.Tensor | None] = [None] * num_buffers  # uint8 host buffers, grown on demand
        self._copied: list[torch.cuda.Event | None] = [None] * num_buffers  # recorded after each buffer's copy
        self._next = 0
        self._stagings = [0] * num_buffers  # groups staged into each buffer: a group sent late is caught

    def put(self, *arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
        """The arrays (any dtypes and shapes) as tensors on the device, equal to them element for element."""
        arrays = tuple(np.asarray(a) for a in arrays)
        group = self.stage(*((a.shape, a.dtype) for a in arrays))
        for view, array in zip(group.host, arrays):
            view[...] = array
        return group.send()

    def stage(self, *specs: tuple[tuple[int, ...], np.dtype]) -> StagedGroup:
        """Room for a group of arrays of these (shape, dtype) in the next buffer: the caller writes them
        in place (a gather can land there directly, saving a copy into the buffer), then sends the
        group. Send it before staging ``num_buffers`` more groups: those reuse its buffer."""
        specs = tuple((tuple(shape), np.dtype(dtype)) for shape, dtype in specs)
        sizes = [math.prod(shape) * dtype.itemsize for shape, dtype in specs]  # bytes of each array
        offsets, end = [], 0
        for size in sizes:
            offsets.append(end)
            end += -(-size // ALIGN_BYTES) * ALIGN_BYTES
        i = self._next
        self._next = (i + 1) % len(self._buffers)
        if self._copied[i] is not None:
            self._copied[i].synchronize()  # its last copy has left the buffer (at once unless the GPU lags)
        buffer = self._buffers[i]
        if buffer is None or buffer.numel() < end:
            # grown geometrically (the old buffer's last copy has finished: waited for above)
            buffer = torch.empty(max(end, 2 * (0 if buffer is None else buffer.numel())), dtype=torch.uint8,
                                 pin_memory=self.pinned)
            self._buffers[i] = buffer
        host = buffer.numpy()
        views = tuple(host[offset:offset + size].view(dtype).reshape(shape)
                      for (shape, dtype), offset, size in zip(specs, offsets, sizes))
        self._stagings[i] += 1
        return StagedGroup(self, i, self._stagings[i], views, tuple(offsets), end)

    def _send(self, group: StagedGroup) -> tuple[torch.Tensor, ...]:
        if self._stagings[group.buffer_index] != group.staging:
            raise RuntimeError(f"a staged group was sent after {len(self._buffers)} more groups were staged, which"
                               " reused its buffer: send each group before staging the next ones")
        buffer = self._buffers[group.buffer_index]
        if self.pinned:
            packed = buffer[:group.end].to(self.device, non_blocking=True)
            if self._copied[group.buffer_index] is None:
                self._copied[group.buffer_index] = torch.cuda.Event()
            # the stream the copy was queued on
            self._copied[group.buffer_index].record(torch.cuda.current_stream(self.device))
        elif self.device.type == "cpu":
            packed = buffer[:group.end].clone()
        else:
            packed = buffer[:group.end].to(self.device)
        return tuple(packed[offset:offset + view.nbytes].view(_torch_dtype(view.dtype)).view(view.shape)
                     for view, offset in zip(group.host, group.offsets))


@dataclass
class StagedGroup:
    """A group staged by ``HostToDevice.stage``: write ``host`` (numpy views of the host buffer, one
    per array), then ``send()`` once for the tensors on the device."""

    to_device: HostToDevice
    buffer_index: int
    staging: int  # the buffer's staging count when this group was staged
    host: tuple[np.ndarray, ...]
    offsets: tuple[int, ...]
    end: int  # bytes of the buffer the group takes
    sent: bool = False

    def send(self) -> tuple[torch.Tensor, ...]:
        if self.sent:
            raise RuntimeError("this staged group was sent already")
        self.sent = True
        return self.to_device._send(self)
