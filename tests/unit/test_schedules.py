import pytest

from rlkit.schedules import LinearSchedule, constant


def test_linear_schedule_endpoints_and_middle():
    s = LinearSchedule(1.0, 0.1, 1000)
    assert s(0) == 1.0
    assert s(500) == pytest.approx(0.55)
    assert s(1000) == pytest.approx(0.1)
    assert s(10**9) == pytest.approx(0.1)
    assert s(-5) == 1.0


def test_constant():
    assert constant(3e-4)(0) == constant(3e-4)(10**7) == 3e-4
