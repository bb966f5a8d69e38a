"""The runner, tested once for every algorithm: a fake agent on fake envs.

Fake envs: E sub-envs whose episodes last ``episode_length`` transitions with reward 1 each, with
NEXT_STEP autoreset (the step after an episode's last one is a reset step, not a transition)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlkit import checkpoint
from rlkit.algos.common import NonFiniteError
from rlkit.config import HealthConfig, RunSchedule
from rlkit.envs.base import EnvSpec, StepResult
from rlkit.health import HealthLimits, HealthTracker
from rlkit.logging import METRICS_FILE, MetricsFile, WandbSink, read_metrics
from rlkit.progress import ProgressLine
from rlkit.run_outputs import RunOutputs
from rlkit.runner import EnvFailure, Runner, TrainingEnvs
from rlkit.episodes import EpisodeTracker


class FakeEnvs:
    """Sub-env i's episodes last ``episode_length`` (or its i-th entry) steps of reward 1 (or
    ``reward_per_step``'s i-th entry), then end; NEXT_STEP autoreset."""

    def __init__(self, num_envs: int, episode_length: int | list[int] = 5, fail_at_call: int | None = None,
                 reward_per_step: list[float] | None = None) -> None:
        self.num_envs = num_envs
        self.spec = EnvSpec("fake", (2,), np.dtype(np.float32), n_actions=3)
        self.episode_length = np.broadcast_to(np.asarray(episode_length), (num_envs,))  # [E]
        self.reward_per_step = np.asarray(reward_per_step if reward_per_step is not None else [1.0] * num_envs,
                                          dtype=np.float32)  # [E]
        self.fail_at_call = fail_at_call
        self.calls = 0
        self.t = np.zeros(num_envs, dtype=np.int64)  # [E] transitions into the current episode
        self.ended = np.zeros(num_envs, dtype=bool)  # [E] the last step ended an episode

    def reset(self, seed: int) -> np.ndarray:
        self.t[:] = 0
        self.ended[:] = False
        return np.zeros((self.num_envs, 2), np.float32)

    def step(self, actions: np.ndarray) -> StepResult:
        self.calls += 1
        if self.fail_at_call is not None and self.calls >= self.fail_at_call:
            raise BrokenPipeError("worker died")
        reset = self.ended.copy()  # [E]
        self.t = np.where(reset, 0, self.t + 1)
        reward = np.where(reset, 0.0, self.reward_per_step).astype(np.float32)
        terminated = ~reset & (self.t >= self.episode_length)
        self.ended = terminated
        obs = np.stack([self.t, actions], axis=1).astype(np.float32)
        return StepResult(obs, reward, terminated, np.zeros(self.num_envs, bool), terminated)

    def close(self) -> None:
        pass


class FakeAgent:
    """Takes ``vector_steps_per_train_step`` vector steps per train step; 'learns' a step counter."""

    def __init__(self, vector_steps_per_train_step: int = 1, nan_at_train_step: int | None = None) -> None:
        self.network = torch.nn.Linear(2, 3)
        self.vector_steps = vector_steps_per_train_step
        self.nan_at = nan_at_train_step
        self.train_steps = 0
        self.transitions_seen = 0
        self.starts: list[np.ndarray] = []
        self.loaded: dict | None = None

    def start(self, obs):
        self.starts.append(obs)

    def train_step(self, envs: TrainingEnvs) -> None:
        for _ in range(self.vector_steps):
            step = envs.step(np.ones(envs.num_envs, np.int64))
            self.transitions_seen += int((~step.is_reset_step).sum())
        self.train_steps += 1
        if self.nan_at is not None and self.train_steps >= self.nan_at:
            raise NonFiniteError("loss", envs.env_step - 1, {"loss": float("nan")})

    def act_eval(self, obs):
        return np.zeros(len(obs), np.int64)

    def pop_metrics(self, env_step):
        return {"loss": 0.5, "grad_norm": 1.0, "train_steps": self.train_steps}

    def state_dict(self):
        return {"train_steps": self.train_steps, "transitions_seen": self.transitions_seen}

    def load_state_dict(self, state):
        self.loaded = state
        self.train_steps, self.transitions_seen = state["train_steps"], state["transitions_seen"]

    def replay_state_dict(self):
        return {"seen": np.array([self.transitions_seen])}

    def load_replay_state_dict(self, state):
        self.replay_seen = int(state["seen"][0])

    def nonfinite_diagnostic(self):
        return {"recent_grad_norms": [1.0, float("nan")], "weights_finite": True}


def _runner(tmp_path: Path, agent, envs, resume_env_step: int | None = None, **schedule) -> Runner:
    sched = RunSchedule(**{"total_env_steps": 100, "log_interval_env_steps": 20, "eval_interval_env_steps": 50,
                           "eval_episodes": 2, "save_interval_env_steps": 40, **schedule})
    outputs = RunOutputs(run_dir=tmp_path, metrics=MetricsFile(tmp_path / METRICS_FILE, resume_env_step=resume_env_step),
                         wandb=WandbSink("disabled", project="p", entity=None, group=None, name="n", job_type="j",
                                         tags=[], config={}, run_dir=tmp_path, run_id="x", init_timeout_s=1.0),
                         console=ProgressLine(100, 0, enabled=False), keep_checkpoints=10, frames_per_env_step=1)
    health = HealthTracker(HealthLimits.from_config(HealthConfig(), None, judge_over_clip=True), stop_hopeless=False,
                           judge_from_env_step=0)
    return Runner(agent, envs, FakeEnvs(2), sched, health, outputs, seed=0)


def test_training_envs_count_transitions_not_reset_steps():
    envs = TrainingEnvs(FakeEnvs(2, episode_length=3), EpisodeTracker(2), total_env_steps=100)
    envs.reset(0)
    flags = [envs.step(np.zeros(2, np.int64)).is_reset_step[0] for _ in range(8)]
    assert flags == [False, False, False, True, False, False, False, True]  # 3 transitions, then a reset step
    assert envs.env_step == 2 * 6
    assert envs.tracker.summary()["train/episodes"] == 4 and envs.tracker.summary()["train/episode_return_mean"] == 3


def test_periodic_points_fall_on_the_first_multiple_reached_in_order(tmp_path):
    agent = FakeAgent(vector_steps_per_train_step=3)  # 4 envs x 3 steps: 12 env steps per train step
    result = _runner(tmp_path, agent, FakeEnvs(4, episode_length=100)).run()
    rows = read_metrics(tmp_path / METRICS_FILE)
    eval_steps = [r["env_step"] for r in rows if "eval/return_mean" in r]
    log_steps = [r["env_step"] for r in rows if "loss" in r]
    assert result["env_step"] == 108  # the first train step at or past 100
    assert log_steps == [24, 48, 60, 84, 108]  # the first clock reading at or past each multiple of 20
    assert eval_steps == [60, 108]  # 50 -> 60, the final evaluation at 108 (100 is passed at 108)
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [48, 84, 108]  # 40 -> 48, 80 -> 84, final
    at_60 = [next(k for k in ("eval/return_mean", "loss") if k in r) for r in rows if r["env_step"] == 60]
    assert at_60 == ["eval/return_mean", "loss"]  # evaluation before the log row at the same step
    assert result["eval_returns"] == [5.0, 5.0] and agent.train_steps == 9  # eval episodes: 5 transitions of 1


def test_resume_restores_the_agent_and_continues_the_clock(tmp_path):
    first = FakeAgent()
    _runner(tmp_path, first, FakeEnvs(4)).run()
    step, path = checkpoint.list_checkpoints(tmp_path)[-1]
    state = checkpoint.load_checkpoint(path)
    assert state["counters"]["env_step"] == step == 100 and state["agent"]["train_steps"] == first.train_steps
    second = FakeAgent()
    runner = _runner(tmp_path, second, FakeEnvs(4), resume_env_step=step, total_env_steps=200)
    result = runner.run(state, checkpoint.load_replay(tmp_path, step))
    assert second.loaded == state["agent"] and second.replay_seen == first.transitions_seen
    assert len(second.starts) == 1  # the envs restarted and the agent was told
    assert result["env_step"] == 200 and second.transitions_seen == 200
    rows = read_metrics(tmp_path / METRICS_FILE)
    log_steps = [r["env_step"] for r in rows if "loss" in r]
    assert log_steps == sorted(set(log_steps)) and log_steps[-1] == 200  # no duplicate rows across the resume
    assert [r["env_step"] for r in rows if "eval/return_mean" in r] == [52, 100, 152, 200]


def test_the_first_sps_after_a_resume_counts_only_the_resumed_process_steps(tmp_path):
    _runner(tmp_path, FakeAgent(), FakeEnvs(4), log_interval_env_steps=30).run()  # logs at 32, 60, 92, saves at 40
    state = checkpoint.load_checkpoint(dict(checkpoint.list_checkpoints(tmp_path))[40])
    assert state["counters"]["env_steps_since_log"] == 8  # 8 env steps after the row at 32, before the stop
    runner = _runner(tmp_path, FakeAgent(), FakeEnvs(4), resume_env_step=40, log_interval_env_steps=30)
    runner.out.seconds_since_log = lambda: 1.0  # sps = env steps in the window
    runner.run(state, None)
    rows = {r["env_step"]: r for r in read_metrics(tmp_path / METRICS_FILE) if "sps" in r}
    assert rows[60]["sps"] == 20.0 and rows[92]["sps"] == 32.0  # 40 -> 60, not 32 -> 60


def test_a_non_finite_stop_writes_the_diagnostic_at_the_clock(tmp_path):
    with pytest.raises(NonFiniteError) as info:
        _runner(tmp_path, FakeAgent(nan_at_train_step=15), FakeEnvs(4)).run()  # 15 vector steps, 2 of them resets
    diagnostic = json.loads((tmp_path / "nonfinite_diagnostic.json").read_text())
    assert info.value.env_step == diagnostic["env_step"] == 4 * 13 and diagnostic["update_env_step"] == 51
    assert diagnostic["weights_finite"] is True and diagnostic["recent_grad_norms"][0] == 1.0
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [40]  # nothing saved after the NaN


def test_an_env_failure_saves_the_state_of_the_train_step_start(tmp_path):
    agent = FakeAgent(vector_steps_per_train_step=4)  # a 'rollout' of 4 vector steps
    with pytest.raises(EnvFailure, match="worker died"):
        _runner(tmp_path, agent, FakeEnvs(2, fail_at_call=11)).run()  # fails in the 3rd train step
    step, path = checkpoint.list_checkpoints(tmp_path)[-1]  # 8 vector steps done: 7 transitions and a reset each
    assert step == 14 and checkpoint.load_checkpoint(path)["counters"]["env_step"] == 14


def test_a_stop_request_saves_and_reports(tmp_path):
    agent = FakeAgent()
    runner = _runner(tmp_path, agent, FakeEnvs(2))
    original = agent.train_step

    def train_step(envs):
        original(envs)
        if envs.env_step == 30:
            runner.stop.request("SIGTERM")
    agent.train_step = train_step
    result = runner.run()
    assert result == {"stopped_by": "SIGTERM", "env_step": 30}
    assert checkpoint.list_checkpoints(tmp_path)[-1][0] == 30


def test_stop_at_eval_return_ends_after_the_evaluation_that_reaches_it(tmp_path):
    agent = FakeAgent()
    runner = _runner(tmp_path, agent, FakeEnvs(2), stop_at_eval_return=5.0, total_env_steps=1000)
    result = runner.run()
    assert result["env_step"] == 50 and result["eval/return_mean"] == 5.0
    assert read_metrics(tmp_path / METRICS_FILE)[-1]["target_reached"] is True


@pytest.mark.parametrize("module", ["rlkit.runner", "rlkit.algos.value_based.agent", "rlkit.algos.ppo.agent",
                                    "rlkit.algos.sac.agent", "rlkit.launch"])
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    """A library user may import any of these first (no import cycle between the runner and the agents)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
