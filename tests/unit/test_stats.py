import numpy as np
import pytest

from rlkit.stats import bootstrap_ci, iqm, student_t_sf, welch_t_test_greater


@pytest.mark.parametrize("t,dof,p", [(0.0, 5, 0.5), (2.228, 10, 0.025), (1.812, 10, 0.05), (2.0, 1, 0.1475836),
                                     (1.6449, 1e7, 0.05), (-2.228, 10, 0.975)])
def test_student_t_tail_matches_tables(t, dof, p):
    assert student_t_sf(t, dof) == pytest.approx(p, abs=2e-4)


def test_welch_by_hand():
    a = np.array([20.0, 22.0, 19.0, 25.0, 24.0])
    b = np.array([18.0, 17.0, 21.0, 16.0, 18.0])
    result = welch_t_test_greater(a, b)
    # mean diff 4, var_a/5 = 6.5/5, var_b/5 = 3.5/5 -> se = sqrt(2) -> t = 2.828; dof = 4 / (1.69/4 + 0.49/4)
    assert result.t == pytest.approx(4 / np.sqrt(2.0))
    assert result.dof == pytest.approx(4.0 / ((1.3**2 + 0.7**2) / 4))
    assert 0.01 < result.p_value < 0.02
    assert welch_t_test_greater(b, a).p_value > 0.98


@pytest.mark.parametrize("values,expected", [
    ([7.0], 7.0),  # n=1: the value itself
    ([4.0, 1.0, 3.0, 2.0], 2.5),  # n=4: 1 and 4 dropped whole, mean of 2 and 3
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0], 3.5),  # n=8: exactly the middle four, 2..5
    # n=3, sorted [4, 7, 16]: slices of 1/3 overlap [0.25, 0.75] by 1/12, 1/3, 1/12 (sum 1/2),
    # weights 1/6, 2/3, 1/6 -> (4 + 4 * 7 + 16) / 6 = 8
    ([16.0, 4.0, 7.0], 8.0),
    # n=5, sorted [0, 1, 2, 10, 100]: slices of 0.2 overlap [0.25, 0.75] by 0, 0.15, 0.2, 0.15, 0,
    # weights 0, 0.3, 0.4, 0.3, 0 -> 0.3 * 1 + 0.4 * 2 + 0.3 * 10 = 4.1 (trimming whole values: 13/3)
    ([100.0, 0.0, 10.0, 2.0, 1.0], 4.1),
    # n=6, sorted [0, 1, 2, 3, 4, 50]: slices of 1/6 overlap by 0, 1/12, 1/6, 1/6, 1/12, 0,
    # weights 0, 1/6, 1/3, 1/3, 1/6, 0 -> (1 + 2 * 2 + 2 * 3 + 4) / 6 = 2.5
    ([50.0, 4.0, 3.0, 2.0, 1.0, 0.0], 2.5),
])
def test_iqm_by_hand(values, expected):
    assert iqm(values) == pytest.approx(expected)
    assert iqm(np.asarray(values) + 1.0) == pytest.approx(expected + 1.0)


def test_iqm_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        iqm([])


def test_bootstrap_ci_replays_the_documented_generator_calls():
    values = np.array([3.0, 10.0, 1.0, 6.0])
    # The documented draw: one integers(0, n, size=(num_resamples, n)) call of default_rng(seed).
    indices = np.random.default_rng(7).integers(0, 4, size=(5, 4))
    medians = np.sort([np.median(values[row]) for row in indices])
    # confidence 0.5 -> the 0.25 and 0.75 quantiles of 5 sorted estimates, at positions 0.25 * 4 = 1
    # and 0.75 * 4 = 3 exactly (no interpolation): the 2nd and 4th smallest medians.
    low, high = bootstrap_ci(values, np.median, confidence=0.5, num_resamples=5, seed=7)
    assert (low, high) == (medians[1], medians[3])
    assert bootstrap_ci(values, np.median, confidence=0.5, num_resamples=5, seed=7) == (low, high)


def test_bootstrap_ci_degenerate_samples():
    assert bootstrap_ci([5.0, 5.0, 5.0], np.mean) == (5.0, 5.0)
    assert bootstrap_ci([2.5], iqm) == (2.5, 2.5)
    with pytest.raises(ValueError):
        bootstrap_ci([], np.mean)


def test_bootstrap_ci_of_curves_is_pointwise():
    curves = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 2.0], [0.0, 5.0, 2.0]])  # [seeds, env steps]
    low, high = bootstrap_ci(curves, lambda resample: resample.mean(axis=0))
    assert low.shape == high.shape == (3,)
    assert (low[0], high[0], low[2], high[2]) == (0.0, 0.0, 2.0, 2.0)  # no spread across seeds there
    assert 1.0 <= low[1] < 3.0 < high[1] <= 5.0


def test_bootstrap_ci_of_the_mean_holds_it_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    widths = []
    for size in (20, 500):
        sample = rng.normal(5.0, 2.0, size=size)
        low, high = bootstrap_ci(sample, np.mean)
        assert low < sample.mean() < high and low < 5.0 < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 3  # the width shrinks as 1/sqrt(n): about 5 times here


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    intervals = [bootstrap_ci(rng.normal(size=30), np.mean, num_resamples=500, seed=i) for i in range(200)]
    coverage = np.mean([low <= 0.0 <= high for low, high in intervals])
    assert 0.85 <= coverage <= 0.99  # the percentile bootstrap undercovers a little at n = 30
