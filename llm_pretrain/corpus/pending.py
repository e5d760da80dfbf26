"""A batch a stopped run did not commit: finish it, or start it again from what is there now.

A batch is fixed by the inputs `batch.json` records (path, size, mtime). Once its extract
dataset is committed, the batch's content no longer depends on the files: the next run finishes
it even if they changed or went since. Before that, the next run resumes the extract tasks only
if every recorded input is still as recorded; if one changed, grew or went, the unfinished batch
(the refresh's own folder, nothing downstream of extract exists yet) is discarded and the
batch is made again from the files as they are now. Either way no person is needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llm_pretrain.pipeline.dataset import read_manifest
from llm_pretrain.pipeline.extract.input_file import InputFile, inspect
from llm_pretrain.remote.stores import is_url
from llm_pretrain.stages import STAGE_FOLDERS
from llm_pretrain.storage import file_sha256

EXTRACTED = STAGE_FOLDERS["extract"]


def recorded_files(record: dict[str, Any]) -> list[InputFile]:
    """The batch's inputs as they were found when it started."""
    return [InputFile.from_json(item) for item in record["inputs"]]


def extract_finished(folder: Path) -> dict[str, Any] | None:
    """The manifest of the batch's extract dataset, once committed."""
    return read_manifest(folder / EXTRACTED)


def changed_inputs(record: dict[str, Any]) -> list[str]:
    """What changed since the batch recorded its inputs, one phrase per file ("b.html is
    gone"); a file only touched (same size and sha256) has not changed."""
    changes = []
    recorded = record["inputs"]
    for i, file in enumerate(recorded_files(record)):
        if is_url(file.path):
            continue  # known by its URL alone: read again as it is (remote/listing.py)
        if not os.path.lexists(file.path):
            changes.append(f"{file.path} is gone")
            continue
        now = inspect(file.path, file.kind)
        if (now.size, now.mtime_ns, now.problem) == (file.size, file.mtime_ns, file.problem):
            continue
        if now.size == file.size and not now.problem and _same_content(file.path, recorded[i]):
            continue  # touched, not changed
        changes.append(f"{file.path} changed ({file.size:,} -> {now.size:,} bytes)")
    return changes


def _same_content(path: str, item: dict[str, Any]) -> bool:
    try:
        return item.get("sha256") is not None and file_sha256(path) == item["sha256"]
    except OSError:
        return False


def stale_reason(folder: Path, record: dict[str, Any]) -> str | None:
    """Why the uncommitted batch in `folder` cannot be finished (None: it can)."""
    if extract_finished(folder) is not None:
        return None
    changes = changed_inputs(record)
    if not changes:
        return None
    more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
    return f"{changes[0]}{more} since it was started"
