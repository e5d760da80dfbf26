"""Find input files (paths, folders, globs), tell their kind, and group them into tasks."""

from __future__ import annotations

import glob
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from llm_pretrain.errors import UsageError
from llm_pretrain.storage import url_error

# Longest suffix first: `.warc.wet.gz` must win over `.gz`.
KIND_BY_SUFFIX = {
    ".warc.wet.gz": "warc",
    ".warc.gz": "warc",
    ".warc": "warc",
    ".wet.gz": "warc",
    ".wet": "warc",
    ".html.gz": "html",
    ".htm.gz": "html",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".txt.gz": "text",
    ".txt": "text",
    ".md": "text",
    ".jsonl.gz": "jsonl",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
# Kinds holding many documents: each file is its own task.
CONTAINER_KINDS = {"warc", "jsonl", "parquet"}


class InputError(UsageError, ValueError):
    """An input argument that names nothing readable (a usage error: exit code 2)."""


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


def kind_of(path: str) -> str | None:
    lower = path.lower()
    for suffix, kind in KIND_BY_SUFFIX.items():
        if lower.endswith(suffix):
            return kind
    return None


def discover(arguments: list[str]) -> tuple[list[InputFile], list[str]]:
    """Expand arguments into supported files (sorted, unique) and unsupported ones (reported).

    Hidden files and folders are ignored inside folders. An argument that matches nothing is
    an error: a typo must not silently produce an empty dataset. Files that cannot be opened
    safely (FIFOs, devices, broken or looping links) and folders that cannot be listed come
    back with a `problem`.
    """
    found: dict[str, InputFile] = {}
    unsupported: list[str] = []
    for argument in arguments:
        if not argument.strip():
            raise InputError("an --input is empty")
        if (problem := url_error(argument)) is not None:
            raise InputError(problem)
        unlisted: list[OSError] = []
        matches = _expand(argument, unlisted)
        if not matches and not unlisted:
            if not glob.has_magic(argument) and not os.path.lexists(argument):
                raise InputError(f"input {argument} does not exist")
            raise InputError(f"input {argument!r} matches no file")
        for error in unlisted:  # a folder the walk could not enter: recorded, not skipped
            folder = os.path.normpath(str(error.filename))
            problem = f"is a folder that cannot be listed: {error.strerror or error}"
            found[folder] = InputFile(folder, "folder", 0, 0, problem)
        for path in matches:
            kind = kind_of(path)
            if kind is None:
                unsupported.append(path)
                continue
            found[path] = inspect(path, kind)
    return [found[path] for path in sorted(found)], sorted(set(unsupported))


def _expand(argument: str, unlisted: list[OSError]) -> list[str]:
    """The files an argument names; folders that cannot be listed go into `unlisted`."""
    if glob.has_magic(argument):
        paths = sorted(glob.glob(argument, recursive=True))
        return [p for path in paths for p in _expand(path, unlisted)] if paths else []
    path = Path(argument)
    if path.is_dir():
        files = []
        for root, dirs, names in os.walk(path, onerror=unlisted.append):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files += [os.path.normpath(os.path.join(root, n)) for n in names if n[0] != "."]
        return files
    if os.path.lexists(argument):  # a file, or something discover() records as a problem
        return [os.path.normpath(argument)]
    return []


@dataclass(frozen=True)
class ExtractTask:
    index: int
    files: tuple[InputFile, ...]
    # (place, reason, detail) of each worker of an earlier attempt that died: a place where
    # two died is skipped, rejected with the reason (see pipeline/watchdog.py).
    deaths: tuple[tuple[str, str, str], ...] = ()

    @property
    def input_bytes(self) -> int:
        return sum(f.size for f in self.files)


def plan_tasks(files: list[InputFile], max_files: int, max_bytes: int) -> list[ExtractTask]:
    """Containers (WARC, JSONL, Parquet) alone; small files batched in order up to the limits."""
    tasks: list[ExtractTask] = []
    batch: list[InputFile] = []

    def close_batch() -> None:
        if batch:
            tasks.append(ExtractTask(len(tasks), tuple(batch)))
            batch.clear()

    for item in files:
        if item.kind in CONTAINER_KINDS:
            close_batch()
            tasks.append(ExtractTask(len(tasks), (item,)))
            continue
        batch_bytes = sum(f.size for f in batch)
        if batch and (len(batch) >= max_files or batch_bytes + item.size > max_bytes):
            close_batch()
        batch.append(item)
    close_batch()
    return tasks
