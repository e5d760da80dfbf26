"""Where a command may write: never over, around or inside what it reads.

A stage whose output is its input, contains it or lies inside it would destroy or re-ingest its
own input (`--overwrite` clears the output first; an extract or a refresh whose output lies in
a watched folder reads its own shards on the next run). Every check here runs before anything
is created or removed, and returns the problem as one line for the user (or None).
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable
from pathlib import Path


def _resolved(path: Path | str) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(path)))).resolve()


def overlap(output: Path | str, source: Path | str) -> str | None:
    """How `output` overlaps `source` ("is", "contains", "lies inside"), or None."""
    out, src = _resolved(output), _resolved(source)
    if out == src:
        return "is"
    if src.is_relative_to(out):
        return "contains"
    if out.is_relative_to(src):
        return "lies inside"
    return None


def overlap_problem(
    output: Path | str, sources: Iterable[Path | str], output_name: str, source_name: str
) -> str | None:
    """The first overlap of `output` with one of `sources`, as a sentence."""
    for source in sources:
        relation = overlap(output, source)
        if relation is not None:
            return f"{output_name} {output} {relation} the {source_name} {source}"
    return None


def protected_problem(output: Path | str, output_name: str) -> str | None:
    """An output that is or contains the working folder or the home folder (`.`, `~`, `/`)."""
    out = _resolved(output)
    for name, folder in (("the current folder", Path.cwd()), ("your home folder", Path.home())):
        folder = _resolved(folder)
        if folder == out or folder.is_relative_to(out):
            relation = "is" if folder == out else "contains"
            return f"{output_name} {output} {relation} {name}; give a folder of its own"
    return None


def _glob_base(pattern: str) -> str:
    """The part of a glob before its first wildcard: the folder it searches."""
    parts = Path(pattern).parts
    base = []
    for part in parts:
        if glob.has_magic(part):
            break
        base.append(part)
    return os.path.join(*base) if base else "."


def input_patterns_problem(
    output: Path, arguments: Iterable[str], writes: Iterable[str], output_name: str
) -> str | None:
    """An input argument (file, folder or glob) that overlaps `output`.

    A folder input is read recursively, so an output inside it is read back later; a glob is a
    problem when it could match a file the command writes (`writes`, relative to `output`).
    """
    writes = list(writes)
    for argument in arguments:
        if glob.has_magic(argument):
            base = _glob_base(argument)
            relation = overlap(output, base)
            if relation in ("is", "contains"):
                return f"{output_name} {output} {relation} the input {argument}"
            pattern = os.path.abspath(argument)
            written = [os.path.abspath(output / w) for w in writes]
            matches = [w for w in written if fnmatch.fnmatch(w, pattern)]
            if relation == "lies inside" and matches:
                return (
                    f"{output_name} {output} lies inside the input {argument}, which would "
                    f"read back what it writes ({matches[0]}); move it out"
                )
            continue
        relation = overlap(output, argument)
        if relation is not None:
            return f"{output_name} {output} {relation} the input {argument}"
    return None


def first_inside(folder: Path, paths: Iterable[str]) -> str | None:
    """The first of `paths` that lies inside `folder` (links resolved), or None."""
    root = os.path.join(str(_resolved(folder)), "")
    for path in paths:
        if os.path.realpath(path).startswith(root):
            return path
    return None


def written_by_us(path: Path, *signatures: bytes) -> bool:
    """Whether the existing file `path` carries one of `signatures` near its start (a file a
    command wrote and may replace); True when there is no file yet."""
    if not path.exists():
        return True
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return any(signature in head for signature in signatures)


def foreign_entries(folder: Path, ours: Iterable[str]) -> list[str]:
    """Names in `folder` that are not among `ours` (what a command may replace)."""
    if not folder.is_dir():
        return []
    allowed = set(ours)
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in allowed)
