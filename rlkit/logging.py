"""Where metrics go: a JSONL file in the run dir, a live console line, W&B, and (optionally) TensorBoard.

Every row carries ``env_step`` (agent steps summed over envs) and, for Atari, ``atari_frames``.
Training-episode returns are ``train/*`` keys; evaluation returns ``eval/*`` keys.
W&B never blocks or fails a run: ``auto`` is online only when logged in, an online start that
fails or outlasts ``logger.wandb_init_timeout_s`` falls back to offline (a record to `wandb sync`
later), and an offline failure to no W&B at all (with a warning).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from rlkit import checkpoint

METRICS_FILE = "metrics.jsonl"
# the final evaluation against the random policy's episodes (random_baseline_episodes > 0; rlkit/launch.py)
RANDOM_BASELINE_FILE = "random_baseline.json"
# how the run was composed and named: Hydra's config-group choices (the report names a group a run
# left at its default by them) and the W&B name and group, which its resumes keep (rlkit/launch.py)
LAUNCH_FILE = "launch.yaml"


def read_metrics(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut by a kill: the rows before it stand
                    break
    return rows


class MetricsFile:
    """Append-only JSONL; on resume, rows past the checkpoint's env step are dropped first."""

    def __init__(self, path: Path, resume_env_step: int | None = None) -> None:
        self.path = path
        if resume_env_step is not None and path.exists():
            kept = [row for row in read_metrics(path) if row.get("env_step", 0) <= resume_env_step]
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "w") as handle:
                for row in kept:
                    handle.write(json.dumps(row) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        self._handle = open(path, "a")
        self._good_size = self._handle.tell()  # the file ends after a whole row here

    def write(self, row: dict[str, Any]) -> None:
        """Append one row; on a full disk the partial row is cut off again and DiskFullError raised."""
        line = json.dumps(row, allow_nan=True) + "\n"
        try:
            self._handle.write(line)
            self._handle.flush()
        except OSError as err:
            if not checkpoint.is_disk_full(err):
                raise
            self._handle = self._reopen_at_good_size()
            raise checkpoint.DiskFullError(self.path, len(line.encode()), checkpoint.free_bytes(self.path)) from None
        self._good_size = self._handle.tell()

    def _reopen_at_good_size(self):
        try:
            self._handle.close()  # its buffer cannot be flushed: dropped
        except OSError:
            pass
        os.truncate(self.path, self._good_size)
        return open(self.path, "a")

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError:  # a full disk: the rows written whole stand
            pass


def wandb_logged_in() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return "api.wandb.ai" in netrc.read_text()
    except OSError:
        return False


def resolve_wandb_mode(mode: str) -> str:
    if mode != "auto":
        return mode
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode in ("online", "offline", "disabled"):
        return env_mode
    return "online" if wandb_logged_in() else "offline"


def _one_line(err: BaseException, limit: int = 200) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _drop_failed_wandb_start() -> None:
    """Shut down the W&B service process after a failed ``wandb.init``.

    A failed init leaves its run id registered in the service (wandb-core), so the next init with
    the same id fails with "run ID ... is in use". Tearing the service down clears it; the next
    init starts a fresh one. (Sending the service a finish for the id instead hangs that next init.)
    """
    import wandb

    try:
        wandb.teardown()
    except (Exception, SystemExit) as err:  # teardown exits when the service exited non-zero
        warnings.warn(f"W&B teardown after a failed start failed ({_one_line(err)})")


class WandbSink:
    """One W&B run per rlkit run; finished on close so sweeps never share a run.

    An online start that fails or outlasts ``init_timeout_s`` (no network, server down) falls back to
    an offline run with the same id under ``<run dir>/wandb/offline-run-*``, for ``wandb sync`` later.
    """

    def __init__(self, mode: str, *, project: str, entity: str | None, group: str | None, name: str,
                 job_type: str, tags: list[str], config: dict, run_dir: Path, run_id: str,
                 init_timeout_s: float) -> None:
        self.run = None
        self.mode = resolve_wandb_mode(mode)
        if self.mode == "disabled":
            return
        try:
            import wandb
        except ImportError:
            warnings.warn("wandb is not installed: logging to the metrics file only")
            self.mode = "disabled"
            return
        tries = [self.mode] + (["offline"] if self.mode == "online" else [])
        online_error = None
        for attempt in tries:
            try:
                self.run = wandb.init(
                    mode=attempt, project=project, entity=entity, group=group, name=name, job_type=job_type,
                    tags=tags, config=config, dir=str(run_dir), id=run_id,
                    resume="allow" if attempt == "online" else None, reinit="finish_previous",
                    settings=wandb.Settings(init_timeout=float(init_timeout_s), silent=True),
                )
                self.mode = attempt
                break
            except Exception as err:  # unreachable server, bad key: never fail the run
                if attempt == "online":
                    online_error = err
                    _drop_failed_wandb_start()
                else:
                    warnings.warn(f"W&B {attempt} start failed ({_one_line(err)}); continuing without it"
                                  + (f" (the online start failed first: {_one_line(online_error)})"
                                     if online_error is not None else ""))
        if self.run is None:
            self.mode = "disabled"
            return
        if online_error is not None:
            print(f"W&B fell back to offline (online start failed: {_one_line(online_error)});"
                  f" upload later with: wandb sync {run_dir / 'wandb'}/offline-run-*", flush=True)
        self.run.define_metric("env_step")
        self.run.define_metric("*", step_metric="env_step")

    def log(self, row: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.log(row)

    def log_video(self, env_step: int, key: str, path: Path) -> None:
        """An MP4 as W&B media under ``key`` at ``env_step`` (nothing when W&B is off)."""
        if self.run is None:
            return
        import wandb

        self.run.log({"env_step": env_step, key: wandb.Video(str(path), format="mp4")})

    def close(self, exit_code: int = 0) -> None:
        if self.run is not None:
            self.run.finish(exit_code=exit_code)
            self.run = None


TENSORBOARD_DIR = "tensorboard"


def check_tensorboard() -> None:
    """Refuse ``logger.tensorboard=true`` where the tensorboard package is missing, naming the extra."""
    import importlib.util

    from rlkit.config import ConfigValueError

    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigValueError("logger.tensorboard", True, "true only with the tensorboard package installed:"
                               ' pip install -e ".[tensorboard]" (rlkit\'s extra), or pip install tensorboard')


class TensorBoardSink:
    """``logger.tensorboard=true``: every numeric value of every row as a scalar against
    ``env_step`` (the x-axis), in ``<run dir>/tensorboard/``; the same keys as metrics.jsonl.
    On resume, events past the checkpoint's env step are purged (as metrics.jsonl drops its rows).
    View with ``tensorboard --logdir <run dir>/tensorboard``."""

    def __init__(self, run_dir: Path, resume_env_step: int | None = None) -> None:
        check_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(run_dir) / TENSORBOARD_DIR
        purge = None if resume_env_step is None else resume_env_step + 1
        self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=purge)

    def log(self, row: dict[str, Any]) -> None:
        env_step = int(row["env_step"])
        for key, value in row.items():
            if key == "env_step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self.writer.add_scalar(key, value, global_step=env_step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
