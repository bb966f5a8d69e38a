"""Atomic checkpoints: write to a temporary file, fsync, rename; keep the newest K.

Layout in a run dir::

    checkpoints/step_000000500000.pt      torch.save of plain containers and tensors
    checkpoints/replay_000000500000.npz   the replay snapshot of that step (only the newest is kept)

Checkpoints load with ``torch.load(weights_only=True)`` and replay snapshots with
``np.load(allow_pickle=False)``: a file carrying a pickle payload is refused, never executed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_DIR = "checkpoints"
_STEP_FILE = re.compile(r"^step_(\d{12})\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or unsafe."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write_fn) -> None:
    """Call ``write_fn(file_object)`` on a temporary file next to ``path``, fsync, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        write_fn(handle)
        handle.flush()
        os.fsync(handle.fileno())
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
        atomic_write(replay_path(run_dir, env_step), lambda f: np.savez(f, **replay_state))
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


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling refused, truncated file, not a checkpoint
        raise CheckpointError(f"cannot load checkpoint {path}: {type(err).__name__}: {str(err).splitlines()[0]}") from None


def load_replay(run_dir: Path, env_step: int) -> dict[str, np.ndarray]:
    path = replay_path(run_dir, env_step)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as err:
        raise CheckpointError(f"cannot load replay snapshot {path}: {type(err).__name__}: {err}") from None
