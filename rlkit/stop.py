"""Stop requests: SIGINT / SIGTERM become a flag that a loop checks, so a run saves before it exits.

Kept free of heavy imports: a sweep's joblib workers install one before they take a job
(rlkit.sweeps.protect_worker), and should be covered from their start."""

from __future__ import annotations

import os
import signal
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def launcher_preemption_signal() -> signal.Signals | None:
    """The signal by which a cluster launcher that requeues jobs says this job is preempted or near
    its time limit, where such a launcher handles one in this process: submitit (Hydra's
    submitit_slurm / submitit_local) sends SIGUSR2 (or the one named by SUBMITIT_PREEMPT_SIGNAL),
    and its handler requeues the job and exits. A run takes it over to save a checkpoint first,
    then hands it back (``pass_on_preemption``)."""
    sig = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)
    if not isinstance(sig, signal.Signals):
        return None
    handler = signal.getsignal(sig)
    launchers = callable(handler) and str(getattr(handler, "__module__", "")).startswith("submitit")
    return sig if launchers else None


# the launcher's preemption signal reached a run of this process (in whatever order with other
# signals: a preemption may come as SIGTERM first); the run saved, the launcher's handler is owed it
_preemption_received: signal.Signals | None = None


def pass_on_preemption() -> str | None:
    """After a run that the launcher's preemption signal stopped has saved its checkpoint: call the
    launcher's handler, as the signal would have. submitit then requeues the job and exits (the
    requeued job continues the run: rlkit.launch.requeued_here). Returns why the launcher did not
    requeue it (submitit raises when no requeue is left), None when there was nothing to pass on."""
    global _preemption_received
    sig, _preemption_received = _preemption_received, None
    if sig is None or launcher_preemption_signal() != sig:
        return None
    try:
        signal.getsignal(sig)(sig, None)
    except Exception as err:  # noqa: BLE001 - the launcher's refusal, reported with the job's outcome
        return " ".join(f"{type(err).__name__}: {err}".split())
    return None


def preemption_received() -> bool:
    """The launcher's preemption signal reached a run of this process, and is not passed on yet."""
    return _preemption_received is not None


class StopRequest:
    """SIGTERM / SIGINT (and a launcher's preemption signal where one is handled, or ``request``)
    set a flag the loop checks once per vector step; it then saves a checkpoint and exits. The first
    signal names the stop: a sweep forwards SIGTERM to jobs that a Ctrl-C reached already, and their
    stop stays a Ctrl-C's. A second Ctrl-C stops at once (KeyboardInterrupt) unless
    ``interrupt_twice`` is false.

    Installed over another StopRequest (a sweep worker's, or a launcher task's job-wide one), it
    takes over that one's stop and hands the signal it gets back on ``restore``: a signal that lands
    before or after the loop (env build, final save) is not lost, and the worker starts no job after
    it."""

    def __init__(self, interrupt_twice: bool = True, take_preemption: bool = True) -> None:
        self.signal_name: str | None = None
        self.interrupt_twice = interrupt_twice
        self.take_preemption = take_preemption  # false: the launcher's preemption signal stays its own
        self.received: str | None = None  # the first signal, not a stop of the run's own (``request``)
        self._previous: dict[int, Any] = {}
        self._outer: StopRequest | None = None
        self._preemption: signal.Signals | None = None  # the launcher's, taken over while installed

    def install(self) -> None:
        launchers = launcher_preemption_signal()  # (submitit's may be SIGTERM itself)
        self._preemption = launchers if self.take_preemption else None
        signals = dict.fromkeys(STOP_SIGNALS + ((launchers,) if launchers is not None else ()))
        if not self.take_preemption:
            signals.pop(launchers, None)  # it stays the launcher's
        for sig in signals:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. some launchers): no handler
                continue
            outer = getattr(self._previous[sig], "__self__", None)
            if isinstance(outer, StopRequest):
                self._outer = outer
        if self._outer is not None and self._outer.received is not None:
            self._signalled(self._outer.received)

    def _handle(self, signum, frame) -> None:
        global _preemption_received
        if signum == self._preemption:
            _preemption_received = self._preemption
        if self.received is not None and signum == signal.SIGINT and self.interrupt_twice:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self._signalled(signal.Signals(signum).name)

    def _signalled(self, name: str) -> None:
        if self.received is None:
            self.received = name
        if self.signal_name is None:
            self.signal_name = name

    def request(self, reason: str) -> None:
        """Stop for a reason of the run's own (e.g. the health verdict), like a signal would."""
        if self.signal_name is None:
            self.signal_name = reason

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        if self._outer is not None and self.received is not None:
            self._outer._signalled(self.received)

    @property
    def requested(self) -> bool:
        return self.signal_name is not None
