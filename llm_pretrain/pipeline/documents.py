"""The document row shared by every stage, and the outcomes a stage can give an input."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from llm_pretrain.pipeline.dates import DATE_TYPE, date_array, parse_date

# 2: `date` is a timestamp (its text in `metadata`), rejected rows are under `_rejected/`.
SCHEMA_VERSION = 2

# Columns every document dataset has; later stages append annotation columns.
DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("date", DATE_TYPE),
        pa.field("language", pa.string()),
        pa.field("language_score", pa.float32()),
        pa.field("metadata", pa.string(), nullable=False),
    ]
)
REJECTED_SCHEMA = DOCUMENT_SCHEMA.append(pa.field("reason", pa.string(), nullable=False))


def printable(text: str, limit: int = 200) -> str:
    """`text` with control and non-ASCII characters escaped, and cut short: safe for a console
    or a log line (an error quoting a binary header must not print raw bytes)."""
    return "".join(c if c.isascii() and c.isprintable() else ascii(c)[1:-1] for c in text)[:limit]


def for_console(text: str, lines: bool = True) -> str:
    """`text` with control characters and lone surrogates escaped (but its line breaks, with
    `lines`): a file name holding ESC or a newline can neither drive a terminal nor forge a
    line of cron mail."""
    parts = text.split("\n") if lines else [text]
    return "\n".join("".join(c if c.isprintable() else ascii(c)[1:-1] for c in p) for p in parts)


def representable(text: str) -> str:
    """`text` as valid UTF-8 for an Arrow column or a JSON file: lone surrogates (a JSON
    `"\\ud800"`, a file name of non-UTF-8 bytes) become backslash escapes; other text is
    returned as it is."""
    if text.isascii():  # most text, and checked without a copy
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def document_id(*parts: str) -> str:
    """Stable 128-bit id from what locates a document (source path + offset, or record id)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(slots=True)
class Document:
    """One document, as extract makes it and as the filter steps read and change it (text,
    language, metadata, and the annotation columns a step adds). In the filter the `date`
    is None: the row keeps its parsed date column, which no step reads."""

    id: str
    text: str
    source: str
    format: str
    url: str | None = None
    date: str | None = None  # as the input gives it: parsed into the `date` column
    language: str | None = None
    language_score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)  # filter steps' own columns

    def to_row(self) -> dict[str, Any]:
        """The Arrow row; every string made valid UTF-8 (see `representable`). The date's text
        stays in `metadata` ("date"): the column holds only the instant it could be read as."""
        metadata = self.metadata if self.date is None else {"date": self.date, **self.metadata}
        return {
            "id": self.id,
            "text": representable(self.text),
            "url": _maybe(self.url),
            "source": representable(self.source),
            "format": self.format,
            "date": parse_date(self.date),
            "language": self.language,
            "language_score": self.language_score,
            "metadata": metadata_json(metadata),
        }


def metadata_json(metadata: dict[str, Any]) -> str:
    """The `metadata` column: JSON text, valid UTF-8 whatever the values hold."""
    return representable(json.dumps(metadata, ensure_ascii=False, sort_keys=True, default=str))


def _maybe(text: str | None) -> str | None:
    return None if text is None else representable(text)


def upgrade_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of rows read through `upgrade_table`."""
    at = schema.get_field_index("date")
    return schema if at < 0 else schema.set(at, pa.field("date", DATE_TYPE))


def upgrade_table(table: pa.Table) -> pa.Table:
    """Rows of a dataset in the current row format, whichever version wrote it: a `date` of
    text (schema 1) becomes a timestamp, its text kept in `metadata` as extract keeps it now.
    Stages read their input through this, so their output is always of the current schema."""
    at = table.schema.get_field_index("date")
    if at < 0 or table.schema.field(at).type == DATE_TYPE:
        return table
    column = table.column(at)
    meta_at = table.schema.get_field_index("metadata")
    if meta_at >= 0 and not pa.types.is_timestamp(column.type):
        texts = [None if value is None else str(value) for value in column.to_pylist()]
        pairs = zip(table.column(meta_at).to_pylist(), texts, strict=True)
        metadata = pa.array([_with_date_text(meta, text) for meta, text in pairs], pa.string())
        table = table.set_column(meta_at, table.schema.field(meta_at), metadata)
    return table.set_column(at, pa.field("date", DATE_TYPE), date_array(column))


def _with_date_text(metadata: str | None, text: str | None) -> str | None:
    """A `metadata` JSON text with "date" set to the date's text, unless it holds one."""
    if text is None:
        return metadata
    try:
        values = json.loads(metadata or "{}")
    except ValueError:
        return metadata
    if not isinstance(values, dict) or "date" in values:
        return metadata
    return metadata_json({"date": text, **values})


@dataclass(slots=True)
class Rejected:
    """A document a stage will not keep; it goes to `_rejected/` with its reason."""

    document: Document
    reason: str

    def to_row(self) -> dict[str, Any]:
        row = self.document.to_row()
        row["reason"] = self.reason
        return row


@dataclass(slots=True)
class Skipped:
    """An input record that is not a document (a WARC request, a 404, an image): counted only."""

    reason: str
