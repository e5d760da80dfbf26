"""A hard time limit for what SIGALRM cannot stop, and a cursor that tells the parent where a
dead worker was, so that only that document (or the rest of that file) is lost.

The per-document limit (`limits.time_limit`) is SIGALRM: Python runs its handler only between
bytecodes, so C code that holds the GIL (a parser stuck in a hostile PDF or page) runs on. The
hard limit is faulthandler's watchdog, a C thread: when it is not re-armed in time it writes
every thread's stack to the task's trace file and ends the process (`_exit(1)`), whatever the
main thread is stuck in. Arming costs ~80 us, so it is re-armed lazily as the task progresses
(at most every quarter of the limit): it fires after 3/4 to all of the limit without progress.

The worker keeps its place in a cursor file it maps into memory (a few bytes written per
outcome, no system call): `doc F N` while it converts the N-th outcome of the task's F-th
file, `read F N` while it reads towards it. When the worker dies the parent reads the cursor
and runs the task again. A place that kills two attempts (a stuck parser, a document that
crashes its worker or exhausts memory) is then skipped: the document is rejected with its
reason, or the file is read no further than that outcome; one death alone (the OOM killer
taking another process's share, a suspended job, a stalled mount) costs only a retry.
"""

from __future__ import annotations

import faulthandler
import mmap
import struct
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_CURSOR = struct.Struct("<Bqq")  # state, file, outcome
_STATES = {1: "read", 2: "doc"}
_current: Watch | None = None


def cursor_path(folder: Path, index: int) -> Path:
    return folder / f"watch-{index:05d}"


def trace_path(folder: Path, index: int) -> Path:
    return folder / f"watch-{index:05d}.trace"


class Watch:
    """The watchdog and cursor of one task, in its worker process. `skip` maps a place
    ("doc F N", "read F N") to the (reason, detail) of rejecting it unread."""

    def __init__(
        self, folder: Path, index: int, limit_s: float, skip: Mapping[str, tuple[str, str]]
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        path = cursor_path(folder, index)
        path.write_bytes(bytes(_CURSOR.size))
        with open(path, "r+b") as handle:
            self.cursor = mmap.mmap(handle.fileno(), _CURSOR.size)
        self.trace = open(trace_path(folder, index), "w")  # noqa: SIM115 (closed in close())
        self.limit_s, self.skip = limit_s, dict(skip)
        self.armed_at = float("-inf")
        self.file = self.outcome = 0

    def reading(self, file: int, outcome: int) -> tuple[str, str] | None:
        """The worker reads towards the `outcome`-th outcome of its `file`-th file; (reason,
        detail) when the file is to be read no further, else None."""
        self.file, self.outcome = file, outcome
        _CURSOR.pack_into(self.cursor, 0, 1, file, outcome)
        self._tick()
        return self.skip.get(f"read {file} {outcome}")

    @contextmanager
    def converting(self) -> Iterator[tuple[str, str] | None]:
        """Around one document's conversion: yields (reason, detail) to skip it, or None."""
        skipped = self.skip.get(f"doc {self.file} {self.outcome}")
        if skipped is not None:
            yield skipped
            return
        _CURSOR.pack_into(self.cursor, 0, 2, self.file, self.outcome)
        self._tick()
        try:
            yield None
        finally:
            _CURSOR.pack_into(self.cursor, 0, 1, self.file, self.outcome)

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self.armed_at > self.limit_s / 4:
            faulthandler.dump_traceback_later(self.limit_s, exit=True, file=self.trace)
            self.armed_at = now

    def close(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        self.cursor.close()
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


def progress() -> None:
    """Reading goes on (a long block being skipped, a long line read through): not a hang."""
    if _current is not None:
        _current._tick()


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

    key: str  # "doc F N" or "read F N"
    hung: bool  # the watchdog ended it (a trace was written), rather than a crash
    where: str  # the innermost frame of the trace, for the rejection's metadata


def dead_worker(folder: Path, index: int) -> DeadWorker | None:
    """What the cursor of task `index` says, or None when its worker never got to a file."""
    try:
        state, file, outcome = _CURSOR.unpack(cursor_path(folder, index).read_bytes())
    except (OSError, struct.error):
        return None
    if state not in _STATES:
        return None
    try:
        trace = trace_path(folder, index).read_text(errors="replace")
    except OSError:
        trace = ""
    frames = [line.strip() for line in trace.splitlines() if line.strip().startswith("File ")]
    key = f"{_STATES[state]} {file} {outcome}"
    return DeadWorker(key, bool(trace.strip()), frames[0] if frames else "")
