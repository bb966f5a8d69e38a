"""SAC learns Pendulum-v1: mean evaluation return of at least -300 within 15,000 env steps on at
least 2 of 3 seeds (a random policy scores about -1,200; a swing-up that holds the pendulum about
-150). Protocol in seeds.py.

CPU-sized to fit CI (2 cores): the SAC defaults (tuned temperature toward -1, Polyak tau 0.005,
gamma 0.99, critic lr 1e-3, one update per env step, hardware=cpu's 8 envs) except 64x64 networks,
batches of 64, 500 warm-up env steps, a policy lr of 1e-3 and TD3's uncompensated delay (one
policy step after every second critic update). Evaluations: 10 episodes, tanh of the mean, every
500 env steps.
"""

from tests.learning.seeds import learns_on_two_of_three

BUDGET_ENV_STEPS = 15_000
TARGET = -300.0
OVERRIDES = ["algo=sac", "env=gym", "env.id=Pendulum-v1", "network.hidden_sizes=[64,64]", "schedule.batch_size=64",
             "schedule.warmup_env_steps=500", "schedule.actor_lr=1e-3", "algo.compensate_policy_delay=false",
             "schedule.eval_interval_env_steps=500", "schedule.eval_episodes=10", "schedule.log_interval_env_steps=1000"]


def test_sac_swings_up_pendulum_on_most_seeds(tmp_path):
    learned, report = learns_on_two_of_three(OVERRIDES, TARGET, BUDGET_ENV_STEPS, tmp_path)
    print(report)
    assert learned, report
