"""No secret reaches the run dir or the console; a resumed run logs to the same W&B run id."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rlkit import logging as rlkit_logging
from tests.conftest import REPO, run_in_process

SMOKE = ["env=cartpole", "schedule=smoke", "logger.progress_bar=false"]


def test_the_wandb_api_key_is_written_nowhere(tmp_path):
    secret = "rlkit-test-secret-0123456789abcdef0123456789abcdef"
    env = dict(os.environ, WANDB_API_KEY=secret, WANDB_DIR=str(tmp_path / "wandb_home"))
    env.pop("WANDB_MODE", None)
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "rlkit", *SMOKE, "logger.wandb_mode=offline",
                           f"hydra.run.dir={run_dir}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert list((run_dir / "wandb").glob("offline-run-*")), "W&B wrote nothing: the test would prove nothing"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 5
    leaked = [str(p) for p in files if secret.encode() in p.read_bytes()]
    assert not leaked
    assert secret not in proc.stdout + proc.stderr


class FakeRun:
    def __init__(self):
        self.rows = []

    def define_metric(self, *args, **kwargs):
        pass

    def log(self, row):
        self.rows.append(row)

    def finish(self, exit_code=0):
        pass


def test_a_resumed_run_continues_the_same_wandb_run_id_when_online(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    calls = []

    def fake_init(**kwargs):
        calls.append(kwargs)
        return FakeRun()

    monkeypatch.setattr(wandb, "init", fake_init)
    monkeypatch.setattr(rlkit_logging, "wandb_logged_in", lambda: True)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    run_dir = tmp_path / "run"
    first = run_in_process(SMOKE + ["logger.wandb_mode=auto"], run_dir)
    assert first["exit_code"] == 0
    resumed = run_in_process([f"resume={run_dir}", "schedule.total_env_steps=800", "allow_config_change=true"],
                             tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    run_id = (run_dir / "run_id.txt").read_text().strip()
    assert [c["id"] for c in calls] == [run_id, run_id]
    assert all(c["mode"] == "online" and c["resume"] == "allow" for c in calls)


def test_a_resumed_sweep_job_keeps_its_wandb_name_and_group_and_launch_yaml_records_the_choices(tmp_path,
                                                                                                 monkeypatch):
    wandb = pytest.importorskip("wandb")
    from omegaconf import OmegaConf

    from rlkit.launch import JobContext, run_job
    from tests.conftest import compose_config

    calls = []
    monkeypatch.setattr(wandb, "init", lambda **kwargs: calls.append(kwargs) or FakeRun())
    monkeypatch.setattr(rlkit_logging, "wandb_logged_in", lambda: True)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    sweep = tmp_path / "outputs" / "sweeps" / "study" / "2026-01-01" / "12-00-00"
    job = sweep / "0"
    job.mkdir(parents=True)
    overrides = SMOKE + ["logger.wandb_mode=auto", "seed=3"]
    choices = {"env": "cartpole", "algo": "dqn", "schedule": "smoke", "hardware": "cpu_before", "experiment": None}
    assert run_job(compose_config(overrides), JobContext(job, overrides, sweep, choices=choices))["exit_code"] == 0
    launch = OmegaConf.to_container(OmegaConf.load(job / "launch.yaml"))
    assert launch == {"choices": choices, "wandb_name": ",".join(overrides), "wandb_group": "study/2026-01-01/12-00-00"}
    resumed = run_in_process([f"resume={job}", "schedule.total_env_steps=800", "allow_config_change=true",
                              "hardware=cpu"], tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    assert [(c["name"], c["group"]) for c in calls] == [(",".join(overrides), "study/2026-01-01/12-00-00")] * 2
    assert OmegaConf.load(job / "launch.yaml").choices.hardware == "cpu"  # a group the resume chose
    regrouped = run_in_process([f"resume={job}", "schedule.total_env_steps=1000", "allow_config_change=true",
                                "logger.wandb_group=mine"], tmp_path / "unused")
    assert regrouped["exit_code"] == 0 and calls[-1]["group"] == "mine"  # a group the resume names wins
    assert calls[-1]["name"] == ",".join(overrides) and OmegaConf.load(job / "launch.yaml").wandb_group == "mine"
