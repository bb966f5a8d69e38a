"""A NaN in training stops the run with exit code 3 and a message naming the step and the metric,
keeps the last good checkpoint and writes a diagnostic with batch statistics and recent grad norms.
The NaN is injected into the loss after a number of calls, so the rest of the run is the real one."""

from __future__ import annotations

import json

import pytest

from rlkit import checkpoint
from rlkit.algos.dqn import learner as dqn_learner
from rlkit.algos.ppo import learner as ppo_learner
from tests.conftest import run_in_process


def _nan_after(function, good_calls: int):
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        loss, metrics = function(*args, **kwargs)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] > good_calls else loss), metrics
    return poisoned


@pytest.mark.parametrize("overrides,target,attribute,stats_key", [
    (["env=cartpole", "schedule=smoke", "schedule.total_env_steps=1000", "schedule.save_interval_env_steps=100"],
     dqn_learner.DQNLoss, "__call__", "batch"),
    (["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke", "schedule.total_env_steps=2048",
      "schedule.save_interval_env_steps=128"], ppo_learner.losses, "ppo_loss", "minibatch"),
], ids=["dqn", "ppo"])
def test_a_nan_loss_stops_the_run_keeping_the_last_good_checkpoint(overrides, target, attribute, stats_key,
                                                                  tmp_path, monkeypatch):
    monkeypatch.setattr(target, attribute, _nan_after(getattr(target, attribute), good_calls=60))
    run_dir = tmp_path / "run"
    result = run_in_process(overrides + ["logger.progress_bar=false"], run_dir)
    assert result["exit_code"] == 3
    diagnostic = json.loads((run_dir / "nonfinite_diagnostic.json").read_text())
    step = diagnostic["env_step"]
    assert f"non-finite loss at env step {step}" in result["error"]
    assert diagnostic["metric"] == "loss" and diagnostic["details"]["loss"] != diagnostic["details"]["loss"]  # NaN
    stats = diagnostic["details"][stats_key]
    assert stats["obs"]["nonfinite_count"] == 0 and stats["obs"]["max"] >= stats["obs"]["min"]
    *good_norms, last_norm = diagnostic["recent_grad_norms"]  # the failing update's norm comes last
    assert len(good_norms) > 5 and all(0 < g < 1e6 for g in good_norms) and last_norm != last_norm
    saved = checkpoint.list_checkpoints(run_dir)
    assert saved and saved[-1][0] < step  # the last good one, nothing written after the NaN
    assert f"the last good checkpoint is {saved[-1][1]}" in result["error"]
    state = checkpoint.load_checkpoint(saved[-1][1])
    learner = state["agent"]["learner"]
    weights = learner.get("online", learner.get("network"))
    assert all(bool(v.isfinite().all()) for v in weights.values() if v.is_floating_point())


def test_a_nan_before_the_first_checkpoint_says_that_none_was_written(tmp_path, monkeypatch):
    monkeypatch.setattr(dqn_learner.DQNLoss, "__call__", _nan_after(dqn_learner.DQNLoss.__call__, good_calls=0))
    result = run_in_process(["env=cartpole", "schedule=smoke", "logger.progress_bar=false"], tmp_path / "run")
    assert result["exit_code"] == 3 and "no checkpoint was written yet" in result["error"]
    assert not checkpoint.list_checkpoints(tmp_path / "run")
