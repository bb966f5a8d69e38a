"""DQN and IQN learn CartPole-v1: mean evaluation return >= 195 within 50,000 env steps on at
least 2 of 3 seeds (10 evaluation episodes every 10,000 env steps; the best evaluation counts)."""

import pytest

from tests.learning.seeds import eval_curve, run_seeds

BUDGET_ENV_STEPS = 50_000
THRESHOLD = 195.0


@pytest.mark.parametrize("experiment", ["cartpole_dqn", "cartpole_iqn"])
def test_learns_cartpole_on_two_of_three_seeds(experiment, tmp_path):
    rows = run_seeds([f"experiment={experiment}"], [0, 1, 2], tmp_path)
    best = {}
    for seed, seed_rows in rows.items():
        curve = [(step, value) for step, value in eval_curve(seed_rows) if step <= BUDGET_ENV_STEPS + 16]
        assert len(curve) >= 5, f"seed {seed}: too few evaluations {curve}"
        best[seed] = max(value for _, value in curve)
    print(f"{experiment}: best evaluation return per seed {best}")
    assert sum(value >= THRESHOLD for value in best.values()) >= 2, best
