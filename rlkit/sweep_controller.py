"""submitit_local's job controller, its tasks started with SIGTERM ignored from their first instruction.

rlkit's submitit_local sweeps run this in place of ``python -m submitit.local._local``
(``rlkit.sweeps.watch_submitit_local_sweep``). submitit's controller forwards SIGTERM to its task
from the moment it starts it; a task the signal reaches before its handlers are in place dies
without a result, and the launching process then ends in submitit's error for that job, with no
summary. Here SIGTERM is blocked in the controller around each fork, and the child sets it to
SIG_IGN, a disposition exec keeps, before it unblocks it and execs the task; submitit's handler,
then the job's, replace the ignore. A SIGTERM that reached a task before that is discarded: the
launching process marks the sweep stopped before it forwards one, and the job finds the mark.
The controller's own SIGTERM, blocked meanwhile, is forwarded once the tasks have started.

    python -m rlkit.sweep_controller <submitit folder>      (as python -m submitit.local._local)
"""

from __future__ import annotations

import functools
import signal
import subprocess
import sys
from pathlib import Path

from submitit.local import local


def _task_ignores_sigterm() -> None:
    """Runs in the task between fork and exec (the controller has no other threads)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


class Controller(local.Controller):
    def start_tasks(self) -> None:
        popen = subprocess.Popen
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        subprocess.Popen = functools.partial(popen, preexec_fn=_task_ignores_sigterm)  # submitit's call, as it is
        try:
            super().start_tasks()
        finally:
            subprocess.Popen = popen
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a SIGTERM meanwhile is handled (forwarded) now


if __name__ == "__main__":
    assert len(sys.argv) == 2, "usage: python -m rlkit.sweep_controller <submitit folder>"
    Controller(Path(sys.argv[1])).run()
