"""What a loop writes: metric rows (file, W&B, console) and checkpoints; it takes stop requests (rlkit.stop)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from rlkit import checkpoint
from rlkit.health import HealthTracker
from rlkit.logging import MetricsFile, TensorBoardSink, WandbSink
from rlkit.progress import ProgressLine
from rlkit.stop import StopRequest


@dataclass
class RunOutputs:
    run_dir: Path
    metrics: MetricsFile
    wandb: WandbSink
    console: ProgressLine
    keep_checkpoints: int
    frames_per_env_step: int
    config: dict[str, Any] = field(default_factory=dict)  # the resolved config, saved in each checkpoint
    process: psutil.Process = field(default_factory=psutil.Process)
    started: float = field(default_factory=time.monotonic)
    last_row: dict[str, Any] = field(default_factory=dict)
    tensorboard: TensorBoardSink | None = None  # logger.tensorboard=true
    _last_log_time: float = field(default_factory=time.monotonic)

    def wall_time_s(self) -> float:
        """Seconds since the run started, summed over its resumes."""
        return round(time.monotonic() - self.started, 3)

    def seconds_since_log(self) -> float:
        now = time.monotonic()
        elapsed, self._last_log_time = now - self._last_log_time, now
        return elapsed

    def log(self, env_step: int, values: dict[str, Any]) -> dict[str, Any]:
        row = {"env_step": env_step, "wall_time_s": self.wall_time_s()}
        if self.frames_per_env_step > 1:
            row["atari_frames"] = env_step * self.frames_per_env_step
        row.update(values)
        self.metrics.write(row)
        self.wandb.log(row)
        if self.tensorboard is not None:
            self.tensorboard.log(row)
        self.last_row.update(row)
        if "eval/return_mean" in values:
            self.last_row["eval_env_step"] = env_step
        return row

    def log_training_row(self, env_step: int, row: dict[str, Any], health: HealthTracker, stop: StopRequest) -> None:
        """Log a periodic training row with the health measures; ask the loop to stop (and say so
        in the metrics) when the verdict is acted on."""
        row.update(health.observe(row))
        self.log(env_step, row)
        if health.should_stop(row, env_step):
            stop.request("health verdict (hopeless)")
            self.log(env_step, {"health/stopped": 1.0})

    def system_metrics(self) -> dict[str, float]:
        return {"system/cpu_percent": self.process.cpu_percent(),
                "system/rss_gb": self.process.memory_info().rss / 2**30}

    def progress(self, env_step: int, force: bool = False) -> None:
        self.console.update(env_step, self.last_row, force=force)

    def save(self, env_step: int, state: dict, replay_state: dict[str, np.ndarray] | None) -> Path:
        return checkpoint.save_checkpoint(self.run_dir, env_step, dict(state, config=self.config), replay_state,
                                          self.keep_checkpoints)

    def save_best(self, state: dict) -> Path:
        return checkpoint.save_best(self.run_dir, dict(state, config=self.config))

    def write_diagnostic(self, name: str, content: dict[str, Any]) -> Path:
        path = self.run_dir / name
        path.write_text(json.dumps(content, indent=2, default=float))
        return path

    def close(self, exit_code: int = 0) -> None:
        self.console.close()
        self.metrics.close()
        self.wandb.close(exit_code)
        if self.tensorboard is not None:
            self.tensorboard.close()
