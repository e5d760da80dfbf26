"""Fixtures built by the tests themselves: pages, PDFs, WARCs and small corpora."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from llm_pretrain.config import load_config
from llm_pretrain.samples import article, encrypt_pdf, write_image_only_pdf, write_pdf

MAIN_TEXT = (
    "The river authority published a detailed survey of the northern coast after months of "
    "careful work. Engineers measured the water level at forty stations and compared the "
    "results with records kept since the nineteenth century."
)
BOILERPLATE_PAGE = f"""<!DOCTYPE html><html>
<head><meta charset="utf-8"><title>Coast survey</title></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav>
<div class="cookie">This site uses cookies. Accept all cookies to continue browsing.</div>
<article><h1>Coast survey</h1>
<p>{MAIN_TEXT}</p>
<p>Volunteers from three villages helped to restore the old measuring posts along the shore,
and the survey will be repeated every spring for the next ten years.</p>
</article>
<footer><p>Copyright 2024 Example Media Group. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms and conditions</a></footer>
</body></html>"""


@pytest.fixture
def config():
    """Defaults, one worker, and a low min_chars so that small fixtures pass."""
    return load_config(None, {"executor.workers": 1, "extract.min_chars": 20})


def http_response(payload: bytes, content_type: str, status: str = "200 OK") -> StatusAndHeaders:
    return StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")


def write_test_warc(path: Path, pages: int = 5, gzip: bool = True) -> list[str]:
    """`pages` HTML responses, plus a request record, a 404 and a PNG. Returns page URLs."""
    urls = []
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gzip)
        for index in range(pages):
            page = article(index, seed=7)
            urls.append(page.url)
            payload = page.html.encode()
            writer.write_record(
                writer.create_warc_record(
                    page.url,
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=http_response(payload, "text/html; charset=utf-8"),
                )
            )
        request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "x.org")], is_http_request=True)
        writer.write_record(
            writer.create_warc_record(
                "https://x.org/", "request", payload=io.BytesIO(b""), http_headers=request
            )
        )
        for url, payload, ctype, status in [
            ("https://x.org/gone", b"<html><p>gone</p></html>", "text/html", "404 Not Found"),
            ("https://x.org/a.png", b"\x89PNG\r\n" + bytes(100), "image/png", "200 OK"),
        ]:
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=http_response(payload, ctype, status),
                )
            )
    return urls


@pytest.fixture
def mixed_inputs(tmp_path: Path) -> dict[str, Path]:
    """A WARC.gz, a folder of PDFs (good, encrypted, truncated, image-only), pages, junk."""
    root = tmp_path / "raw"
    (root / "pdfs").mkdir(parents=True)
    (root / "pages").mkdir()
    write_test_warc(root / "crawl.warc.gz", pages=4)
    write_pdf(root / "pdfs" / "good.pdf", "Good", [MAIN_TEXT, MAIN_TEXT.upper()])
    write_pdf(root / "pdfs" / "locked.pdf", "Locked", [MAIN_TEXT])
    encrypt_pdf(root / "pdfs" / "locked.pdf")
    write_pdf(root / "pdfs" / "cut.pdf", "Cut", [MAIN_TEXT] * 3)
    data = (root / "pdfs" / "cut.pdf").read_bytes()
    (root / "pdfs" / "cut.pdf").write_bytes(data[: len(data) // 2])
    write_image_only_pdf(root / "pdfs" / "scan.pdf")
    (root / "pages" / "story.html").write_text(BOILERPLATE_PAGE, encoding="utf-8")
    (root / "pages" / "junk.html").write_bytes(bytes(range(256)) * 8)
    return {
        "root": root,
        "warc": root / "crawl.warc.gz",
        "pdfs": root / "pdfs",
        "pages": root / "pages",
    }
