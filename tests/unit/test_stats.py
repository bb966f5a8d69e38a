import numpy as np
import pytest

from rlkit.stats import student_t_sf, welch_t_test_greater


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
