"""StopRequest: the first signal names the stop; nested over a sweep worker's, no signal is lost."""

from __future__ import annotations

import signal

import pytest

from rlkit.stop import StopRequest, pass_on_preemption, preemption_received


@pytest.fixture(autouse=True)
def _handlers_put_back():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_the_first_signal_names_the_stop_and_a_second_ctrl_c_stops_at_once():
    before = signal.getsignal(signal.SIGINT)  # (SIG_IGN in a background job of a non-interactive shell)
    stop = StopRequest()
    stop.install()
    signal.raise_signal(signal.SIGINT)
    signal.raise_signal(signal.SIGTERM)  # e.g. a sweep's forward after a Ctrl-C reached the job
    assert stop.signal_name == "SIGINT"
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    stop.restore()
    assert signal.getsignal(signal.SIGINT) is before


def test_without_interrupt_twice_a_second_ctrl_c_is_recorded_only():
    stop = StopRequest(interrupt_twice=False)
    stop.install()
    signal.raise_signal(signal.SIGTERM)
    signal.raise_signal(signal.SIGINT)
    assert stop.signal_name == "SIGTERM"


def test_a_nested_request_takes_the_outer_signal_and_hands_its_own_back():
    outer = StopRequest(interrupt_twice=False)
    outer.install()
    signal.raise_signal(signal.SIGTERM)  # before the loop (env build)
    inner = StopRequest()
    inner.install()
    assert inner.signal_name == "SIGTERM"  # the loop stops at its first check
    inner.restore()
    outer.restore()

    outer, inner = StopRequest(interrupt_twice=False), StopRequest()
    outer.install()
    inner.install()
    assert not inner.requested
    signal.raise_signal(signal.SIGINT)  # during the loop: the inner one's
    assert inner.signal_name == "SIGINT" and not outer.requested
    inner.restore()
    assert outer.signal_name == "SIGINT"  # the worker starts no job after it
    assert signal.getsignal(signal.SIGINT) == outer._handle


def test_a_stop_of_the_runs_own_is_not_handed_back():
    outer, inner = StopRequest(interrupt_twice=False), StopRequest()
    outer.install()
    inner.install()
    inner.request("health verdict (hopeless)")
    inner.restore()
    assert not outer.requested  # the worker's next job runs

    inner = StopRequest()
    inner.install()
    inner.request("health verdict (hopeless)")
    signal.raise_signal(signal.SIGTERM)
    assert inner.signal_name == "health verdict (hopeless)"  # the first reason names the stop
    inner.restore()
    assert outer.signal_name == "SIGTERM"  # and the signal still stops the sweep


def _as_submitits(handler):
    handler.__module__ = "submitit.core.job_environment"  # where submitit's requeueing handler lives
    return handler


def test_a_launchers_preemption_signal_is_taken_in_any_order_and_handed_back_to_the_launcher():
    calls = []
    requeue = _as_submitits(lambda signum, frame: calls.append(signum))
    signal.signal(signal.SIGUSR2, requeue)
    stop = StopRequest()
    stop.install()
    signal.raise_signal(signal.SIGTERM)  # a preemption may come as SIGTERM first
    signal.raise_signal(signal.SIGUSR2)
    assert stop.signal_name == "SIGTERM" and preemption_received() and calls == []  # the run saves first
    stop.restore()
    assert signal.getsignal(signal.SIGUSR2) is requeue
    assert pass_on_preemption() is None and calls == [signal.SIGUSR2] and not preemption_received()
    assert pass_on_preemption() is None and calls == [signal.SIGUSR2]  # once

    def refuse(signum, frame):
        raise RuntimeError("Job not requeued because: timed-out too many times.")
    signal.signal(signal.SIGUSR2, _as_submitits(refuse))
    stop = StopRequest()
    stop.install()
    signal.raise_signal(signal.SIGUSR2)
    stop.restore()
    assert stop.signal_name == "SIGUSR2"
    assert pass_on_preemption() == "RuntimeError: Job not requeued because: timed-out too many times."


def test_sigusr2_without_a_launchers_handler_is_left_alone():
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    stop = StopRequest()
    stop.install()
    assert signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN
    signal.raise_signal(signal.SIGUSR2)
    stop.restore()
    assert not stop.requested and not preemption_received()


@pytest.mark.parametrize("name", ["USR2", "TERM"])  # submitit's default, and SUBMITIT_PREEMPT_SIGNAL=TERM
def test_a_job_wide_request_leaves_the_preemption_signal_to_the_run_inside_it(name, monkeypatch):
    # a launcher task's job records SIGINT / SIGTERM from its start (rlkit.__main__), but a run must
    # still find submitit's handler to take the preemption signal over (once, even where it is
    # SIGTERM), save, put submitit's handler back and hand the signal on
    monkeypatch.setenv("SUBMITIT_PREEMPT_SIGNAL", name)
    preemption = getattr(signal, "SIG" + name)
    calls = []
    requeue = _as_submitits(lambda signum, frame: calls.append(signum))
    signal.signal(preemption, requeue)
    job = StopRequest(interrupt_twice=False, take_preemption=False)
    job.install()
    assert signal.getsignal(preemption) is requeue
    signal.raise_signal(signal.SIGINT)  # before the run: recorded
    run = StopRequest()
    run.install()
    assert run.signal_name == "SIGINT"  # taken over from the job's
    signal.raise_signal(preemption)
    assert preemption_received() and calls == []
    run.restore()
    assert signal.getsignal(preemption) is requeue
    job.restore()
    assert signal.getsignal(preemption) is requeue
    assert pass_on_preemption() is None and calls == [preemption]
