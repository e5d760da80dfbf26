"""The document row shared by every stage, and the outcomes a stage can give an input."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 1

# Columns every document dataset has; later stages append annotation columns.
DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("date", pa.string()),
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
    id: str
    text: str
    source: str
    format: str
    url: str | None = None
    date: str | None = None
    language: str | None = None
    language_score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """The Arrow row; every string made valid UTF-8 (see `representable`)."""
        return {
            "id": self.id,
            "text": representable(self.text),
            "url": _maybe(self.url),
            "source": representable(self.source),
            "format": self.format,
            "date": _maybe(self.date),
            "language": self.language,
            "language_score": self.language_score,
            "metadata": metadata_json(self.metadata),
        }


def metadata_json(metadata: dict[str, Any]) -> str:
    """The `metadata` column: JSON text, valid UTF-8 whatever the values hold."""
    return representable(json.dumps(metadata, ensure_ascii=False, sort_keys=True, default=str))


def _maybe(text: str | None) -> str | None:
    return None if text is None else representable(text)


@dataclass(slots=True)
class Rejected:
    """A document a stage will not keep; it goes to `rejected/` with its reason."""

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
