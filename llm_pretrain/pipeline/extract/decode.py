"""Bytes to text for web pages and plain files: declared charset, then UTF-8, then detection."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x">
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_CONTROL_BYTES = bytes(range(0, 9)) + bytes(range(14, 32))
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class BinaryContent(ValueError):
    """The bytes are not text in any encoding (an image, an archive, random junk)."""


def charset_from_header(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def charset_from_meta(raw: bytes) -> str | None:
    match = _META_CHARSET.search(raw[:4096])
    return match.group(1).decode("ascii", "ignore") if match else None


def looks_binary(raw: bytes) -> bool:
    """Many control bytes (NUL, etc.) in the first 8 KiB and no UTF-16/UTF-8 BOM."""
    head = raw[:8192]
    if not head or head.startswith(_BOMS):
        return False
    controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
    return controls / len(head) > 0.05


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(raw: bytes, declared: str | None = None, html: bool = True) -> tuple[str, str]:
    """Return (text, charset used). Raises BinaryContent for data that is not text."""
    if looks_binary(raw):
        raise BinaryContent("binary content")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace"), "utf-16"
    candidates = [_known_codec(declared)]
    if html:
        candidates.append(_known_codec(charset_from_meta(raw)))
    candidates.append("utf-8")
    for charset in candidates:
        if charset:
            try:
                return raw.decode(charset), charset
            except UnicodeDecodeError:
                continue
    best = from_bytes(raw[:65536]).best()
    if best is None:
        raise BinaryContent("no text encoding fits")
    return raw.decode(best.encoding, errors="replace"), best.encoding
