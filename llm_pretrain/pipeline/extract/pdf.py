"""Text of a PDF with pymupdf: blocks in reading order, lines reflowed into paragraphs,
line-end hyphens joined, pages joined where a sentence runs on, and title/author/date kept."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymupdf

from llm_pretrain.pipeline.extract.config import PdfConfig

pymupdf.TOOLS.mupdf_display_errors(False)  # broken files are reported as rejections instead

_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?")
_TEXT_BLOCK = 0


class PdfRejected(Exception):
    """The PDF gives no usable text; `reason` is pdf_encrypted, pdf_corrupt or pdf_no_text."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(slots=True)
class PdfText:
    text: str
    title: str | None
    author: str | None
    date: str | None
    pages: int


def extract_pdf(raw: bytes, config: PdfConfig) -> PdfText:
    # A file cut short (Common Crawl truncates at 1 MiB) lacks the closing %%EOF marker;
    # mupdf would "repair" it and hand back a fragment of the document.
    if b"%%EOF" not in raw[-2048:]:
        raise PdfRejected("pdf_corrupt", "truncated: no %%EOF marker at the end")
    try:
        doc = pymupdf.open(stream=raw, filetype="pdf")
    except Exception as exc:
        raise PdfRejected("pdf_corrupt", f"cannot open: {exc}") from None
    with doc:
        if doc.needs_pass:
            raise PdfRejected("pdf_encrypted", "needs a password")
        try:
            pages = [
                page_paragraphs(doc[i], config.sort_blocks)
                for i in range(min(doc.page_count, config.max_pages))
            ]
        except Exception as exc:
            raise PdfRejected("pdf_corrupt", f"cannot read page: {exc}") from None
        text = join_pages(pages)
        if not text.strip():
            reason = "pdf_corrupt" if doc.is_repaired else "pdf_no_text"
            raise PdfRejected(reason, f"no extractable text on {doc.page_count} pages")
        meta = doc.metadata or {}
        return PdfText(
            text=text,
            title=meta.get("title") or None,
            author=meta.get("author") or None,
            date=pdf_date(meta.get("creationDate")),
            pages=doc.page_count,
        )


def page_paragraphs(page: pymupdf.Page, sort: bool) -> list[str]:
    """One paragraph per text block, its lines reflowed."""
    paragraphs = []
    for block in page.get_text("blocks", sort=sort):
        if block[6] == _TEXT_BLOCK:
            lines = [line.strip() for line in block[4].splitlines() if line.strip()]
            if lines:
                paragraphs.append(reflow(lines))
    return paragraphs


def _joins_hyphenated(left: str, right: str) -> bool:
    """`inter-` + `national`: a line-end hyphen after a letter, lowercase letter next."""
    return len(left) > 1 and left[-1] == "-" and left[-2].isalpha() and right[:1].islower()


def reflow(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        text = text[:-1] + line if _joins_hyphenated(text, line) else f"{text} {line}"
    return text


def join_pages(pages: list[list[str]]) -> str:
    """Paragraphs one per line; a paragraph cut by a page break is joined back together."""
    paragraphs: list[str] = []
    for page in pages:
        for index, paragraph in enumerate(page):
            if index == 0 and paragraphs and _runs_on(paragraphs[-1], paragraph):
                paragraphs[-1] = reflow([paragraphs[-1], paragraph])
            else:
                paragraphs.append(paragraph)
    return "\n".join(paragraphs)


def _runs_on(previous: str, following: str) -> bool:
    return previous[-1:] not in ".!?:;\"')" and following[:1].islower()


def pdf_date(value: str | None) -> str | None:
    """`D:20240102030405Z` -> `2024-01-02` (as much of the date as is given)."""
    match = _PDF_DATE.match(value or "")
    if not match:
        return None
    return "-".join(part for part in match.groups() if part)
