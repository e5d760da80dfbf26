"""Live progress shared by worker processes: documents and input bytes done, shown by the parent.

Workers add to two shared counters as they go (a task can be a 1 GB WARC, so counting only
finished tasks would leave the bar still for minutes). The parent redraws a tqdm bar on stderr
when it is a terminal, and otherwise (cron, a log file) logs a progress line every 30 s.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
import time
from typing import Any

from tqdm import tqdm

_shared: tuple[Any, Any] | None = None  # (documents, bytes) in a worker process
LOG_INTERVAL_S = 30.0
log = logging.getLogger(__name__)


def attach(documents: Any, nbytes: Any) -> None:
    """Worker initializer: remember the parent's shared counters."""
    global _shared
    _shared = (documents, nbytes)


def report(documents: int = 0, nbytes: int = 0) -> None:
    """Count work done; a no-op outside a pool (e.g. when a task runs in-process in a test)."""
    if _shared is None:
        return
    if documents:
        with _shared[0].get_lock():
            _shared[0].value += documents
    if nbytes:
        with _shared[1].get_lock():
            _shared[1].value += nbytes


class ProgressBar:
    """Parent side: owns the shared counters and a thread that redraws the bar."""

    def __init__(self, total_bytes: int, description: str, enabled: bool) -> None:
        self.documents = multiprocessing.Value("q", 0)
        self.nbytes = multiprocessing.Value("q", 0)
        self.enabled = enabled
        self.draw = enabled and sys.stderr.isatty()
        self.description = description
        self.total_bytes = total_bytes
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._bar = tqdm(
            total=total_bytes,
            desc=description,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not self.draw,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        self._thread = threading.Thread(target=self._refresh_loop, daemon=True)

    @property
    def elapsed(self) -> float:
        """Seconds since the bar started."""
        return time.monotonic() - self.started

    @property
    def counters(self) -> tuple[Any, Any]:
        return self.documents, self.nbytes

    def add(self, documents: int, nbytes: int) -> None:
        """Count a finished task's work (executors whose workers cannot reach the counters)."""
        with self.documents.get_lock():
            self.documents.value += documents
        with self.nbytes.get_lock():
            self.nbytes.value += nbytes

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._redraw()
        self._bar.close()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(0.5 if self.draw else LOG_INTERVAL_S):
            self._redraw() if self.draw else self._log_line()

    def _log_line(self) -> None:
        docs, done = self.documents.value, self.nbytes.value
        elapsed = max(time.monotonic() - self.started, 1e-9)
        share = done / self.total_bytes if self.total_bytes else 0.0
        log.info(
            "%s: %s docs, %.1f of %.1f MB read (%.0f%%), %.1f docs/s",
            self.description,
            f"{docs:,}",
            done / 1e6,
            self.total_bytes / 1e6,
            100 * share,
            docs / elapsed,
        )

    def _redraw(self) -> None:
        if not self.draw:
            return
        docs = self.documents.value
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self._bar.n = min(self.nbytes.value, self._bar.total or self.nbytes.value)
        self._bar.set_postfix_str(f"{docs:,} docs, {docs / elapsed:,.1f} docs/s", refresh=False)
        self._bar.refresh()
