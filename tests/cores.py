"""Cores for the test processes. `make test` runs two pytest-xdist workers on a 2-core machine:
each worker is pinned to a core of its own, so the jobs it runs in-process see one core and
``hardware.torch_threads: auto`` gives them one torch thread. Two workers with two torch threads
each would oversubscribe the cores, and OpenMP's waiting threads then spin on the cores the other
worker needs, which slows both many times over. A test that runs processes side
by side (the learning seeds, the bad-input commands) gives its children every core back
(``preexec_fn=use_all_cores``)."""

from __future__ import annotations

import os

ALL_CORES = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()


def pin_xdist_worker() -> None:
    """In an xdist worker (gw0, gw1, ...), keep only core ``index % cores``; elsewhere nothing."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or len(ALL_CORES) < 2:
        return
    cores = sorted(ALL_CORES)
    os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})


def use_all_cores() -> None:
    """A child process's ``preexec_fn``: every core the test session started with."""
    if ALL_CORES:
        os.sched_setaffinity(0, ALL_CORES)
