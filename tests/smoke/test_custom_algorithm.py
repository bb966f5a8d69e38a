"""A new algorithm from outside rlkit: registered from this test module with its schema and
schedule, its YAML in a user config dir on Hydra's search path. It trains, logs, evaluates,
checkpoints and resumes through the runner without any rlkit/ file naming it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rlkit import checkpoint
from rlkit.algos import ALGOS
from rlkit.config import SCHEDULES, AlgoConfig, RunSchedule
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import run_in_process


@dataclass
class ActionValueConfig(AlgoConfig):
    """A bandit learner: the mean reward of each action, epsilon-greedy."""

    name: str = "action_values"
    epsilon: float = 0.5


@dataclass
class ToySchedule(RunSchedule):
    pass


class ActionValueAgent:
    """Learns the mean one-step reward of each discrete action, whatever the state."""

    def __init__(self, n_actions: int, epsilon: float, seed: int) -> None:
        self.network = torch.nn.Linear(1, n_actions, bias=False)  # weights = the action values
        torch.nn.init.zeros_(self.network.weight)
        self.counts = torch.zeros(n_actions)
        self.epsilon = epsilon
        self.rng = np.random.default_rng(seed)
        self.obs = None

    def start(self, obs):
        self.obs = obs

    def train_step(self, envs):
        greedy = int(self.network.weight[:, 0].argmax())
        random = self.rng.integers(len(self.counts), size=envs.num_envs)
        actions = np.where(self.rng.random(envs.num_envs) < self.epsilon, random, greedy).astype(np.int64)
        step = envs.step(actions)
        with torch.no_grad():
            for action, reward, reset in zip(actions, step.reward, step.is_reset_step):
                if not reset:
                    self.counts[action] += 1
                    self.network.weight[action, 0] += (float(reward) - self.network.weight[action, 0]) / self.counts[action]
        self.obs = step.obs

    def act_eval(self, obs):
        return np.full(len(obs), int(self.network.weight[:, 0].argmax()), dtype=np.int64)

    def pop_metrics(self, env_step):
        return {"value_max": float(self.network.weight.detach().max()), "transitions_counted": float(self.counts.sum())}

    def state_dict(self):
        return {"weight": self.network.weight.detach().clone(), "counts": self.counts.clone(),
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.network.weight.copy_(state["weight"])
        self.counts = state["counts"].clone()
        self.rng.bit_generator.state = state["rng"]

    def replay_state_dict(self):
        return None

    def load_replay_state_dict(self, state):
        raise ValueError("no replay")

    def nonfinite_diagnostic(self):
        return {}


if "action_values" not in ALGOS:
    SCHEDULES.add("toy", ToySchedule, schema=ToySchedule)

    @ALGOS.register("action_values", schema=ActionValueConfig, schedule=ToySchedule, actions="discrete")
    def build_action_values(run, spec, device):
        return ActionValueAgent(spec.n_actions, run.algo.epsilon, run.seed)


def _user_conf(root):
    (root / "algo").mkdir(parents=True)
    (root / "schedule").mkdir()
    (root / "algo" / "action_values.yaml").write_text(
        "# @package _global_\ndefaults:\n  - /schema/algo@algo: action_values\n  - override /schedule: toy\n")
    (root / "schedule" / "toy.yaml").write_text(
        "defaults:\n  - /schema/schedule@_here_: toy\n\ntotal_env_steps: 600\nlog_interval_env_steps: 100\n"
        "eval_interval_env_steps: 300\neval_episodes: 2\nsave_interval_env_steps: 200\n")
    return root


def test_an_algorithm_registered_outside_rlkit_trains_and_resumes(tmp_path):
    conf = _user_conf(tmp_path / "my_conf")
    run_dir = tmp_path / "run"
    base = ["env=cartpole", "algo=action_values", f"hydra.searchpath=[file://{conf}]", "logger.progress_bar=false"]
    result = run_in_process(base, run_dir)
    assert result["exit_code"] == 0, result.get("error")
    end = result["env_step"]
    assert 600 <= end < 608 and len(result["eval_returns"]) == 2  # 8 envs: the vector step that reaches 600
    rows = read_metrics(run_dir / METRICS_FILE)
    log_rows = [r for r in rows if "value_max" in r]
    assert [r["env_step"] // 100 for r in log_rows] == [1, 2, 3, 4, 5, 6]  # one row per 100-step interval
    assert all(r["transitions_counted"] == r["env_step"] for r in log_rows)  # the agent saw every transition
    assert len([r for r in rows if "eval/return_mean" in r]) == 2
    assert [s // 200 for s, _ in checkpoint.list_checkpoints(run_dir)] == [1, 2, 3]

    resumed = run_in_process(base + [f"resume={run_dir}", "schedule.total_env_steps=1000", "allow_config_change=true"],
                             tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    assert 1000 <= resumed["env_step"] < 1008
    state = checkpoint.load_checkpoint(checkpoint.list_checkpoints(run_dir)[-1][1])
    assert float(state["agent"]["counts"].sum()) == resumed["env_step"]  # counts continued from the checkpoint
    log_steps = [r["env_step"] for r in read_metrics(run_dir / METRICS_FILE) if "value_max" in r]
    assert log_steps == sorted(set(log_steps)) and log_steps[-1] == resumed["env_step"]
