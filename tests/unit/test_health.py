"""The learning-health measures and verdict on hand-made histories."""

import math

import pytest

from rlkit.health import HealthLimits, HealthTracker, grad_norm_growth, grad_norm_jitter, judge, kendall_tau

LIMITS = HealthLimits(min_return_trend=0.1, max_grad_norm_growth=10.0, max_grad_norm_jitter=0.5,
                      max_grad_norm_over_clip=5.0, grad_clip_norm=10.0)


def test_kendall_tau_counts_concordant_minus_discordant_pairs():
    assert kendall_tau([1, 2, 3, 4]) == 1.0
    assert kendall_tau([4, 3, 2, 1]) == -1.0
    # [1, 3, 2]: pairs (1,3) +, (1,2) +, (3,2) -  ->  (2 - 1) / 3
    assert kendall_tau([1, 3, 2]) == pytest.approx(1 / 3)
    assert kendall_tau([5, 5, 5]) == 0.0


def test_grad_norm_growth_and_jitter():
    assert grad_norm_growth([1, 1, 100, 100]) == pytest.approx(100.0)
    assert grad_norm_growth([2, 2, 1, 1]) == pytest.approx(0.5)
    # log ratios: |ln 2|, |ln 1/2|, |ln 2| -> median ln 2
    assert grad_norm_jitter([1, 2, 1, 2]) == pytest.approx(math.log(2))
    assert grad_norm_jitter([3, 3, 3, 3]) == 0.0


def test_hopeless_needs_both_a_flat_return_and_an_unstable_grad_norm():
    flat, rising = [11, 10, 11, 10, 11, 10], [10, 20, 30, 40, 50, 60]  # tau -0.2 and +1
    diverging, steady, oscillating = [1, 1, 1, 50, 50, 50], [1, 1.1, 1, 1.1, 1, 1.1], [1, 4, 1, 4, 1, 4]
    assert judge(flat, diverging, LIMITS)["health/hopeless"] == 1.0
    assert judge(flat, oscillating, LIMITS)["health/hopeless"] == 1.0
    assert judge(flat, steady, LIMITS)["health/hopeless"] == 0.0  # flat but calm: still learning maybe
    assert judge(rising, diverging, LIMITS)["health/hopeless"] == 0.0  # improving: growing Q values are fine
    assert judge(flat[:3], diverging[:3], LIMITS) == {}  # too few rows to say anything
    saturated = [300, 400, 350, 420, 380, 400]  # 40x the clip from the first update on: no growth, no jitter
    measures = judge(flat, saturated, LIMITS)
    assert measures["health/grad_norm_growth"] < 2 and measures["health/grad_norm_over_clip"] == pytest.approx(39)
    assert measures["health/hopeless"] == 1.0
    no_clip = HealthLimits(grad_clip_norm=None)
    assert judge(flat, saturated, no_clip)["health/hopeless"] == 0.0
    not_judged = HealthLimits(max_grad_norm_over_clip=None, grad_clip_norm=10.0)  # measured, not judged
    measures = judge(flat, saturated, not_judged)
    assert measures["health/grad_norm_over_clip"] == pytest.approx(39) and measures["health/hopeless"] == 0.0
    assert judge(flat, diverging, not_judged)["health/hopeless"] == 1.0  # growth still counts


def test_the_return_trend_looks_at_the_recent_half():
    rose_then_collapsed = [10, 30, 50, 70, 60, 40, 20, 10]  # recent half [60, 40, 20, 10]: tau -1
    assert judge(rose_then_collapsed, [1] * 8, LIMITS)["health/return_trend"] == -1.0


def test_tracker_acts_only_when_enabled_and_after_the_judging_step():
    rows = [{"train/episode_return_mean": r, "grad_norm": g} for r, g in zip([10, 11, 10, 11, 10], [1, 1, 50, 50, 50])]
    for stop_hopeless, from_step, want in ((True, 0, True), (False, 0, False), (True, 10_000, False)):
        tracker = HealthTracker(LIMITS, stop_hopeless=stop_hopeless, judge_from_env_step=from_step)
        measures = [tracker.observe(row) for row in rows][-1]
        assert measures["health/hopeless"] == 1.0
        assert tracker.should_stop(measures, env_step=5_000) is want
    restored = HealthTracker(LIMITS, stop_hopeless=True, judge_from_env_step=0)
    restored.load_state_dict(tracker.state_dict())
    assert restored.observe({}) == tracker.observe({})


@pytest.mark.parametrize("algo, setting, would_stop_at", [
    ("dqn", None, 400), ("ppo", None, None), ("ppo", 5.0, 400)])
def test_the_calibration_replay_judges_a_run_against_its_own_grad_clip_and_algorithm(algo, setting, would_stop_at,
                                                                                     tmp_path):
    # experiments/health_calibration.py replays the verdict from metrics.jsonl: a run clipped at 0.5 whose
    # grad norms sit at 4 saturates the clip (x8 > 5), as the live run measured it, where its algorithm's
    # limit or the user's judges saturation (PPO's own does not)
    import json
    import sys

    from rlkit.config import HealthConfig
    from tests.conftest import REPO

    sys.path.insert(0, str(REPO / "experiments"))
    try:
        import health_calibration
    finally:
        sys.path.remove(str(REPO / "experiments"))
    (tmp_path / "config.yaml").write_text(f"algo:\n  name: {algo}\n  grad_clip_norm: 0.5\nschedule:\n"
                                          "  total_env_steps: 1000\n")
    rows = [{"env_step": 100 * i, "sps": 1.0, "train/episode_return_mean": 10.0, "grad_norm": 4.0}
            for i in range(1, 11)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    health = HealthConfig(max_grad_norm_over_clip=setting)
    assert health_calibration.replay(tmp_path, health)["would_stop_at"] == would_stop_at  # 400: its 4th row


@pytest.mark.parametrize("algo, setting, expected", [
    ("dqn", None, 5.0), ("iqn", None, 5.0), ("sac", None, 5.0),
    # PPO's healthy runs exceed its 0.5 clip more as their returns grow: saturation is not judged
    ("ppo", None, None),
    ("ppo", 8.0, 8.0), ("dqn", 8.0, 8.0),  # a limit the user sets holds for every algorithm
])
def test_the_over_clip_limit_is_the_algorithms_own_unless_set(algo, setting, expected):
    from rlkit.build import health_limits
    from rlkit.config import HealthConfig

    limits = health_limits(HealthConfig(max_grad_norm_over_clip=setting), algo, grad_clip_norm=0.5)
    assert limits.max_grad_norm_over_clip == expected and limits.grad_clip_norm == 0.5
