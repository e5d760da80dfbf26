"""Find input files (paths, folders, globs), tell their format, and group them into tasks."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from llm_pretrain.errors import UsageError
from llm_pretrain.pipeline.extract.formats import FORMATS, format_of
from llm_pretrain.pipeline.extract.input_file import InputFile, inspect
from llm_pretrain.remote import listing
from llm_pretrain.remote.stores import is_url, name_part


class InputError(UsageError, ValueError):
    """An input argument that names nothing readable (a usage error: exit code 2)."""


def kind_of(path: str) -> str | None:
    """The name of the format a file's name claims (see formats.py), or None."""
    format = format_of(name_part(path))
    return format.name if format is not None else None


def discover(
    arguments: list[str], base_url: str | None = None, paths_range: str | None = None
) -> tuple[list[InputFile], list[str]]:
    """Expand arguments into supported files (sorted, unique) and unsupported ones (reported).

    An argument may be a URL (a store prefix or object, a glob in a store, a web file) or a
    path list (`*.paths.gz`, local or a URL: paths relative to `base_url`, the lines
    `paths_range` selects): see remote/listing.py. Their files are known by URL, size and
    modification time where the store tells them (a web file's are 0: not known unread).

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
        if is_url(argument) or listing.is_path_list(argument):
            for url, size, mtime_ns in _listed(argument, base_url, paths_range):
                kind = kind_of(url)
                if kind is None:
                    unsupported.append(url)
                else:
                    found[url] = InputFile(url, kind, size, mtime_ns)
            continue
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


def _listed(
    argument: str, base_url: str | None, paths_range: str | None
) -> list[tuple[str, int, int]]:
    try:
        return listing.named_files(argument, base_url, paths_range)
    except listing.ListingError as exc:
        raise InputError(str(exc)) from None


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

    def describe(self) -> str:
        """The task's files, the first three named."""
        names = [file.path for file in self.files]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return ", ".join(names[:3]) + more


def plan_tasks(files: list[InputFile], max_files: int, max_bytes: int) -> list[ExtractTask]:
    """Containers (WARC, JSONL, Parquet) alone; small files batched in order up to the limits."""
    tasks: list[ExtractTask] = []
    batch: list[InputFile] = []

    def close_batch() -> None:
        if batch:
            tasks.append(ExtractTask(len(tasks), tuple(batch)))
            batch.clear()

    for item in files:
        if item.kind in FORMATS and FORMATS[item.kind].container:
            close_batch()
            tasks.append(ExtractTask(len(tasks), (item,)))
            continue
        batch_bytes = sum(f.size for f in batch)
        if batch and (len(batch) >= max_files or batch_bytes + item.size > max_bytes):
            close_batch()
        batch.append(item)
    close_batch()
    return tasks
