import numpy as np
import pytest

from rlkit.stats import iqm, mean_confidence_interval, student_t_quantile, student_t_sf, welch_t_test_greater


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


@pytest.mark.parametrize("p,dof,t", [(0.975, 1, 12.706204736), (0.975, 2, 4.302652730), (0.975, 4, 2.776445105),
                                     (0.95, 10, 1.812461123), (0.975, 1e7, 1.959964), (0.025, 3, -3.182446305),
                                     (0.5, 7, 0.0)])
def test_student_t_quantile_matches_tables(p, dof, t):
    assert student_t_quantile(p, dof) == pytest.approx(t, abs=1e-6)


def test_mean_confidence_interval_by_hand():
    # [1, 2, 6]: mean 3, s = sqrt(((-2)^2 + (-1)^2 + 3^2) / 2) = sqrt(7); half width t_{0.975, 2} sqrt(7 / 3)
    half = 4.302652729749 * np.sqrt(7.0 / 3.0)
    low, high = mean_confidence_interval([1.0, 2.0, 6.0])
    assert (low, high) == pytest.approx((3.0 - half, 3.0 + half))
    assert mean_confidence_interval([1.0, 2.0, 6.0], confidence=0.9)[1] < high
    assert mean_confidence_interval([5.0, 5.0, 5.0]) == (5.0, 5.0)
    assert mean_confidence_interval([2.5]) is None  # one seed: no interval
    with pytest.raises(ValueError):
        mean_confidence_interval([])
    with pytest.raises(ValueError):
        mean_confidence_interval([1.0, 2.0], confidence=1.0)


def test_mean_confidence_interval_of_curves_is_pointwise():
    curves = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 2.0], [0.0, 5.0, 2.0]])  # [seeds, env steps]
    low, high = mean_confidence_interval(curves)
    half = 4.302652729749 * 2.0 / np.sqrt(3.0)  # the middle point: mean 3, s = 2
    np.testing.assert_allclose(low, [0.0, 3.0 - half, 2.0])
    np.testing.assert_allclose(high, [0.0, 3.0 + half, 2.0])


@pytest.mark.parametrize("n", [2, 3, 5])
def test_mean_confidence_interval_covers_the_true_mean_95_percent_of_the_time_at_few_seeds(n):
    # 4,000 samples of n normal scores: the coverage's standard error is 0.0034, so 0.94-0.96 is
    # about 3 of them either side. The percentile bootstrap covers 0.52, 0.71 and 0.85 here.
    samples = np.random.default_rng(n).normal(10.0, 3.0, size=(4000, n))
    intervals = [mean_confidence_interval(sample) for sample in samples]
    coverage = np.mean([low <= 10.0 <= high for low, high in intervals])
    assert 0.94 <= coverage <= 0.96
