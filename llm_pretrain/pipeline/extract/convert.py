"""Turn one raw payload (a page, a PDF, a text) into a kept document or a rejection with reason.

Every conversion runs under the document size limit and time limit, and any failure becomes
a rejection naming its kind, so one bad document never stops a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

from llm_pretrain.pipeline.documents import Document, Rejected
from llm_pretrain.pipeline.extract.config import ExtractConfig
from llm_pretrain.pipeline.extract.decode import BinaryContent, decode
from llm_pretrain.pipeline.extract.html import extract_page
from llm_pretrain.pipeline.extract.pdf import PdfRejected, extract_pdf
from llm_pretrain.pipeline.extract.prefilter import Rejection, prefilter
from llm_pretrain.pipeline.limits import DocumentTimeout, time_limit
from llm_pretrain.pipeline.watchdog import converting

Outcome = Document | Rejected


class NoMainText(Exception):
    """trafilatura found no main text (junk, an empty page, navigation only)."""


def guarded(
    doc: Document,
    size: int,
    config: ExtractConfig,
    fill: Callable[[Document], None],
    watched: bool = True,
) -> Outcome:
    """Run `fill(doc)` (which sets doc.text and metadata) within the limits; judge the result.

    `watched` conversions (parsing a page, a PDF, decoding a text) also run under the task's
    watchdog: one that stopped a worker before is rejected unread (pipeline/watchdog.py).
    """
    if size > config.max_document_bytes:
        doc.metadata["bytes"] = size
        return Rejected(doc, "extract_error:too_large")
    try:
        with converting() if watched else nullcontext() as skipped:
            if skipped is not None:
                reason, detail = skipped
                return _failed(doc, reason, detail)
            with time_limit(config.document_timeout_s):
                fill(doc)
    except DocumentTimeout:
        return _failed(doc, "extract_error:timeout", f"over {config.document_timeout_s:g} s")
    except BinaryContent as exc:
        return _failed(doc, "extract_error:binary", str(exc))
    except PdfRejected as exc:
        return _failed(doc, exc.reason, str(exc))
    except NoMainText:
        return Rejected(doc, "no_main_text")
    except Rejection as exc:
        return Rejected(doc, exc.reason)
    except Exception as exc:  # a library choking on hostile input: record it, go on
        return _failed(doc, "extract_error:failed", f"{type(exc).__name__}: {exc}")
    except BaseException as exc:
        # A Rust library's panic (pyo3's PanicException, e.g. resiliparse interrupted by the
        # time limit) derives from BaseException; it is the document's failure, not the run's.
        if type(exc).__name__ != "PanicException":
            raise
        return _failed(doc, "extract_error:failed", f"PanicException: {exc}")
    if len(doc.text.strip()) < config.min_chars:
        return Rejected(doc, "too_short")
    return doc


def _failed(doc: Document, reason: str, detail: str) -> Rejected:
    doc.text = ""
    doc.metadata["error"] = detail[:500]
    return Rejected(doc, reason)


def _set_if(doc: Document, **fields: object) -> None:
    doc.metadata.update({key: value for key, value in fields.items() if value})


def html_filler(raw: bytes, declared_charset: str | None, config: ExtractConfig):
    checks = prefilter(config.prefilter_plan)

    def fill(doc: Document) -> None:
        if checks is not None:
            checks.check_url(doc)
        html, charset = decode(raw, declared_charset, html=True)
        doc.metadata["charset"] = charset
        if checks is not None:
            checks.check_language(doc, html)
        page = extract_page(html, doc.url, config.html)
        if page is None:
            raise NoMainText
        doc.text = page.text
        _set_if(doc, title=page.title, author=page.author, published=page.date)
        _set_if(doc, sitename=page.sitename)
        doc.date = doc.date or page.date

    return fill


def pdf_filler(raw: bytes, config: ExtractConfig):
    def fill(doc: Document) -> None:
        pdf = extract_pdf(raw, config.pdf)
        doc.text = pdf.text
        doc.metadata["pages"] = pdf.pages
        _set_if(doc, title=pdf.title, author=pdf.author, published=pdf.date)
        doc.date = doc.date or pdf.date

    return fill


def text_filler(raw: bytes):
    def fill(doc: Document) -> None:
        doc.text, charset = decode(raw, html=False)
        doc.metadata["charset"] = charset

    return fill
