"""Documents from WARC files, read as a stream: HTML and PDF responses, and WET text records."""

from __future__ import annotations

from collections.abc import Iterator

from warcio.recordloader import ArcWarcRecord

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.documents import Document, Rejected, Skipped, document_id
from llm_pretrain.pipeline.extract.config import ExtractConfig
from llm_pretrain.pipeline.extract.convert import guarded, html_filler, pdf_filler, text_filler
from llm_pretrain.pipeline.extract.decode import charset_from_header
from llm_pretrain.pipeline.extract.input_file import InputFile, open_input
from llm_pretrain.pipeline.extract.warc_records import (
    TruncatedInput,
    WarcRecords,
    describe,
    open_records,
)

HTML_TYPES = {"text/html", "application/xhtml+xml", "application/xml+html"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}


def read_warc(file: InputFile, config: ExtractConfig) -> Iterator[Document | Rejected | Skipped]:
    """Each record's outcome once the whole record (and its gzip member) has been read and
    checked; a damaged stretch becomes one `extract_error:damaged` row and reading goes on at
    the next record found after it. A cut at the end raises TruncatedInput."""
    with open_input(file.path) as stream:
        records = open_records(stream, file.path)
        done = 0
        while True:
            try:
                read = _read_record(records, config)
            except Exception as exc:  # a broken record: reject it, go on after it
                damaged = _damaged(file, records, exc)
                yield damaged
                if damaged.document.metadata["resumed_at"] is None:
                    break
            else:
                if read is None:
                    break
                yield _outcome(*read, file, config)
            position = stream.tell()
            progress.report(nbytes=max(position - done, 0))
            done = max(done, position)


def _read_record(
    records: WarcRecords, config: ExtractConfig
) -> tuple[ArcWarcRecord, int, str | Skipped, bytes] | None:
    """The next record, read to its end and checked, with its offset, what it holds, and its
    payload (up to the size limit) when that is a document; None at the end of the file."""
    record = records.next_record()
    if record is None:
        return None
    offset, kind, raw = records.record_start, _kind(record), b""
    if not isinstance(kind, Skipped):
        raw = record.content_stream().read(config.max_document_bytes + 1)
    records.end_record(record)
    return record, offset, kind, raw


def _damaged(file: InputFile, records: WarcRecords, exc: Exception) -> Rejected:
    """The rejected row for the bytes from the broken record to the next record found; a cut
    with no record after it is the file's end, and raises TruncatedInput."""
    start, cut, error = records.record_start, records.is_cut(exc), describe(exc)
    resumed = records.resync()
    if resumed is None and cut:
        raise TruncatedInput(
            f"the file ends inside the record at offset {start}: {error}"
        ) from None
    doc = Document(
        id=document_id(file.path, "#damaged", str(start)),
        text="",
        source=file.path,
        format=file.kind,
        metadata={
            "error": error,
            "damaged_at": start,
            "resumed_at": resumed,
            "skipped_bytes": ((records.size or start) if resumed is None else resumed) - start,
        },
    )
    return Rejected(doc, "extract_error:damaged")


def _kind(record: ArcWarcRecord) -> str | Skipped:
    """What a record holds, from its headers: "text" (a WET record), "html" or "pdf", or
    why it holds no document."""
    kind = record.rec_type
    if kind == "conversion":  # WET: text already extracted by the crawler
        return "text"
    if kind != "response":
        return Skipped(f"warc_{kind}")
    if record.http_headers is None:
        return Skipped("not_http")
    status = record.http_headers.get_statuscode()
    if status != "200":
        return Skipped(f"http_{status}")
    mime = _content_type(record).split(";")[0].strip().lower()
    if mime in PDF_TYPES:
        return "pdf"
    return "html" if mime in HTML_TYPES else Skipped("not_html")


def _content_type(record: ArcWarcRecord) -> str:
    return record.http_headers.get_header("Content-Type") or "text/html"


def _outcome(
    record: ArcWarcRecord,
    offset: int,
    kind: str | Skipped,
    raw: bytes,
    file: InputFile,
    config: ExtractConfig,
) -> Document | Rejected | Skipped:
    if isinstance(kind, Skipped):
        return kind
    if kind == "text":
        return _wet_document(record, file, offset, raw, config)
    doc = _document(record, file, offset, kind)
    content_type = _content_type(record)
    doc.metadata["content_type"] = content_type
    progress.report(documents=1)
    if kind == "pdf":
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
