"""The `date` column: one instant in UTC, parsed from the many ways inputs write dates.

Inputs give dates as text in many forms (a WARC-Date, a page's `<meta name="date">`, a PDF's
creation date, a JSONL field). A string column sorts them by accident of form, and every reader
would have to parse them again; a timestamp column compares, filters and loads (pandas,
`datasets`) as what it is. The text as found stays in the row's `metadata` under "date".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

DATE_TYPE = pa.timestamp("us", tz="UTC")
# A year, or a year and month: what a PDF's creation date may give (see extract/pdf.py).
_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?")


def parse_date(value: str | None) -> datetime | None:
    """The instant `value` names, in UTC; None when it names none that can be read.

    ISO 8601 (a date alone, or a date and time; a time without zone is taken as UTC), a year or
    a year and month (their first day), and RFC 2822 (HTTP and e-mail headers).
    """
    text = (value or "").strip()
    if not text:
        return None
    parsed = _iso(text) or _partial(text) or _rfc2822(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):  # 0001-01-01T00:00+01:00 falls before year 1
        return None


# The ISO 8601 forms read, the same on every Python (3.11's fromisoformat reads many more,
# 3.10's fewer): a date, then optionally a time (seconds and fraction optional) and a zone.
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


def _iso(text: str) -> datetime | None:
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0),
            int(second or 0), micros,
        )  # fmt: skip
    except ValueError:
        return None
    if zone is None:
        return parsed
    if zone in "Zz":
        return parsed.replace(tzinfo=timezone.utc)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    if offset >= timedelta(hours=24):
        return None
    return parsed.replace(tzinfo=timezone(sign * offset))


def _partial(text: str) -> datetime | None:
    match = _PARTIAL.fullmatch(text)
    if match is None:
        return None
    try:
        return datetime(int(match[1]), int(match[2] or 1), 1)
    except ValueError:
        return None


def _rfc2822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def date_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A `date` column as DATE_TYPE: timestamps and dates converted, text (the `date` column of
    datasets written before it was a timestamp) parsed, what cannot be read null."""
    kind = values.type
    if kind == DATE_TYPE:
        return values
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_null(kind):
        return pc.cast(values, DATE_TYPE, safe=False)  # nanoseconds cut to microseconds
    return pa.array([parse_date(_text(value)) for value in values.to_pylist()], DATE_TYPE)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
