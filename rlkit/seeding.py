"""One seed per run, split into independent named streams (train envs, eval envs, actor, replay)."""

from __future__ import annotations

import random
import zlib

import numpy as np
import torch


def derive_seed(seed: int, stream: str) -> int:
    """A 31-bit seed for ``stream``, independent across streams and stable across runs."""
    sequence = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(stream.encode()),))
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def seed_everything(seed: int) -> None:
    """Global RNGs (python, numpy legacy, torch CPU and CUDA); components own their own streams."""
    random.seed(seed)
    np.random.seed(derive_seed(seed, "numpy_global"))
    torch.manual_seed(derive_seed(seed, "torch"))


def torch_rng_state() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_torch_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
