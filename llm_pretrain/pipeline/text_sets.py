"""Reading a set of texts that is not a corpus input: an evaluation set to measure a model on
(`llm-train eval --text`, `ablate --eval`) or to keep out of the corpus (`decontaminate`).

A set is a document dataset folder, a file (.txt/.md: one text; .jsonl: one text per line, from
a field; .parquet: one per row, from a column), or a folder of such files, read recursively in
name order, hidden files and folders left out as extract leaves them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from llm_pretrain.errors import UserError, must_exist
from llm_pretrain.pipeline.dataset import MANIFEST, shard_paths
from llm_pretrain.pipeline.documents import representable
from llm_pretrain.pipeline.runner import read_input_dataset

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl",)
PARQUET_SUFFIXES = (".parquet",)


class TextSetError(UserError, ValueError):
    """A text set that cannot be read; one line for the user."""


def read_text_set(
    path: Path,
    what: str,
    text_field: str = "text",
    suffixes: tuple[str, ...] = TEXT_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES,
) -> list[str]:
    """The non-empty texts of the set at `path`; a file of another kind is refused, and so is
    a set without any text. `what` names a text of the set in messages ("text to evaluate
    on"). Lone surrogates
    (a JSON "\\ud800") become backslash escapes, as in the datasets."""
    path = Path(path)
    must_exist(path, what)
    if (path / MANIFEST).is_file():
        read_input_dataset(path)  # a document dataset, whole (not token data, not damaged)
        texts = [
            text
            for shard in shard_paths(path)
            for text in pq.read_table(shard, columns=["text"]).column("text").to_pylist()
        ]
    else:
        texts = []
        for file in set_files(path):
            texts += _file_texts(file, what, text_field, suffixes)
    texts = [representable(text) for text in texts if text and text.strip()]
    if not texts:
        raise TextSetError(f"{path} holds no {what}")
    return texts


def set_files(path: Path) -> list[Path]:
    """The files of a set: `path` itself, or those in the folder. A folder that cannot be
    listed is an error, not a smaller set."""

    def refuse(error: OSError) -> None:
        raise TextSetError(f"cannot list {error.filename}: {error.strerror}")

    if not path.is_dir():
        return [path]
    files = []
    for folder, subfolders, names in os.walk(path, onerror=refuse):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        files += [Path(folder) / name for name in names if not name.startswith(".")]
    return sorted(files)


def _file_texts(file: Path, what: str, field: str, suffixes: tuple[str, ...]) -> list[str]:
    suffix = file.suffix.lower()
    if suffix not in suffixes:
        raise TextSetError(
            f"{file}: not a {what} (give a dataset folder, or {', '.join(suffixes)} files)"
        )
    if suffix in TEXT_SUFFIXES:
        return [_decoded(file)]
    if suffix in JSONL_SUFFIXES:
        return _jsonl_texts(file, field)
    return _parquet_texts(file, field)


def _decoded(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TextSetError(f"{file} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise TextSetError(f"cannot read {file}: {exc.strerror}") from None


def _jsonl_texts(file: Path, field: str) -> list[str]:
    texts = []
    # Lines end at "\n" only: a JSON string may hold U+2028 or U+0085, which splitlines() cuts.
    for number, line in enumerate(_decoded(file).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            raise TextSetError(f"{file}:{number} is not a JSON object") from None
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            raise TextSetError(f"{file}:{number} has no {field} field")
        texts.append(record[field])
    return texts


def _parquet_texts(file: Path, field: str) -> list[str]:
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise TextSetError(f"{file} is not a readable Parquet file ({exc})") from None
    kind = table.schema.field(field).type if field in table.column_names else None
    if kind is None or not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise TextSetError(f"{file} has no string column {field!r}")
    return [text for text in table.column(field).to_pylist() if text is not None]
