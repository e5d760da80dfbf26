"""Documents from plain files: one document per file (pages, PDFs, texts: their converter
comes from formats.py), and JSONL/Parquet passthrough."""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from llm_pretrain.pipeline import progress, watchdog
from llm_pretrain.pipeline.documents import Document, Rejected, document_id, printable
from llm_pretrain.pipeline.extract.config import ExtractConfig
from llm_pretrain.pipeline.extract.convert import guarded
from llm_pretrain.pipeline.extract.input_file import InputFile, open_input
from llm_pretrain.remote.stores import is_url, name_part

Outcome = Document | Rejected
# Row fields that map onto document columns; all other fields go into `metadata`.
_PASSTHROUGH_COLUMNS = ("url", "date")


def read_document(
    file: InputFile, config: ExtractConfig, convert: Callable[[bytes], Callable[[Document], None]]
) -> Iterator[Outcome]:
    """A file of one document (a page, a PDF, a text): its bytes, read within the size limit
    (a gzip bomb stays small), converted by `convert` under the document limits."""
    doc = Document(id=document_id(file.path), text="", source=file.path, format=file.kind)
    if file.size > config.max_document_bytes:
        yield guarded(doc, file.size, config, lambda _: None)
        return
    with open_input(file.path) as stream:
        gzipped = name_part(file.path).lower().endswith(".gz")
        handle = gzip.GzipFile(fileobj=stream) if gzipped else stream
        raw = handle.read(config.max_document_bytes + 1)
    progress.report(documents=1, nbytes=file.size)
    yield guarded(doc, len(raw), config, convert(raw))


def jsonl_line_limit(config: ExtractConfig) -> int:
    """The longest JSON line read: a text at the size limit, even written with \\uXXXX
    escapes for every character (6 bytes for 3 of UTF-8), plus its other fields."""
    return 6 * config.max_document_bytes + (1 << 20)


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """The lines of `handle`, each held whole only up to `limit` bytes: a longer one is read
    through in chunks and given as None (a 2 GiB line in a small .gz costs no memory)."""
    while line := handle.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while (chunk := handle.readline(1 << 20)) and not chunk.endswith(b"\n"):
            watchdog.progress()
        yield None


def read_jsonl(file: InputFile, config: ExtractConfig) -> Iterator[Outcome]:
    limit = jsonl_line_limit(config)
    with open_input(file.path) as raw_handle:
        gzipped = name_part(file.path).lower().endswith(".gz")
        lines = gzip.GzipFile(fileobj=raw_handle) if gzipped else raw_handle
        done = 0
        for number, line in enumerate(bounded_lines(lines, limit), start=1):
            if line is None:
                yield _too_long(file, number, limit)
            elif line.strip():
                yield _passthrough(file, str(number), _parse_json_line(line), config)
            if number % 1000 == 0:
                done = _report_position(raw_handle.tell(), done)
        _report_position(raw_handle.tell(), done)


def _too_long(file: InputFile, number: int, limit: int) -> Rejected:
    doc = Document(
        id=document_id(file.path, str(number)),
        text="",
        source=file.path,
        format="text",
        metadata={"record": number, "error": f"a line longer than {limit:,} bytes, not read"},
    )
    progress.report(documents=1)
    return Rejected(doc, "extract_error:too_large")


def read_parquet(file: InputFile, config: ExtractConfig) -> Iterator[Outcome]:
    """Row group by row group: one that cannot be read (damaged pages) is one rejected row for
    its records, and the groups after it are read."""
    with open_input(file.path) if is_url(file.path) else contextlib.nullcontext() as stream:
        parquet = pq.ParquetFile(stream or file.path)
        if config.text_field not in parquet.schema_arrow.names:
            raise ValueError(f"no column {config.text_field!r} (set --text-field)")
        number = 0
        for group in range(parquet.num_row_groups):
            left = parquet.metadata.row_group(group).num_rows
            try:
                for batch in parquet.iter_batches(batch_size=1000, row_groups=[group]):
                    for row in batch.to_pylist():
                        number, left = number + 1, left - 1
                        yield _passthrough(file, str(number), row, config)
            except (OSError, pa.ArrowException) as exc:
                yield _damaged_row_group(file, group, number, left, exc)
                number += left
    progress.report(nbytes=file.size)


def _damaged_row_group(
    file: InputFile, group: int, before: int, rows: int, exc: Exception
) -> Rejected:
    doc = Document(
        id=document_id(file.path, "#row-group", str(group)),
        text="",
        source=file.path,
        format="text",
        metadata={
            "row_group": group,
            "records": [before + 1, before + rows],
            "error": printable(f"{type(exc).__name__}: {exc}", 500),
        },
    )
    progress.report(documents=rows)
    return Rejected(doc, "extract_error:damaged")


def _report_position(position: int, done: int) -> int:
    progress.report(nbytes=position - done)
    return position


def _parse_json_line(line: bytes) -> dict[str, Any] | str:
    """The record, or the reason it is not one."""
    try:
        # NaN and Infinity are not JSON: read as null, so that metadata stays valid JSON.
        value = json.loads(line, parse_constant=lambda constant: None)
    except RecursionError:
        return "invalid JSON: nested too deeply"
    except ValueError as exc:
        return f"invalid JSON: {exc}"
    return value if isinstance(value, dict) else "not a JSON object"


def _passthrough(
    file: InputFile, locator: str, row: dict[str, Any] | str, config: ExtractConfig
) -> Outcome:
    """A record that already holds text: keep it, its url/date, and the rest as metadata."""
    doc = Document(
        id=document_id(file.path, locator),
        text="",
        source=file.path,
        format="text",
        metadata={"record": int(locator)},
    )
    progress.report(documents=1)
    if isinstance(row, str):
        doc.metadata["error"] = row
        return Rejected(doc, "extract_error:bad_record")
    text = row.get(config.text_field)
    if not isinstance(text, str):
        doc.metadata["error"] = f"field {config.text_field!r} missing or not a string"
        return Rejected(doc, "extract_error:bad_record")
    doc.url = _as_str(row.get("url"))
    doc.date = _as_str(row.get("date"))
    doc.metadata.update(
        (key, value)
        for key, value in row.items()
        if key != config.text_field and key not in _PASSTHROUGH_COLUMNS
    )

    def fill(target: Document) -> None:
        target.text = text

    return guarded(doc, len(text), config, fill, watched=False)  # nothing to parse: no watch


def _as_str(value: Any) -> str | None:
    return None if value is None else str(value)
