"""An input file as discovery found it: path, format, size and mtime (which name the run), or
why it is never opened. A module of its own, so that the readers and the format table can
import it without importing discovery."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO

from llm_pretrain.pipeline import watchdog
from llm_pretrain.remote.stores import is_url
from llm_pretrain.remote.streams import open_url


@dataclass(frozen=True)
class InputFile:
    path: str  # as discovered from the argument, normalised; part of every document id
    kind: str
    size: int
    mtime_ns: int
    # Why the file is never opened (a FIFO, a device, a link to nowhere, a name that cannot be
    # stat'ed): it becomes one rejected row with this reason instead of a hang or a crash.
    problem: str | None = None

    def to_json(self) -> dict[str, object]:
        record: dict[str, object] = {
            "path": self.path,
            "kind": self.kind,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
        }
        if self.problem:
            record["problem"] = self.problem
        return record

    @classmethod
    def from_json(cls, record: dict[str, object]) -> InputFile:
        fields = ("path", "kind", "size", "mtime_ns", "problem")
        return cls(**{key: record[key] for key in fields if key in record})  # type: ignore[arg-type]


_SPECIAL = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def inspect(path: str, kind: str) -> InputFile:
    """The file at `path`, without opening it: special files (a FIFO would block a reader
    forever) and files that cannot even be stat'ed get a `problem` instead."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return InputFile(path, kind, 0, 0, f"cannot be read: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        special = _SPECIAL.get(stat.S_IFMT(info.st_mode), "not a regular file")
        return InputFile(path, kind, 0, info.st_mtime_ns, f"is {special}, not a file")
    return InputFile(path, kind, info.st_size, info.st_mtime_ns)


def open_input(path: str) -> BinaryIO:
    """An input file's bytes: a local file, or a URL read as a stream that resumes after a
    dropped connection (remote/streams.py) and keeps the task's watchdog fed meanwhile."""
    if is_url(path):
        return open_url(path, keep_alive=watchdog.progress)
    return open(path, "rb")  # noqa: SIM115 (the caller closes it)
