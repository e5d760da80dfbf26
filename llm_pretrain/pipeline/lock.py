"""One run at a time per folder: a refresh's work folder, a stage's output, a dedup index.

The lock is an `flock` on a file in the folder: the kernel drops it when its process ends,
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

from llm_pretrain.errors import EX_TEMPFAIL, UserError


class Locked(UserError, RuntimeError):
    """Another run holds the folder."""

    exit_code = EX_TEMPFAIL


def lock_holder(path: Path) -> dict[str, Any] | None:
    """Who holds (or last held) the lock file `path`, as the holder wrote it."""
    try:
        return json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None


@contextmanager
def folder_lock(path: Path, what: str) -> Iterator[dict[str, Any]]:
    """Hold the lock file `path` for the block, or raise `Locked` at once.

    `what` names the work in the message, e.g. "being refreshed" or "being written".
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(path) or {}
            since = holder.get("started_at", "an unknown time")
            raise Locked(
                f"{path.parent} is {what} by pid {holder.get('pid', '?')} on "
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


def is_locked(path: Path) -> bool:
    """Whether a run holds the lock file `path` now (tried without waiting, released at once)."""
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
