"""rlkit's submitit_local controller starts its tasks with SIGTERM ignored (rlkit/sweep_controller.py)."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

REPORT_SIGTERM = ("import signal; print(signal.getsignal(signal.SIGTERM).name, "
                  "signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []))")


@pytest.mark.parametrize("controller, at_task_start", [
    ("rlkit.sweep_controller", "SIG_IGN False"),  # ignored, not blocked: submitit's handler replaces the ignore
    # submitit's own: the task's first instructions die of a SIGTERM its controller forwards (the reason for ours)
    ("submitit.local._local", "SIG_DFL False"),
])
def test_a_task_starts_with_sigterm_ignored_under_rlkits_controller(controller, at_task_start, tmp_path):
    env = {**os.environ, "SUBMITIT_LOCAL_NTASKS": "1", "SUBMITIT_LOCAL_TIMEOUT_S": "60",
           "SUBMITIT_LOCAL_SIGNAL_DELAY_S": "30", "SUBMITIT_STDERR_TO_STDOUT": "1", "SUBMITIT_LOCAL_WITH_SHELL": "",
           "SUBMITIT_LOCAL_COMMAND": subprocess.list2cmdline([sys.executable, "-c", REPORT_SIGTERM])}
    done = subprocess.run([sys.executable, "-m", controller, str(tmp_path)], cwd=REPO, env=env, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (log,) = tmp_path.glob("*_0_log.out")
    assert log.read_text().strip() == at_task_start
