"""Which input files a refresh has not processed yet.

A file is known by its path, size and mtime (cheap: no read) and by the sha256 of its content.
A file whose path, size and mtime match one processed before is skipped unread. Otherwise its
content is hashed: new content is a new input (also a changed file at a known path); content
already processed under another name (a renamed or copied file) is recorded as an alias of it,
so that it is not processed twice and not hashed again next time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_pretrain.pipeline.extract.input_file import InputFile
from llm_pretrain.pipeline.extract.inputs import InputError, discover
from llm_pretrain.pipeline.outputs import inside
from llm_pretrain.remote.stores import is_url
from llm_pretrain.storage import file_sha256

log = logging.getLogger(__name__)


@dataclass
class Scan:
    new: list[dict[str, Any]] = field(default_factory=list)  # to process in this batch
    aliases: list[dict[str, Any]] = field(default_factory=list)  # content processed before
    unsupported: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # patterns that match no file (yet)
    own: list[str] = field(default_factory=list)  # the work folder's files, seen through a link

    @property
    def anything(self) -> bool:
        return bool(self.new or self.aliases)


def scan_inputs(
    patterns: list[str],
    seen: list[dict[str, Any]],
    read_content: bool = True,
    workdir: Path | None = None,
    base_url: str | None = None,
    paths_range: str | None = None,
) -> Scan:
    """Files under `patterns` that are not in `seen` (the inputs of committed batches).

    Without `read_content` (a quick look, for status) every file whose path, size or mtime is
    new counts as new, copies included. Files inside `workdir` (reached through a link in a
    watched folder) are never inputs: they are the corpus's own files, counted in `own`. A file
    that cannot be opened safely (a FIFO, a device, a broken link, an unreadable file) is new
    once, with its `problem`, and never hashed: its batch records it as a rejected input. A
    URL is known by its URL, size and mtime alone: it is not downloaded to be hashed.
    """
    scan = Scan()
    known_stats = {(s["path"], s["size"], s["mtime_ns"]) for s in seen}
    known_content = {s["sha256"]: s.get("same_as", s["path"]) for s in seen if s.get("sha256")}
    for pattern in patterns:
        try:
            files, unsupported = discover([pattern], base_url, paths_range)
        except InputError:
            scan.unmatched.append(pattern)
            continue
        scan.unsupported += unsupported
        if workdir is not None:
            own = {f.path for f in files if not is_url(f.path) and inside(workdir, f.path)}
            scan.own += sorted(own)
            files = [file for file in files if file.path not in own]
        for file in files:
            if (file.path, file.size, file.mtime_ns) in known_stats:
                continue
            if not read_content:
                scan.new.append(file.to_json())
                continue
            known_stats.add((file.path, file.size, file.mtime_ns))
            record = _hashed(file)
            if record is None:
                continue  # vanished between listing and reading: next run
            original = known_content.get(record["sha256"]) if record["sha256"] else None
            if original is not None:
                scan.aliases.append({**record, "same_as": original})
                continue
            if record["sha256"]:
                known_content[record["sha256"]] = file.path
            scan.new.append(record)
    scan.unsupported = sorted(set(scan.unsupported))
    return scan


def _hashed(file: InputFile) -> dict[str, Any] | None:
    """The file's record with the sha256 of its content (None for a file with a problem, which
    is never opened); None when it is gone."""
    if file.problem or is_url(file.path):
        return {**file.to_json(), "sha256": None}
    try:
        return {**file.to_json(), "sha256": file_sha256(file.path)}
    except FileNotFoundError:
        log.warning(
            "%s disappeared while it was being read; it is left for the next run", file.path
        )
        return None
    except OSError as exc:
        problem = f"cannot be read: {exc.strerror or exc}"
        return {**file.to_json(), "problem": problem, "sha256": None}
