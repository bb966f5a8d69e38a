"""The report's run composes exactly: algo=dqn env=boxing schedule=report hardware=cuda_amp."""

from pathlib import Path

import pytest
import yaml

from rlkit.checkpoint import CHECKPOINT_DIR
from rlkit.config import to_run_config
from tests.conftest import compose_config

REPORT = yaml.safe_load((Path(__file__).parent / "report_config.yaml").read_text())

# report key -> (rlkit key, how the value converts). Units: the report's steps are env steps summed
# over its 16 envs, as are rlkit's *_env_steps; its updates_per_step is "aggregate", as is
# schedule.updates_per_env_step.
KEY_MAP = {
    "env.name": ("env.game", lambda v: {"ALE/Boxing-v5": "boxing"}[v]),
    "env.frameskip": ("env.frame_skip", None),
    "env.repeat_action_probability": ("env.repeat_action_probability", None),
    "env.frame_stack": ("env.frame_stack", None),
    "network.conv_channels": ("network.conv_channels", None),
    "network.fc_hidden": ("network.fc_hidden", None),
    "training.total_steps": ("schedule.total_env_steps", None),
    "training.gamma": ("algo.gamma", None),
    "training.alpha_start": ("schedule.temperature_start", None),
    "training.alpha_final": ("schedule.temperature_final", None),
    "training.alpha_decay_steps": ("schedule.temperature_decay_env_steps", None),
    "training.lr": ("schedule.lr", None),
    "training.lr_final": ("schedule.lr_final", None),
    "training.lr_decay_steps": ("schedule.lr_decay_env_steps", None),
    "training.batch_size": ("schedule.batch_size", None),
    "training.buffer_size": ("schedule.replay_capacity_transitions", None),
    "training.warmup_steps": ("schedule.warmup_env_steps", None),
    "training.target_update_freq": ("schedule.target_update_period_env_steps", None),
    "training.target_update_mode": ("algo.target_update", None),
    "training.tau": ("algo.polyak_tau", None),
    "training.grad_clip": ("algo.grad_clip_norm", None),
    "training.updates_per_step": ("schedule.updates_per_env_step", None),
    "training.use_amp": ("hardware.amp", None),
    "training.reward_clip": ("env.reward_clip", None),
    "training.target_clip": ("algo.target_clip", None),
    "logging.log_interval": ("schedule.log_interval_env_steps", None),
    "logging.save_interval": ("schedule.save_interval_env_steps", None),
    "parallel.num_envs": ("hardware.num_envs", None),
    "parallel.seed": ("seed", None),
}
# Keys with no rlkit counterpart, and why.
DEAD_KEYS = {
    "training.alpha": "duplicate of alpha_start (the schedule's start value)",
    "parallel.async": "a hint the report's code ignored; env backend is hardware.env_backend",
    "parallel.enable_cpu_monitor": "reserved flag; rlkit always logs system/cpu_percent and system/rss_gb",
    "logging.log_dir": "fixed run-dir layout: metrics.jsonl in the run dir",
    "logging.save_dir": f"fixed run-dir layout: {CHECKPOINT_DIR}/ in the run dir",
}


def _flatten(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flatten(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], node


def test_every_report_key_is_mapped_or_listed_dead():
    keys = {k for k, _ in _flatten(REPORT)}
    assert keys == set(KEY_MAP) | set(DEAD_KEYS)
    assert DEAD_KEYS["logging.save_dir"].endswith("checkpoints/ in the run dir")


def test_the_original_report_yaml_does_not_parse():
    original = Path(__file__).resolve().parents[3] / "shared" / "seed-report.md"
    if not original.exists():
        pytest.skip("shared/seed-report.md is not beside this checkout")
    text = original.read_text()
    block = text.split("```yaml", 1)[1].split("```", 1)[0]
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(block)


def test_report_run_holds_every_report_value():
    cfg = compose_config(["algo=dqn", "env=boxing", "schedule=report", "hardware=cuda_amp"])
    to_run_config(cfg)  # passes every range check
    for report_key, value in _flatten(REPORT):
        if report_key in DEAD_KEYS:
            continue
        rlkit_key, convert = KEY_MAP[report_key]
        want = convert(value) if convert else value
        node = cfg
        for part in rlkit_key.split("."):
            node = node[part]
        got = list(node) if hasattr(node, "__iter__") and not isinstance(node, str) else node
        assert got == want, f"{report_key} -> {rlkit_key}: {got!r} != {want!r}"
