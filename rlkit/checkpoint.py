"""Atomic checkpoints: write to a temporary file, fsync, rename; keep the newest K.

Layout in a run dir::

    checkpoints/step_000000500000.pt      torch.save of plain containers and tensors
    checkpoints/replay_000000500000.npz   the replay snapshot of that step (only the newest is kept)
    checkpoints/best.pt                   the checkpoint of the best evaluation so far (no replay)

Checkpoints load with ``torch.load(weights_only=True)`` and replay snapshots with
``np.load(allow_pickle=False)``: a file carrying a pickle payload is refused, never executed.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_DIR = "checkpoints"
_STEP_FILE = re.compile(r"^step_(\d{12})\.pt$")
BEST_FILE = "best.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or unsafe."""


class DiskFullError(OSError):
    """A write hit ENOSPC: names the file, the bytes it needed and the free space; the partial file
    is already removed."""

    def __init__(self, path: Path, needed_bytes: int, free_bytes: int) -> None:
        self.path, self.needed_bytes, self.free_bytes = path, needed_bytes, free_bytes
        super().__init__(errno.ENOSPC, f"no space left on the device of {path}: writing it needed about"
                                       f" {needed_bytes:,} bytes, {free_bytes:,} bytes are free")

    def __str__(self) -> str:
        return self.strerror


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def is_disk_full(err: OSError) -> bool:
    return err.errno in (errno.ENOSPC, errno.EDQUOT)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write_fn, needed_bytes: int | None = None) -> None:
    """Call ``write_fn(file_object)`` on a temporary file next to ``path``, fsync, then rename.

    On a full disk the temporary file is removed and ``DiskFullError`` raised (``needed_bytes``:
    the expected size, for its message; else the bytes written when the disk filled up)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            write_fn(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        if is_disk_full(err):
            raise DiskFullError(path, max(needed_bytes or 0, written), free_bytes(path)) from None
        raise
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def checkpoint_path(run_dir: Path, env_step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"step_{env_step:012d}.pt"


def replay_path(run_dir: Path, env_step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"replay_{env_step:012d}.npz"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(env_step, path) of complete checkpoint files, oldest first."""
    folder = run_dir / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = _STEP_FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found)


def save_checkpoint(run_dir: Path, env_step: int, state: dict[str, Any], replay_state: dict[str, np.ndarray] | None,
                    keep: int) -> Path:
    """Write the replay snapshot (if any) then the checkpoint; prune old files afterwards.

    The checkpoint is renamed into place last, so whenever it exists its replay file does too.
    """
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    if replay_state is not None:
        size = sum(np.asarray(v).nbytes for v in replay_state.values())
        atomic_write(replay_path(run_dir, env_step), lambda f: np.savez(f, **replay_state), needed_bytes=size)
    state = dict(state, has_replay=replay_state is not None)
    path = checkpoint_path(run_dir, env_step)
    atomic_write(path, lambda f: torch.save(state, f))
    for old_step, old_path in list_checkpoints(run_dir)[:-keep]:
        old_path.unlink(missing_ok=True)
    for entry in folder.glob("replay_*.npz"):
        if entry.name != replay_path(run_dir, env_step).name and replay_state is not None:
            entry.unlink(missing_ok=True)
    for entry in folder.glob("*.tmp"):  # left by a process killed mid-write; this one's are all renamed
        entry.unlink(missing_ok=True)
    return path


def best_checkpoint_path(run_dir: Path) -> Path:
    return run_dir / CHECKPOINT_DIR / BEST_FILE


def save_best(run_dir: Path, state: dict[str, Any]) -> Path:
    """The checkpoint of the best evaluation so far, kept apart from the newest K (never pruned)."""
    path = best_checkpoint_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: torch.save(dict(state, has_replay=False), f))
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling refused, truncated file, not a checkpoint
        first = str(err).splitlines()[0] if str(err).strip() else ""
        raise CheckpointError(f"cannot load checkpoint {path}: it is cut short, corrupt or not a checkpoint rlkit"
                              f" writes ({type(err).__name__}: {first})") from None


def load_replay(run_dir: Path, env_step: int) -> dict[str, np.ndarray]:
    path = replay_path(run_dir, env_step)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as err:
        raise CheckpointError(f"cannot load replay snapshot {path}: {type(err).__name__}: {err}") from None
