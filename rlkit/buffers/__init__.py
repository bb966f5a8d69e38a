"""Replay (frame-deduplicated ring per sub-env) and rollout storage."""

from rlkit.buffers.frame_replay import FrameReplay, ReplayBatch

__all__ = ["FrameReplay", "ReplayBatch"]
