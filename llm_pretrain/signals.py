"""SIGINT and SIGTERM as the stops they are: Ctrl-C, and a scheduler's preemption notice
(Slurm and Kubernetes send SIGTERM, then SIGKILL after a grace period).

The commands turn either into an exception that unwinds normally (the data stages keep their
finished tasks) and exit with 128 + the signal's number (130, 143) and a line saying how to
continue. Training asks for more: `graceful_stop` lets the step that is running finish, so that
a checkpoint can be written, and only a second signal stops at once.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; `signum` says which (SIGINT is Python's own KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_number(exc: KeyboardInterrupt) -> int:
    return getattr(exc, "signum", signal.SIGINT)


def exit_code(signum: int) -> int:
    """The shell's convention for a process ended by a signal."""
    return 128 + signum


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def stops_raise() -> Iterator[None]:
    """SIGTERM raises `Interrupted` in the block, as SIGINT raises KeyboardInterrupt, instead of
    ending the process where it stands (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# The same signal again within this time is the same request delivered twice: under Slurm with
# torchrun, a worker gets SIGTERM from the job step and again from the agent passing it on.
REPEAT_S = 1.0


class GracefulStop:
    """Notes the first SIGINT or SIGTERM for the loop to act on; a second one stops at once
    (unless it is the same signal again within REPEAT_S: a copy of the first)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.at = 0.0

    def _note(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.signum is None:
            self.signum, self.at = signum, now
        elif signum != self.signum or now - self.at > REPEAT_S:
            raise Interrupted(signum)

    @property
    def requested(self) -> bool:
        return self.signum is not None


@contextmanager
def graceful_stop() -> Iterator[GracefulStop]:
    """Within the block, SIGINT and SIGTERM only set the returned object's `signum`."""
    stop = GracefulStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop._note) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
