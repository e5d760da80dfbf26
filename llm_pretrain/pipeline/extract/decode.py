"""Bytes to text for web pages and plain files, read the way a browser reads them.

The order: a byte order mark; the declared charset (HTTP header, then `<meta>`), with the labels
mapped as the WHATWG Encoding Standard maps them (iso-8859-1 is read as windows-1252); strict
UTF-8 (also with a few stray bytes); and for the rest Firefox's detector, chardetng, which reads
Western-European text as windows-1252 (the default the HTML Standard recommends for Western
locales) and tells the other legacy encodings (windows-1250/1251, ISO-8859-2, Shift_JIS, GBK, ...)
from it.
"""

from __future__ import annotations

import codecs
import re

from chardetng_py import EncodingDetector

# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x">
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_CONTROL_BYTES = bytes(range(0, 9)) + bytes(range(14, 32))
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Detection reads the start of a page only: enough text for a sure guess, bounded time.
_DETECT_BYTES = 65536

# Labels that the WHATWG Encoding Standard (https://encoding.spec.whatwg.org/#names-and-labels
# and its indexes) decodes with a wider encoding than Python's codec of the same name: browsers
# read "iso-8859-1"/"latin1" pages as windows-1252, whose bytes 0x80-0x9F are the euro sign,
# curly quotes and dashes where ISO-8859-1 has invisible C1 control codes; "gb2312"/"gbk" with
# the gb18030 decoder; Shift_JIS, EUC-KR and Big5 with the Microsoft (cp932, cp949) and HKSCS
# extensions in their indexes. Keys and values are Python codec names.
_BROWSER_CODEC = {
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
# Encoding Standard names that chardetng can answer and Python spells differently.
_PYTHON_SPELLING = {"x-mac-cyrillic": "mac-cyrillic", "iso-8859-8-i": "iso8859-8"}


class BinaryContent(ValueError):
    """The bytes are not text in any encoding (an image, an archive, random junk)."""


def charset_from_header(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


# WHATWG Encoding labels of UTF-16. A page that could declare them in ASCII bytes is not
# UTF-16: the HTML standard's prescan reads such a <meta> as UTF-8.
_UTF16_LABELS = {
    "utf-16", "utf-16le", "utf-16be", "unicode", "unicodefeff", "unicodefffe", "csunicode",
    "ucs-2", "iso-10646-ucs-2",
}  # fmt: skip


def charset_from_meta(raw: bytes) -> str | None:
    match = _META_CHARSET.search(raw[:4096])
    if not match:
        return None
    label = match.group(1).decode("ascii", "ignore")
    return "utf-8" if label.strip().lower() in _UTF16_LABELS else label


def looks_binary(raw: bytes) -> bool:
    """Many control bytes (NUL, etc.) in the first 8 KiB and no UTF-16/UTF-8 BOM."""
    head = raw[:8192]
    if not head or head.startswith(_BOMS):
        return False
    controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
    return controls / len(head) > 0.05


def _c1_as_is(error: UnicodeError) -> tuple[str, int]:
    """The Encoding Standard's windows-1252 index maps the five bytes that Python's cp1252 leaves
    undefined (0x81 0x8D 0x8F 0x90 0x9D) to the C1 code points of the same value."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    if any(byte < 0x80 or byte > 0x9F for byte in bad):
        raise error
    return bad.decode("latin-1"), error.end


codecs.register_error("llm_pretrain.c1_as_is", _c1_as_is)


def _known_codec(name: str | None) -> str | None:
    """Python's name for a charset label; None for unknown labels and for codecs that are not
    text encodings (base64, rot13), which no page can be written in."""
    if not name:
        return None
    name = _PYTHON_SPELLING.get(name.lower(), name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # bytes.decode refuses codecs without this flag (base64, zlib, rot13); UTF-7 has no label in
    # the Encoding Standard: browsers ignore it, and so do we.
    if not getattr(info, "_is_text_encoding", True) or info.name == "utf-7":
        return None
    return info.name


def _decode(raw: bytes, charset: str, errors: str = "strict") -> str:
    # cp1252 fails on the five bytes _c1_as_is reads, and on no other.
    return raw.decode(charset, errors="llm_pretrain.c1_as_is" if charset == "cp1252" else errors)


def _as_declared(raw: bytes, charset: str) -> tuple[str, str] | None:
    """The text a browser shows for a page declared as `charset`, with the name of the codec that
    gives it: the declared one where it reads the bytes the same way (an iso-8859-1 page without
    bytes 0x80-0x9F), else the wider one of the Encoding Standard. A few bytes that do not fit
    become U+FFFD, as in a browser (a stray cp1252 dash in a UTF-8 page); None when many do:
    the declaration is wrong."""
    browser = _BROWSER_CODEC.get(charset, charset)
    try:
        text = _decode(raw, browser)
    except UnicodeDecodeError:
        return _mostly(raw, browser)
    if browser != charset:
        try:
            if raw.decode(charset) == text:
                return text, charset
        except UnicodeDecodeError:
            pass
    return text, browser


def _mostly(raw: bytes, charset: str) -> tuple[str, str] | None:
    """Bytes declared as `charset` that it cannot all read: as a browser would, with U+FFFD for
    the strays, when the declaration holds for most of the text (at least as many characters
    beyond ASCII read as strays, and strays at most 1% of the text); None otherwise, when a
    wrong declaration is likelier and detection decides."""
    if charset == "ascii":  # any byte above 0x7F proves it wrong (the page is UTF-8 or legacy)
        return None
    text = raw.decode(charset, errors="replace")
    stray = text.count("\ufffd")
    beyond_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - stray
    if beyond_ascii >= stray and stray <= len(text) / 100:
        return text, charset
    return None


def _mostly_utf8(raw: bytes) -> str | None:
    """The text of undeclared UTF-8 bytes with a few that are not (a legacy-encoded name in a
    UTF-8 template, a page cut inside a character), those as U+FFFD; None when the bytes are not
    mostly UTF-8. Legacy text seldom holds a valid multi-byte UTF-8 sequence (a lead byte
    0xC2-0xF4 followed by just the right number of 0x80-0xBF bytes), so ten valid ones for each
    stray byte is UTF-8 (a declared charset needs fewer: `_mostly`)."""
    text = raw.decode("utf-8", errors="replace")
    stray = text.count("\ufffd")
    multibyte = len(text) - len(text.encode("ascii", errors="ignore")) - stray
    return text if multibyte >= 10 * stray else None


def detect(raw: bytes) -> str:
    """The legacy encoding (a Python codec name) Firefox would choose for these undeclared bytes.

    chardetng (https://hsivonen.fi/chardetng/, Firefox's detector since version 73) scores the
    encodings of the Encoding Standard on the text's letters and falls back to windows-1252. UTF-8
    is not among its answers here (allow_utf8=False, as for web pages): decode() tries it first.
    """
    detector = EncodingDetector()
    # last=False on a prefix: a character cut at its end must not rule out an encoding.
    detector.feed(raw[:_DETECT_BYTES], last=len(raw) <= _DETECT_BYTES)
    guess = detector.guess(tld=None, allow_utf8=False)
    charset = _known_codec(guess) or "cp1252"
    return _BROWSER_CODEC.get(charset, charset)


def decode(raw: bytes, declared: str | None = None, html: bool = True) -> tuple[str, str]:
    """Return (text, Python name of the codec used). Raises BinaryContent for data that is not text.

    A declared charset that cannot read the bytes is ignored (so is a declared "ascii" when there
    are bytes above 0x7F: UTF-8 or detection decides). Undeclared bytes are UTF-8 when they are
    valid UTF-8, or nearly (_mostly_utf8), else what detect() says; a byte that does not fit the
    chosen encoding becomes U+FFFD.
    """
    if looks_binary(raw):
        raise BinaryContent("binary content")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace"), "utf-16"
    labels = [declared, charset_from_meta(raw) if html else None, "utf-8"]
    for charset in map(_known_codec, labels):
        decoded = _as_declared(raw, charset) if charset else None
        if decoded:
            return decoded
    text = _mostly_utf8(raw)
    if text is not None:
        return text, "utf-8"
    charset = detect(raw)
    return _decode(raw, charset, errors="replace"), charset
