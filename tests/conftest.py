"""Shared fixtures: composing configs like `python -m rlkit` does, and running jobs in-process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from rlkit.config import register_schemas
from tests.cores import pin_xdist_worker

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "rlkit" / "conf"
os.environ.setdefault("WANDB_MODE", "disabled")
register_schemas()
pin_xdist_worker()


# The longest test files (minutes each), started first: with two xdist workers taking a file at a
# time, the short files then fill in around them and both workers finish together.
LONGEST_FILES_FIRST = ("tests/learning/test_value_based_learning.py", "tests/smoke/test_kill_resume.py",
                       "tests/smoke/test_sweeps.py", "tests/learning/test_ppo_learning.py",
                       "tests/learning/test_sac_learning.py", "tests/smoke/test_bad_input.py")


def pytest_collection_modifyitems(config, items) -> None:
    missing = [path for path in LONGEST_FILES_FIRST if not (REPO / path).exists()]
    assert not missing, f"LONGEST_FILES_FIRST names files that are gone: {missing}"
    rank = {path: i for i, path in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(Path(item.path).relative_to(REPO).as_posix(), len(rank)))  # stable


def compose_config(overrides: list[str]):
    """Compose like the CLI. Hydra stays initialized afterwards, so a resumed job can compose too."""
    GlobalHydra.instance().clear()
    initialize_config_dir(config_dir=str(CONF), version_base="1.3")
    return compose(config_name="config", overrides=overrides)


def run_in_process(overrides: list[str], output_dir: Path):
    """One job in-process, as `python -m rlkit <overrides>` with Hydra's run dir ``output_dir``."""
    from rlkit.launch import JobContext, run_job

    cfg = compose_config(overrides)
    output_dir.mkdir(parents=True, exist_ok=True)
    return run_job(cfg, JobContext(output_dir, list(overrides)))


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def as_trained_on_cuda(run_dir: Path, copy_to: Path) -> Path:
    """A copy of a CPU run whose config.yaml says it trained on CUDA with AMP, its replay's frames on
    the GPU and a loss compiled into CUDA graphs (the checkpoints, written on the CPU, fit it: those
    keys are not structural)."""
    shutil.copytree(run_dir, copy_to)
    config = OmegaConf.load(copy_to / "config.yaml")
    config.hardware.device, config.hardware.amp, config.hardware.replay_device = "cuda", True, "cuda"
    config.hardware.compile, config.hardware.compile_mode = True, "reduce-overhead"
    OmegaConf.save(config, copy_to / "config.yaml")
    return copy_to


def refuse_cuda(monkeypatch) -> None:
    """Initializing CUDA (torch does it at the first CUDA tensor or generator) fails the test, in a
    process that has not initialized it before."""
    def touched(*args, **kwargs):
        raise AssertionError("CUDA was initialized")
    monkeypatch.setattr(torch.cuda, "_lazy_init", touched)


@pytest.fixture
def compose_cfg():
    return compose_config
