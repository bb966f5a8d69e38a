"""Evaluation never changes training: its settings leave the training trajectory alone (IQN's taus
and PPO's sampled evaluation actions come from their own streams), and it plays whole games (episodic
life is for training only)."""

from rlkit import build
from rlkit.config import to_run_config
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import compose_config, run_in_process

IQN = ["algo=iqn", "env=cartpole", "schedule=smoke", "schedule.total_env_steps=1200",
       "schedule.log_interval_env_steps=100", "schedule.eval_interval_env_steps=300", "logger.progress_bar=false"]
TRAINING_KEYS = ("loss", "mean_q", "mean_target", "greedy_q", "return_iqr", "grad_norm", "updates",
                 "train/episode_return_mean", "train/episodes")


def _training_rows(run_dir):
    return [{k: r[k] for k in TRAINING_KEYS if k in r} for r in read_metrics(run_dir / METRICS_FILE) if "loss" in r]


def test_changing_the_evaluation_episodes_leaves_iqn_training_unchanged(tmp_path):
    a = run_in_process(IQN + ["schedule.eval_episodes=2"], tmp_path / "a")
    b = run_in_process(IQN + ["schedule.eval_episodes=5"], tmp_path / "b")
    assert a["exit_code"] == b["exit_code"] == 0
    rows_a, rows_b = _training_rows(tmp_path / "a"), _training_rows(tmp_path / "b")
    assert len(rows_a) >= 10 and rows_a == rows_b  # evaluations at 300, 600, 900 in between
    assert len(a["eval_returns"]) == 2 and len(b["eval_returns"]) == 5


PPO = ["algo=ppo", "env=inverted_pendulum", "schedule=ppo_smoke", "algo.eval_deterministic=false",
       "hardware.torch_threads=1", "logger.progress_bar=false"]
PPO_TRAINING_KEYS = ("loss", "policy_loss", "value_loss", "approx_kl", "grad_norm", "train/episode_return_mean")


def test_changing_the_evaluation_episodes_leaves_ppo_training_unchanged(tmp_path):
    a = run_in_process(PPO + ["schedule.eval_episodes=2"], tmp_path / "a")
    b = run_in_process(PPO + ["schedule.eval_episodes=5"], tmp_path / "b")
    assert a["exit_code"] == b["exit_code"] == 0
    rows_a, rows_b = ([{k: r[k] for k in PPO_TRAINING_KEYS if k in r} for r in read_metrics(d / METRICS_FILE)
                       if "loss" in r] for d in (tmp_path / "a", tmp_path / "b"))
    assert len(rows_a) >= 2 and rows_a == rows_b  # sampled evaluations at 192 and 384 in between
    assert len(a["eval_returns"]) == 2 and len(b["eval_returns"]) == 5


def test_evaluation_envs_play_whole_games_with_episodic_life_on(tmp_path):
    run = to_run_config(compose_config(["env=breakout", "env.episodic_life=true", "hardware.num_envs=2",
                                        "hardware.eval_num_envs=2"]))
    envs, eval_envs = build.build_envs(run, build.algo_entry(run))
    try:
        assert envs.episodic_life is True  # the ale_vector backend ends training episodes at a lost life
        assert eval_envs.episodic_life is False
    finally:
        envs.close()
        eval_envs.close()
