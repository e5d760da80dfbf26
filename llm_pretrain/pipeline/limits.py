"""A per-document time limit, so one hostile page cannot stall a worker.

SIGALRM interrupts Python code (trafilatura's tree walks, our loops); a call stuck inside C
for longer is caught by the executor's per-task limit, which kills the worker.

The libraries we call catch broad exceptions (trafilatura's fallbacks `except Exception`), and
one that caught the timeout would carry on past the limit. So the timeout is not an Exception
(a BaseException, as KeyboardInterrupt), and a block whose alarm went off raises it when it
ends normally even if something caught it with a bare `except:` (one that raised another
error instead ends the document with that error).

A limit inside another (a document's inside a task's on Ray, ray_executor.py) re-arms the outer
timer with what is left of it when it ends.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class DocumentTimeout(BaseException):
    """Raised inside the guarded block when its time is up."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise DocumentTimeout in this block after `seconds` (main thread only; else no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def expire(signum: int, frame: object) -> None:
        nonlocal fired
        fired = True
        raise DocumentTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # the outer limit goes on, with the time it has left
            left = max(outer_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
    if fired:  # the block ended normally: something swallowed the timeout
        raise DocumentTimeout
