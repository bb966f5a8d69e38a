"""PPO learns InvertedPendulum-v5: mean evaluation return >= 900 within 100,000 env steps on at
least 2 of 3 seeds, with the default PPO settings (CleanRL's, but an initial log-std of -0.5 and
actions mapped onto the pendulum's +-3 bounds) and hardware=cpu's 8 envs. Evaluations (10
episodes, mean action) every 5,000 env steps; protocol in seeds.py."""

from tests.learning.seeds import learns_on_two_of_three

BUDGET_ENV_STEPS = 100_000
TARGET = 900.0


def test_ppo_balances_inverted_pendulum_on_most_seeds(tmp_path):
    learned, report = learns_on_two_of_three(
        ["algo=ppo", "env=inverted_pendulum", "schedule.eval_interval_env_steps=5000", "schedule.eval_episodes=10",
         "schedule.log_interval_env_steps=5000"], TARGET, BUDGET_ENV_STEPS, tmp_path, timeout_s=600)
    print(report)
    assert learned, report
