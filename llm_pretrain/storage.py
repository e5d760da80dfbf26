"""Atomic local writes: temporary name in the same folder, fsync, rename, fsync the folder.

All local writes of the pipeline go through here. A stage writing to an object store writes
here too, into a staging folder, and publishes that (pipeline/published.py, remote/).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm_pretrain.errors import DamagedFile

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def url_error(value: str) -> str | None:
    """Why `value` cannot be a path here, when it is a URL (s3://, gs://, hdfs://, ...): only
    the datasets of extract, filter and dedup may be URLs (remote/). Without this,
    `Path("s3://b/x")` would quietly become the local folder `s3:/b/x`."""
    if not _URL.match(value):
        return None
    return (
        f"{value}: a URL is not supported here (only the --input and --output of extract, "
        "filter and dedup may be store URLs); give a local path"
    )


def temporary_path(path: Path) -> Path:
    """A hidden sibling name, unique per process, that no reader mistakes for data."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_file(tmp: Path, path: Path) -> None:
    """Make a fully written temporary file visible under its final name, durably."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name for the block to write `path` under: committed as `path` when the block
    completes, removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit_file(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def json_bytes(obj: Any) -> bytes:
    """Readable UTF-8 JSON; with \\u escapes when a string holds a lone surrogate (a path of
    non-UTF-8 bytes), which UTF-8 cannot carry but JSON can, and which reads back the same."""
    options: dict[str, Any] = {"indent": 2, "sort_keys": True, "default": str}
    try:
        return (json.dumps(obj, ensure_ascii=False, **options) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj, ensure_ascii=True, **options) + "\n").encode("ascii")


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json_bytes(obj))


def read_json(path: Path) -> Any:
    """The JSON in `path`; DamagedFile (one line naming it) when it is not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, not UTF-8
        raise DamagedFile(
            f"{path} is not readable JSON ({exc}); it was cut short or edited"
        ) from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_problem(path: Path, name: str, size: int, sha256: str | None) -> str | None:
    """How the file differs from its record of size and sha256 (None: it does not), cheap
    checks first. Never raises: an unreadable file is a problem like the others (and in
    training every process must reach the collective that compares the verdicts)."""
    if not path.is_file():
        return f"{name} is missing"
    try:
        actual = path.stat().st_size
        if actual != size:
            return f"{name} is {actual:,} bytes, expected {size:,}"
        if sha256 and file_sha256(path) != sha256:
            return f"{name} does not match its recorded sha256"
    except OSError as exc:
        return f"{name} cannot be read: {exc.strerror or exc}"
    return None


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries a killed run left behind (they are never read)."""
    if folder.is_dir():
        for stale in folder.glob(".*.tmp-*"):
            stale.unlink(missing_ok=True)
