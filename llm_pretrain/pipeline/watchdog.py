"""A hard time limit for what SIGALRM cannot stop, and a cursor that tells the parent which
document (or file) a dead worker was on, so that only that one is rejected.

The per-document limit (`limits.time_limit`) is SIGALRM: Python runs its handler only between
bytecodes, so C code that holds the GIL (a parser stuck in a hostile PDF or page) runs on. The
hard limit is faulthandler's watchdog, a C thread: when it is not re-armed in time it writes
every thread's stack to the task's trace file and ends the process (`_exit(1)`), whatever the
main thread is stuck in. Arming costs ~80 us, so it is re-armed lazily as the work progresses
(at most every quarter of the limit): it fires after 3/4 to all of the limit without progress.

Before each watched conversion the worker writes its place (`doc F N`: the N-th outcome of the
task's F-th file; `file F` between conversions) into its cursor file, one `pwrite`. When the
worker dies, the parent reads the cursor and runs the task again with that document (or the
rest of that file) skipped and recorded with its reason; everything else is kept.
"""

from __future__ import annotations

import faulthandler
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_WIDTH = 64  # bytes of the cursor record, padded: a shorter write leaves no old tail behind
_current: Watch | None = None


def cursor_path(folder: Path, index: int) -> Path:
    return folder / f"watch-{index:05d}"


def trace_path(folder: Path, index: int) -> Path:
    return folder / f"watch-{index:05d}.trace"


class Watch:
    """The watchdog and cursor of one task, in its worker process."""

    def __init__(self, folder: Path, index: int, limit_s: float, skip: Mapping[str, str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.cursor = os.open(cursor_path(folder, index), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        self.trace = open(trace_path(folder, index), "w")  # noqa: SIM115 (closed in close())
        self.limit_s, self.skip = limit_s, dict(skip)
        self.armed_at = float("-inf")
        self.file = self.ordinal = 0

    def start_file(self, file: int) -> tuple[str, str] | None:
        """Reading begins on the task's `file`-th file; (reason, detail) to skip it, if any."""
        self.file, self.ordinal = file, 0
        self._write(f"file {file}")
        self.tick()
        return self.skip.get(f"file {file}")

    def at(self, ordinal: int) -> None:
        """The next outcome of the file is its `ordinal`-th: progress."""
        self.ordinal = ordinal
        self.tick()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.armed_at > self.limit_s / 4:
            faulthandler.dump_traceback_later(self.limit_s, exit=True, file=self.trace)
            self.armed_at = now

    @contextmanager
    def converting(self) -> Iterator[tuple[str, str] | None]:
        """Around one document's conversion: yields (reason, detail) to skip it, or None."""
        key = f"doc {self.file} {self.ordinal}"
        if key in self.skip:
            yield self.skip[key]
            return
        self._write(key)
        self.tick()
        try:
            yield None
        finally:
            self._write(f"file {self.file}")

    def _write(self, text: str) -> None:
        os.pwrite(self.cursor, text.encode().ljust(_WIDTH), 0)

    def close(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        os.close(self.cursor)
        self.trace.close()


@contextmanager
def watching(
    folder: Path, index: int, limit_s: float, skip: Mapping[str, tuple[str, str]]
) -> Iterator[Watch]:
    """A task's watch for the block (in a worker process: the watchdog ends the process)."""
    global _current
    watch = Watch(folder, index, limit_s, skip)
    _current = watch
    try:
        yield watch
    finally:
        _current = None
        watch.close()


@contextmanager
def converting() -> Iterator[tuple[str, str] | None]:
    """The current task's `Watch.converting`; nothing to watch outside a task."""
    if _current is None:
        yield None
        return
    with _current.converting() as skipped:
        yield skipped


@dataclass(frozen=True)
class DeadWorker:
    """Where a task's worker was when it died, as its cursor and trace files say."""

    key: str  # "doc F N" or "file F"
    hung: bool  # the watchdog ended it (a trace was written), rather than a crash
    where: str  # the innermost frame of the trace, for the rejection's metadata


def dead_worker(folder: Path, index: int) -> DeadWorker | None:
    """What the cursor of task `index` says, or None when its worker never got to a file."""
    try:
        key = cursor_path(folder, index).read_bytes().decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not key:
        return None
    try:
        trace = trace_path(folder, index).read_text(errors="replace")
    except OSError:
        trace = ""
    frames = [line.strip() for line in trace.splitlines() if line.strip().startswith("File ")]
    return DeadWorker(key, bool(trace.strip()), frames[0] if frames else "")
