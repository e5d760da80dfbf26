"""One refresh at a time per work folder: the `flock` of `CORPUS/.refresh.lock`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm_pretrain.pipeline import lock
from llm_pretrain.pipeline.lock import Locked

LOCK_FILE = ".refresh.lock"

__all__ = ["LOCK_FILE", "Locked", "is_locked", "lock_holder", "workdir_lock"]


@contextmanager
def workdir_lock(workdir: Path) -> Iterator[dict[str, Any]]:
    """Hold the work folder's lock for the block, or raise `Locked` at once."""
    with lock.folder_lock(workdir / LOCK_FILE, "being refreshed") as me:
        yield me


def lock_holder(workdir: Path) -> dict[str, Any] | None:
    return lock.lock_holder(workdir / LOCK_FILE)


def is_locked(workdir: Path) -> bool:
    return lock.is_locked(workdir / LOCK_FILE)
