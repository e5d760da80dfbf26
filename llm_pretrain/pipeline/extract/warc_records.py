"""The records of a WARC file, plain or gzip, read one by one, and where to go on after damage.

warcio's ArchiveIterator cannot go on past a broken gzip member: it writes zlib's error to
stderr and hands out what it has, takes a member whose first block fails to inflate (a bad
CRC in a small record does that) for uncompressed bytes, and stops at the first record it
cannot parse. So the framing is done here: gzip members are inflated and verified one at a
time, and warcio only parses each record's headers.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable
from typing import BinaryIO

from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader

from llm_pretrain.pipeline import watchdog
from llm_pretrain.pipeline.documents import printable
from llm_pretrain.remote.stores import name_part

GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip id bytes and the deflate method: how a member starts
READ_BYTES = 1 << 16  # file bytes read at a time
INFLATE_BYTES = 1 << 16  # most inflated bytes held at once, so a 100 MB member streams
MAX_LINE = 1 << 16  # a longer header line is cut there, so garbage cannot fill memory
# Line bytes of one record (WARC and HTTP headers, chunk sizes, blank lines around it): more is
# damage. Real headers take kilobytes; five million short lines took warcio 1.1 GB.
MAX_LINE_BYTES = 1 << 20
SCAN_BYTES = 1 << 20  # file bytes searched at a time for the next record
WARC_LINE = re.compile(rb"WARC/\d+\.\d+\r?\n")
LOADER = ArcWarcRecordLoader(verify_http=False, arc2warc=False)


class TruncatedInput(EOFError):
    """The file ends inside a record: the rest of the crawl is missing."""


class DamagedRecord(ValueError):
    """Bytes that are not the WARC record they should be: corrupt, overwritten or misframed."""


class BrokenGzip(DamagedRecord):
    """zlib's error on a gzip member: bad deflate data, or a CRC or length that does not match."""


def describe(exc: BaseException) -> str:
    """A short, printable "Type: message" for a row's metadata and the run's stats."""
    message = str(exc)
    return printable(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def open_records(raw: BinaryIO, path: str) -> WarcRecords:
    """Gzip by its magic bytes, or by its name unless it starts as a plain WARC does (a
    .warc.gz whose first member header is damaged is still read as gzip)."""
    head = raw.read(5)
    raw.seek(0)
    if head[:2] == GZIP_MAGIC[:2] or (
        name_part(path).endswith(".gz") and head[:5] not in (b"", b"WARC/")
    ):
        return GzipRecords(raw)
    return PlainRecords(raw)


def stream_size(raw: BinaryIO) -> int | None:
    """The size of a local file, or of a URL's stream once its first answer said it."""
    try:
        return os.fstat(raw.fileno()).st_size
    except (OSError, ValueError):
        return getattr(getattr(raw, "raw", raw), "size", None)


class WarcRecords:
    """A WARC file as records: `next_record` parses one's headers, the caller reads its block
    (or part of it), `end_record` checks that the record ends where its length says. After an
    error, `resync` moves to the next record start found after the broken record's."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.size = stream_size(raw)
        self.record_start = 0  # file offset of the record being read (gzip: of its member)
        self._pending: tuple[int, bytes] | None = None  # the next record's offset, first line
        self.line_bytes = 0  # read by `readline` since the record began

    def next_record(self) -> ArcWarcRecord | None:
        """The next record, its headers parsed and its block unread; None at the end."""
        self.line_bytes = 0
        if self._pending is not None:
            self.record_start, line = self._pending
            self._pending = None
        else:
            line = self._first_line()
        if not line:
            return None
        record = LOADER.parse_record_stream(self, line, known_format="warc")
        length = record.rec_headers.get_header("Content-Length") or ""
        if not record.rec_type or not length.strip().isdigit():
            raise DamagedRecord("a record header without WARC-Type or a valid Content-Length")
        return record

    def end_record(self, record: ArcWarcRecord) -> None:
        """Read the rest of the block, and the blank lines after it up to the next record's
        first line, or to the end of the member (then checked by zlib) or of the file. What
        comes next is not judged here: garbage there is the next record's damage, not this
        one's (a wrong Content-Length cannot be told from it)."""
        while record.raw_stream.read(READ_BYTES):
            watchdog.progress()  # a long skipped block (a video) is progress, not a hang
        if record.raw_stream.limit:
            short = TruncatedInput if self.at_eof() else DamagedRecord
            raise short(f"the record's block is {record.raw_stream.limit} bytes short")
        offset, line = self._skip_blank_lines()
        self._pending = (offset, line) if line else None
        if not line:
            self._check_end()

    def readline(self, limit: int | None = None) -> bytes:
        """A line of at most MAX_LINE bytes; DamagedRecord past MAX_LINE_BYTES in one record."""
        line = self._readline(limit)
        self.line_bytes += len(line)
        if self.line_bytes > MAX_LINE_BYTES:
            raise DamagedRecord(f"over {MAX_LINE_BYTES:,} bytes of header lines in one record")
        return line

    def _readline(self, limit: int | None) -> bytes:
        raise NotImplementedError

    def is_cut(self, exc: BaseException) -> bool:
        """Whether `exc` came from the file ending inside the record (not from bad bytes)."""
        return isinstance(exc, EOFError) or (self.at_eof() and not isinstance(exc, BrokenGzip))

    def tell(self) -> int:
        """For warcio, which asks when a record has no Content-Length (then it is rejected)."""
        return self.record_start

    def _skip_blank_lines(self) -> tuple[int, bytes]:
        while True:
            offset = self._line_offset()
            line = self.readline()
            if not line or line.strip():
                return offset, line

    def _first_line(self) -> bytes:
        self.record_start, line = self._skip_blank_lines()
        return line

    def _check_end(self) -> None:
        """Called where the record's data ends: a gzip member must end there too."""

    def read(self, size: int) -> bytes:
        raise NotImplementedError

    def at_eof(self) -> bool:
        """Whether the file ended inside the record being read."""
        raise NotImplementedError

    def resync(self) -> int | None:
        """Go to the first record start after the broken record's start; its offset, or None
        (then the file is read to its end)."""
        raise NotImplementedError

    def _line_offset(self) -> int:
        raise NotImplementedError


class PlainRecords(WarcRecords):
    """An uncompressed WARC: a record starts on a `WARC/1.x` line after blank lines."""

    def read(self, size: int) -> bytes:
        return self.raw.read(size)

    def _readline(self, limit: int | None) -> bytes:
        return self.raw.readline(_line_limit(limit))

    def at_eof(self) -> bool:
        return self.raw.tell() >= self.size if self.size is not None else not self.raw.peek(1)

    def resync(self) -> int | None:
        """Go to the first `WARC/x.y` line after the broken record's start; its offset."""
        found = _scan(self.raw, self.record_start, b"\nWARC/", _starts_warc_line)
        if found is None:
            return None
        self.raw.seek(found + 1)
        self._pending = None
        return found + 1

    def _line_offset(self) -> int:
        return self.raw.tell()


class GzipRecords(WarcRecords):
    """A .warc.gz: gzip members (one per record, or one for the whole file), inflated as a
    stream. `read` and `readline` stop at the end of the current member, whose CRC and length
    zlib checks when it gets there; the next record starts the next member."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__(raw)
        self._start_member(0, b"")

    def read(self, size: int) -> bytes:
        parts = []
        while size > 0 and self._fill():
            part = self._buffer[self._pos : self._pos + size]
            self._pos += len(part)
            size -= len(part)
            parts.append(part)
        return b"".join(parts)

    def _readline(self, limit: int | None) -> bytes:
        limit = _line_limit(limit)
        end = self._buffer.find(b"\n", self._pos, self._pos + limit)
        if end >= 0:  # the usual case: the whole line is in the buffer
            line, self._pos = self._buffer[self._pos : end + 1], end + 1
            return line
        parts = []
        while limit > 0 and self._fill():
            end = self._buffer.find(b"\n", self._pos, self._pos + limit)
            part = self._buffer[self._pos : self._pos + limit if end < 0 else end + 1]
            self._pos += len(part)
            limit -= len(part)
            parts.append(part)
            if end >= 0:
                break
        return b"".join(parts)

    def at_eof(self) -> bool:
        return self._exhausted and not self._inflater.eof

    def resync(self) -> int | None:
        """Go to the first valid gzip member after the broken record's member start."""
        found = _scan(self.raw, self.member_start + 1, GZIP_MAGIC, _starts_warc_member)
        if found is not None:
            self.raw.seek(found)
            self._start_member(found, b"")
            self._pending = None
        return found

    def _start_member(self, offset: int, head: bytes) -> None:
        """Inflate from `offset`, where `head` was already read (the file is after it)."""
        self.member_start = offset
        self._inflater = zlib.decompressobj(wbits=31)  # gzip, with the trailer checked
        self._input = head  # file bytes not yet inflated
        self._buffer = b""
        self._pos = 0
        self._exhausted = False  # the file ended before this member did

    def _fill(self) -> bool:
        """Inflate more of the member when the buffer is used up; False at its end."""
        while self._pos >= len(self._buffer):
            if self._inflater.eof:
                return False
            data = self._input or self.raw.read(READ_BYTES)
            self._exhausted = not data
            try:
                self._buffer = self._inflater.decompress(data, INFLATE_BYTES)
            except zlib.error as exc:
                raise BrokenGzip(f"the member at {self.member_start}: {exc}") from None
            self._input = self._inflater.unconsumed_tail
            self._pos = 0
            if self._exhausted and not self._buffer:
                return False
        return True

    def _first_line(self) -> bytes:
        """Skip to the next member with data (gzip allows empty ones); b"" at the file's end."""
        while True:
            if self._member_done() and not self._next_member():
                return b""
            self.record_start = self.member_start
            line = super()._first_line()
            if line:
                return line
            self._check_end()

    def _member_done(self) -> bool:
        return self._inflater.eof and self._pos >= len(self._buffer)

    def _next_member(self) -> bool:
        """Start the member after the finished one; False if only whitespace is left."""
        rest = self._inflater.unused_data
        while not rest.strip():
            more = self.raw.read(READ_BYTES)
            if not more:
                return False
            rest += more
        self._start_member(self.raw.tell() - len(rest), rest)
        return True

    def _check_end(self) -> None:
        if not self._inflater.eof:
            raise TruncatedInput(f"the file ends inside the gzip member at {self.member_start}")

    def _line_offset(self) -> int:
        return self.member_start


def _line_limit(limit: int | None) -> int:
    return MAX_LINE if limit is None or limit < 0 else min(limit, MAX_LINE)


def _scan(
    raw: BinaryIO, start: int, pattern: bytes, accept: Callable[[BinaryIO, int], bool]
) -> int | None:
    """The first offset from `start` where `pattern` occurs and `accept(raw, offset)` holds,
    reading the file a chunk at a time."""
    position = start
    while True:
        raw.seek(position)
        chunk = raw.read(SCAN_BYTES)
        watchdog.progress()
        at = chunk.find(pattern)
        while at >= 0:
            if accept(raw, position + at):
                return position + at
            at = chunk.find(pattern, at + 1)
        if len(chunk) < SCAN_BYTES:
            return None
        position += len(chunk) - len(pattern) + 1


def _starts_warc_member(raw: BinaryIO, offset: int) -> bool:
    """A gzip header's 3 bytes occur by chance in compressed data (about once in 16 MB): a
    member start is one that inflates to the start of a WARC record."""
    raw.seek(offset)
    try:
        head = zlib.decompressobj(wbits=31).decompress(raw.read(4096), 16)
    except zlib.error:
        return False
    return head.startswith(b"WARC/")


def _starts_warc_line(raw: BinaryIO, offset: int) -> bool:
    """`offset` is a newline; a record starts after it if a `WARC/x.y` line does."""
    raw.seek(offset + 1)
    return WARC_LINE.match(raw.readline(64)) is not None
