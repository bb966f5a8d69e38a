import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from rlkit.build import set_cpu_threads, torch_threads


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["internal_api"] in ("openblas", "blis")]


def test_cpu_threads_set_torch_and_hold_numpy_blas_to_one_thread():
    """The host forwards multiply in numpy: its BLAS must not start threads that spin against torch's."""
    np.ones((64, 64)) @ np.ones((64, 64))  # numpy's BLAS is loaded (OpenBLAS in numpy's wheels)
    assert _blas_threads()
    before = torch.get_num_threads()
    with threadpool_limits(limits=2, user_api="blas"):  # restores the process's limits afterwards
        assert max(_blas_threads()) == 2
        set_cpu_threads(1)
        assert torch.get_num_threads() == 1
        assert max(_blas_threads()) == 1
    torch.set_num_threads(before)


@pytest.mark.parametrize("setting, sharing, expected", [("3", 1, (3, "set")), ("2", 4, (2, "set"))])
def test_a_set_thread_count_is_taken_as_given(setting, sharing, expected):
    assert torch_threads(setting, sharing) == expected
