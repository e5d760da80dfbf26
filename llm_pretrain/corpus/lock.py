"""One refresh at a time per work folder.

The lock is an `flock` on `CORPUS/.refresh.lock`: the kernel drops it when its process ends,
however it ends (crash, SIGKILL, reboot), so a lock left by a dead run is simply free for the
next one; nothing has to guess from a pid whether it is stale. The file holds the holder's pid,
host and start time, for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOCK_FILE = ".refresh.lock"
EX_TEMPFAIL = 75  # sysexits.h: try again later


class Locked(RuntimeError):
    """Another run holds the work folder."""

    exit_code = EX_TEMPFAIL


def lock_holder(workdir: Path) -> dict[str, Any] | None:
    """Who holds (or last held) the lock, as the holder wrote it."""
    try:
        return json.loads((workdir / LOCK_FILE).read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None


@contextmanager
def workdir_lock(workdir: Path) -> Iterator[dict[str, Any]]:
    """Hold the work folder's lock for the block, or raise `Locked` at once."""
    workdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(workdir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(workdir) or {}
            since = holder.get("started_at", "an unknown time")
            raise Locked(
                f"{workdir} is being refreshed by pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')} since {since}; try again later"
            ) from None
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield me
    finally:
        os.close(fd)  # releases the flock


def is_locked(workdir: Path) -> bool:
    """Whether a run holds the lock now (tried without waiting, released at once)."""
    path = workdir / LOCK_FILE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
