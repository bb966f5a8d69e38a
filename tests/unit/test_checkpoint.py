"""Checkpoint files: atomic writes, the newest K kept with one replay snapshot, and safe loading
(a pickle payload in a checkpoint or a replay snapshot is refused and never runs)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from rlkit import checkpoint
from rlkit.checkpoint import CheckpointError


class Payload:
    """Unpickling this runs ``touch marker``: what an attacker's checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _state(step):
    return {"counters": {"env_step": step}, "weights": torch.full((3,), float(step))}


def test_keeps_the_newest_k_checkpoints_and_one_replay_snapshot(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "replay_000000000050.npz.tmp").write_bytes(b"cut by a kill")
    for step in (100, 200, 300, 400, 500):
        checkpoint.save_checkpoint(tmp_path, step, _state(step), {"frames": np.full(4, step, np.int64)}, keep=3)
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [300, 400, 500]
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("replay_*")) == ["replay_000000000500.npz"]
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))
    state = checkpoint.load_checkpoint(checkpoint.list_checkpoints(tmp_path)[-1][1])
    assert state["counters"]["env_step"] == 500 and state["has_replay"]
    assert torch.equal(state["weights"], torch.full((3,), 500.0))
    assert checkpoint.load_replay(tmp_path, 500)["frames"].tolist() == [500] * 4


def test_a_write_that_fails_midway_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "file.bin"
    checkpoint.atomic_write(path, lambda f: f.write(b"good"))

    def crash(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        checkpoint.atomic_write(path, crash)
    assert path.read_bytes() == b"good"


def test_a_checkpoint_carrying_a_pickle_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = checkpoint.checkpoint_path(tmp_path, 100)
    path.parent.mkdir(parents=True)
    torch.save({"counters": {"env_step": 100}, "evil": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="cannot load checkpoint .*: it is cut short, corrupt or not a"):
        checkpoint.load_checkpoint(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the control: an unsafe load does run it
    assert marker.exists()


def test_a_replay_snapshot_carrying_a_pickle_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = checkpoint.replay_path(tmp_path, 100)
    path.parent.mkdir(parents=True)
    np.savez(path, frames=np.array([Payload(marker)], dtype=object))
    with pytest.raises(CheckpointError, match="cannot load replay snapshot"):
        checkpoint.load_replay(tmp_path, 100)
    assert not marker.exists()
