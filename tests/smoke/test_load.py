"""rlkit.load(run_dir) gives the trained agent, acting from Python; checkpoints/best.pt keeps the
best evaluation so far beside the newest K."""

import numpy as np
import pytest
import torch

import rlkit
from rlkit import checkpoint
from rlkit.checkpoint import CheckpointError
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import as_trained_on_cuda, refuse_cuda, run_in_process


def test_load_gives_the_trained_dqn_agent_and_best_keeps_the_best_evaluation(tmp_path):
    run_dir = tmp_path / "run"
    result = run_in_process(["env=cartpole", "schedule=smoke", "schedule.total_env_steps=2000",
                             "schedule.eval_interval_env_steps=400", "logger.progress_bar=false"], run_dir)
    assert result["exit_code"] == 0
    loaded = rlkit.load(run_dir)
    assert loaded.env_step == result["env_step"] and loaded.config.algo.name == "dqn"
    saved = checkpoint.load_checkpoint(checkpoint.list_checkpoints(run_dir)[-1][1])["agent"]["learner"]["online"]
    assert all(torch.equal(v, saved[k]) for k, v in loaded.agent.learner.online.state_dict().items())
    envs = loaded.make_envs(num_envs=3)
    actions = loaded.act(envs.reset(seed=0))
    envs.close()
    assert actions.shape == (3,) and set(actions.tolist()) <= {0, 1}

    eval_returns = [r["eval/return_mean"] for r in read_metrics(run_dir / METRICS_FILE) if "eval/return_mean" in r]
    best = checkpoint.load_checkpoint(checkpoint.best_checkpoint_path(run_dir))
    assert len(eval_returns) >= 5 and best["last_eval"]["eval/return_mean"] == max(eval_returns)
    assert best["best_eval_return"] == max(eval_returns)
    assert rlkit.load(run_dir, "best.pt").env_step == best["counters"]["env_step"]
    with pytest.raises(CheckpointError, match="best.pt"):
        rlkit.load(run_dir, "nope.pt")


def test_load_gives_a_ppo_agent_acting_within_the_bounds(tmp_path):
    run_dir = tmp_path / "run"
    assert run_in_process(["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke", "logger.progress_bar=false"],
                          run_dir)["exit_code"] == 0
    loaded = rlkit.load(run_dir)
    envs = loaded.make_envs(num_envs=2)
    actions = loaded.act(envs.reset(seed=1))
    envs.close()
    assert actions.shape == (2, 1) and np.all(np.abs(actions) <= 3.0)
    again = rlkit.load(run_dir).act(loaded.make_envs(2).reset(seed=1))
    assert np.array_equal(actions, again)  # the mean action: deterministic


def test_load_of_a_run_trained_with_its_replay_on_cuda_builds_a_small_host_replay_on_the_cpu(tmp_path, monkeypatch):
    trained = tmp_path / "trained"
    assert run_in_process(["env=cartpole", "schedule=smoke", "logger.progress_bar=false"], trained)["exit_code"] == 0
    run_dir = as_trained_on_cuda(trained, tmp_path / "cuda_run")
    refuse_cuda(monkeypatch)
    loaded = rlkit.load(run_dir)
    assert loaded.config.hardware.replay_device == "cuda"  # the run's config, as it trained
    replay = loaded.agent.replay
    # acting stores nothing: (1 frame + n_step 1 + 2) slots per env x 8 envs, not the run's 2,000 transitions
    assert replay.frames_device is None and isinstance(replay.frames, np.ndarray)
    assert replay.capacity_per_env * replay.num_envs == 32
    assert not loaded.agent.learner.amp and not loaded.agent.learner.compile_clock.enabled
    envs = loaded.make_envs(num_envs=2)
    actions = loaded.act(envs.reset(seed=0))
    envs.close()
    assert actions.shape == (2,) and set(actions.tolist()) <= {0, 1}
