"""DQN and IQN learn CartPole-v1: mean evaluation return >= 195 within 50,000 env steps on at
least 2 of 3 seeds (10 evaluation episodes every 10,000 env steps; protocol in seeds.py)."""

import pytest

from tests.learning.seeds import learns_on_two_of_three

BUDGET_ENV_STEPS = 50_000
TARGET = 195.0


@pytest.mark.parametrize("experiment", ["cartpole_dqn", "cartpole_iqn"])
def test_learns_cartpole_on_two_of_three_seeds(experiment, tmp_path):
    learned, report = learns_on_two_of_three([f"experiment={experiment}"], TARGET, BUDGET_ENV_STEPS, tmp_path)
    print(f"{experiment}: {report}")
    assert learned, report
