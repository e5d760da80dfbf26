"""The per-document time limit holds even inside code that catches broad exceptions, as the
libraries we call do (trafilatura's fallbacks catch `Exception`)."""

from __future__ import annotations

import signal
import time

import pytest

from llm_pretrain.pipeline.limits import DocumentTimeout, time_limit


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def catches_exception() -> str:
    try:
        busy(2.0)
    except Exception:
        return "swallowed"
    return "finished"


def catches_everything() -> str:
    try:
        busy(2.0)
    except:  # noqa: E722 (the library code this test stands for)
        return "swallowed"
    return "finished"


@pytest.mark.parametrize("work", [catches_exception, catches_everything])
def test_a_timeout_is_not_swallowed(work):
    with pytest.raises(DocumentTimeout), time_limit(0.05):
        work()


def test_a_block_within_its_time_is_untouched():
    with time_limit(5.0):
        busy(0.01)


class OuterTimeout(Exception):
    """The task's own limit (as on Ray), around the documents' limits."""


def test_a_document_limit_leaves_the_outer_limit_armed():
    def expire(*_: object) -> None:
        raise OuterTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(OuterTimeout):
            with time_limit(5.0):
                busy(0.01)  # a document well within its limit
            busy(5.0)  # the rest of the task: the outer limit must still end it
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
