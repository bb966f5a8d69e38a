"""A full disk ends a run with one message naming the file, the bytes it needed and the free space,
the partial file removed, the last good checkpoint intact and named, and exit code 5."""

from __future__ import annotations

import errno
import re

import numpy as np
import pytest

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, MetricsFile, read_metrics
from tests.conftest import run_in_process

RUN = ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=1200", "schedule.save_interval_env_steps=400",
       "logger.progress_bar=false"]


def test_a_full_disk_at_a_replay_snapshot_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    saves = {"n": 0}
    original = np.savez

    def savez(handle, **arrays):  # the second snapshot finds the disk full half way
        saves["n"] += 1
        if saves["n"] == 2:
            handle.write(b"x" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(handle, **arrays)
    monkeypatch.setattr(np, "savez", savez)
    run_dir = tmp_path / "run"
    result = run_in_process(RUN, run_dir)
    assert result["exit_code"] == 5
    message = result["error"]
    assert message.startswith("no space left on the device of") and re.search(r"replay_0+8\d\d\.npz", message)
    assert "bytes are free" in message and "needed about" in message
    good = checkpoint.list_checkpoints(run_dir)
    assert [step // 400 for step, _ in good] == [1] and str(good[-1][1]) in message
    checkpoint.load_checkpoint(good[-1][1])  # intact
    assert not list((run_dir / checkpoint.CHECKPOINT_DIR).glob("*.tmp"))  # the partial file is gone
    rows = read_metrics(run_dir / METRICS_FILE)
    assert rows and rows[-1]["env_step"] < 808  # the rows up to the failed snapshot stand


def test_a_full_disk_at_a_metrics_row_cuts_the_partial_row(tmp_path):
    metrics = MetricsFile(tmp_path / METRICS_FILE)
    metrics.write({"env_step": 1})
    handle = metrics._handle
    metrics._handle = type("Full", (), {"write": lambda self, data: (handle.write(data[:5]), handle.flush(),
                                                                      _raise())[0],
                                        "flush": handle.flush, "close": handle.close, "tell": handle.tell})()
    with pytest.raises(checkpoint.DiskFullError, match=str(tmp_path / METRICS_FILE)):
        metrics.write({"env_step": 2, "loss": 0.5})
    metrics.close()
    assert read_metrics(tmp_path / METRICS_FILE) == [{"env_step": 1}]
    assert (tmp_path / METRICS_FILE).read_text() == '{"env_step": 1}\n'


def _raise():
    raise OSError(errno.ENOSPC, "No space left on device")
