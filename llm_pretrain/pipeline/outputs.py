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
    """The path the kernel will use: links followed before `..` is applied (`L/../x` with
    L -> a/b is a/x, not ./x), as os.path.realpath does and os.path.abspath does not."""
    return Path(os.path.realpath(os.path.expanduser(str(path))))


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


def dangling_problem(output: Path | str, output_name: str) -> str | None:
    """An output that is, or lies in, a link to nothing: creating it would fail as "File
    exists"."""
    for path in (Path(output), *Path(output).parents):
        if path.is_symlink() and not path.exists():
            where = "is" if path == Path(output) else f"lies in {path},"
            target = os.readlink(path)
            return f"{output_name} {output} {where} a link to {target}, which does not exist"
    return None


def protected_problem(output: Path | str, output_name: str) -> str | None:
    """An output that is or contains the working folder or the home folder (`.`, `~`, `/`),
    or that is a link to nothing."""
    if (problem := dangling_problem(output, output_name)) is not None:
        return problem
    out = _resolved(output)
    for name, folder in (("the current folder", Path.cwd()), ("your home folder", Path.home())):
        folder = _resolved(folder)
        if folder == out or folder.is_relative_to(out):
            relation = "is" if folder == out else "contains"
            return f"{output_name} {output} {relation} {name}; give a folder of its own"
    return None


def _split_glob(pattern: str) -> tuple[str, list[str]]:
    """The folder a glob searches (the part before its first wildcard) and the rest, by path
    component."""
    parts = Path(pattern).parts
    for at, part in enumerate(parts):
        if glob.has_magic(part):
            return (os.path.join(*parts[:at]) if at else "."), list(parts[at:])
    return pattern, []


def _glob_matches(pattern: list[str], path: list[str]) -> bool:
    """Whether `glob.glob(..., recursive=True)` could return `path` for `pattern`, component by
    component: `*` stays within one, `**` spans any number, hidden names need a leading dot."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(
            _glob_matches(rest, path[skip:])
            for skip in range(len(path) + 1)
            if not any(part.startswith(".") for part in path[:skip])
        )
    if not path or (path[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(path[0], head) and _glob_matches(rest, path[1:])


def _hidden_below(folder: Path | str, path: Path) -> bool:
    """Whether `path` lies in a hidden folder below `folder` (a folder input skips those)."""
    relative = _resolved(path).relative_to(_resolved(folder))
    return any(part.startswith(".") for part in relative.parts)


def input_patterns_problem(
    output: Path, arguments: Iterable[str], writes: Iterable[str], output_name: str
) -> str | None:
    """An input argument (file, folder or glob) that overlaps `output`.

    A folder input is read recursively (but for hidden folders), so an output inside it is read
    back later; a glob is a problem when it could match a file the command writes (`writes`,
    relative to `output`). Links are resolved on both sides.
    """
    writes = list(writes)
    for argument in arguments:
        base, rest = _split_glob(argument)
        relation = overlap(output, base)
        if relation is None or (relation == "lies inside" and _hidden_below(base, output)):
            continue
        if not rest or relation in ("is", "contains"):
            return f"{output_name} {output} {relation} the input {argument}"
        below = _resolved(output).relative_to(_resolved(base))
        read_back = [w for w in writes if _glob_matches(rest, [*below.parts, *Path(w).parts])]
        if read_back:
            return (
                f"{output_name} {output} lies inside the input {argument}, which would read "
                f"back what it writes ({output / read_back[0]}); move it out"
            )
    return None


def inside(folder: Path, path: str) -> bool:
    """Whether `path` lies inside `folder`, links resolved on both sides."""
    return os.path.realpath(path).startswith(os.path.join(str(_resolved(folder)), ""))


def first_inside(folder: Path, paths: Iterable[str]) -> str | None:
    """The first of `paths` that lies inside `folder` (links resolved), or None."""
    return next((path for path in paths if inside(folder, path)), None)


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
