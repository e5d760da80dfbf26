"""Documents from WARC files, read as a stream: HTML and PDF responses, and WET text records."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from llm_pretrain.config import ExtractConfig
from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.documents import Document, Rejected, Skipped, document_id
from llm_pretrain.pipeline.extract.convert import guarded, html_filler, pdf_filler, text_filler
from llm_pretrain.pipeline.extract.decode import charset_from_header
from llm_pretrain.pipeline.extract.inputs import InputFile

HTML_TYPES = {"text/html", "application/xhtml+xml", "application/xml+html"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}


class TruncatedInput(EOFError):
    """The file ends inside a record: the rest of the crawl is missing."""


def read_warc(file: InputFile, config: ExtractConfig) -> Iterator[Document | Rejected | Skipped]:
    with open(file.path, "rb") as stream:
        done = start = end = 0
        records = ArchiveIterator(stream)
        for record in _records(records):
            outcome = _record_outcome(record, file, records, config)
            # warcio ends quietly at a cut; a record whose block is short shows the cut.
            records.read_to_end(record)
            # Every WARC record has a Content-Length, which warcio enforces with a limit.
            missing = getattr(record.raw_stream, "limit", None)
            if missing is None or missing > 0:
                raise TruncatedInput(
                    f"the record at offset {records.get_record_offset()} is cut short"
                    + (f" by {missing} bytes" if missing else " (no Content-Length)")
                )
            start = records.get_record_offset()
            end = start + records.get_record_length()
            yield outcome
            position = stream.tell()
            progress.report(nbytes=position - done)
            done = position
        _check_nothing_after(stream, end)
        _check_last_member(stream, start, end)


def _records(records: ArchiveIterator) -> Iterator[ArcWarcRecord]:
    """warcio's records, with its errors on a record cut inside its headers (it may raise
    anything there, an AttributeError included) reported as the cut they are."""
    iterator = iter(records)
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise TruncatedInput(
                f"a record after the last whole one is cut short or broken "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        yield record


def _check_last_member(stream: BinaryIO, start: int, end: int) -> None:
    """A .warc.gz cut inside the last record's gzip trailer still yields the whole record, but
    the member never ends: decompress that one member again and see that it does."""
    stream.seek(start)
    member = stream.read(end - start)
    if member[:2] != b"\x1f\x8b":
        return
    inflater = zlib.decompressobj(wbits=31)
    try:
        inflater.decompress(member)
    except zlib.error as exc:
        raise TruncatedInput(f"the record at offset {start} is broken: {exc}") from None
    if not inflater.eof:
        raise TruncatedInput(f"the gzip member of the record at offset {start} is cut short")


def _check_nothing_after(stream: BinaryIO, end: int) -> None:
    """Bytes after the last whole record are a record cut inside its headers."""
    stream.seek(end)
    if stream.read(4096).strip():
        raise TruncatedInput(f"the file ends inside the record starting at offset {end}")


def _record_outcome(
    record: ArcWarcRecord, file: InputFile, records: ArchiveIterator, config: ExtractConfig
) -> Document | Rejected | Skipped:
    kind = record.rec_type
    if kind == "conversion":  # WET: text already extracted by the crawler
        raw = record.content_stream().read(config.max_document_bytes + 1)
        return _wet_document(record, file, records.get_record_offset(), raw, config)
    if kind != "response":
        return Skipped(f"warc_{kind}")
    if record.http_headers is None:
        return Skipped("not_http")
    status = record.http_headers.get_statuscode()
    if status != "200":
        return Skipped(f"http_{status}")
    content_type = record.http_headers.get_header("Content-Type") or "text/html"
    mime = content_type.split(";")[0].strip().lower()
    if mime not in HTML_TYPES and mime not in PDF_TYPES:
        return Skipped("not_html")
    # Read the payload before asking for the offset: warcio finds it by reading to the end.
    raw = record.content_stream().read(config.max_document_bytes + 1)
    offset = records.get_record_offset()
    doc = _document(record, file, offset, "pdf" if mime in PDF_TYPES else "html")
    doc.metadata["content_type"] = content_type
    progress.report(documents=1)
    if mime in PDF_TYPES:
        return guarded(doc, len(raw), config, pdf_filler(raw, config))
    declared = charset_from_header(content_type)
    return guarded(doc, len(raw), config, html_filler(raw, declared, config))


def _wet_document(
    record: ArcWarcRecord, file: InputFile, offset: int, raw: bytes, config: ExtractConfig
) -> Document | Rejected:
    doc = _document(record, file, offset, "text")
    language = record.rec_headers.get_header("WARC-Identified-Content-Language")
    if language:
        doc.metadata["cc_languages"] = language
    progress.report(documents=1)
    return guarded(doc, len(raw), config, text_filler(raw))


def _document(record: ArcWarcRecord, file: InputFile, offset: int, fmt: str) -> Document:
    """The record id is globally unique by the WARC spec; the file offset is the fallback."""
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID")
    doc_id = document_id("warc", record_id) if record_id else document_id(file.path, str(offset))
    return Document(
        id=doc_id,
        text="",
        source=file.path,
        format=fmt,
        url=headers.get_header("WARC-Target-URI"),
        date=headers.get_header("WARC-Date"),
        metadata={"warc_record_id": record_id, "warc_offset": offset},
    )
