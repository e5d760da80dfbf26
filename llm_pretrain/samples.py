"""A synthetic crawl built offline: article pages with boilerplate, WARCs, PDFs.

Used by `make demo`, the benchmarks and the tests, so that nothing is downloaded. Text comes
from a small seeded grammar: readable enough for extraction, not meant as training data.
"""

from __future__ import annotations

import html
import io
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

_SUBJECTS = [
    "the committee",
    "a small team",
    "the river authority",
    "our correspondent",
    "the museum",
    "local farmers",
    "the research group",
    "the city council",
    "a visiting scholar",
    "engineers",
    "the orchestra",
    "the weather service",
    "historians",
    "the new library",
    "volunteers",
]
_VERBS = [
    "described",
    "questioned",
    "rebuilt",
    "measured",
    "published",
    "examined",
    "celebrated",
    "recorded",
    "explained",
    "restored",
    "compared",
    "discovered",
    "planned",
    "reviewed",
]
_OBJECTS = [
    "the old railway bridge",
    "a detailed survey of the coast",
    "the annual harvest report",
    "several letters from the archive",
    "the results of the long experiment",
    "a proposal for cleaner water",
    "the history of the northern valley",
    "an unusual pattern in the data",
    "the damaged stained glass windows",
    "the effects of the dry summer",
    "a map of forgotten footpaths",
    "the first printed edition",
]
_TAILS = [
    "after months of careful work",
    "despite the heavy rain",
    "with support from residents",
    "before the end of the season",
    "in front of a large audience",
    "for the first time",
    "according to officials",
    "while students looked on",
    "as part of a wider study",
    "at the request of the mayor",
    "in the early hours of the morning",
    "without much fanfare",
]
_TOPICS = ["Science", "History", "Culture", "Environment", "Travel", "Education", "Technology"]


_ADJECTIVES = """old new small large quiet busy northern southern eastern western local
national early late remarkable careful detailed unusual familiar forgotten modern ancient
wooden narrow broad sunny rainy crowded empty famous hidden curious patient generous bright
dark heavy fragile seasonal rural urban coastal""".split()
_NOUNS = """bridge harbour library orchard museum garden railway school market village
river valley archive festival survey report experiment map letter window tower chapel mill
factory forest meadow lighthouse canal station theatre hospital bakery workshop laboratory
vineyard quarry island footpath manuscript painting""".split()
_PLACES = """the coast, the hills, the old town, the county, the northern valley, the lake
district, the capital, the border, the islands, the mountains, the river delta, the plains,
the suburbs, the university, the harbour district""".replace("\n", " ").split(", ")
_PREPOSITIONS = ["near", "beside", "behind", "across", "above", "below", "around", "beyond"]
_CONNECTIVES = ["", "", "", "Meanwhile, ", "Later, ", "As expected, ", "In the end, "]


def _thing(rng: random.Random) -> str:
    thing = f"the {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if rng.random() < 0.5:
        thing += f" {rng.choice(_PREPOSITIONS)} {rng.choice(_PLACES)}"
    return thing


def sentence(rng: random.Random) -> str:
    """One sentence from a small grammar with enough slots that word n-grams rarely repeat."""
    parts = [rng.choice(_CONNECTIVES) + rng.choice(_SUBJECTS), rng.choice(_VERBS), _thing(rng)]
    if rng.random() < 0.6:
        parts.append(rng.choice(_TAILS))
    text = " ".join(parts)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?"])


def paragraph(rng: random.Random, sentences: int = 5) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


@dataclass
class Article:
    url: str
    title: str
    date: str
    paragraphs: list[str]
    html: str


def article(index: int, seed: int = 0, paragraphs: int = 6) -> Article:
    """A news-style page: the article plus navigation, sidebar, cookie banner and footer."""
    rng = random.Random(f"{seed}-{index}")
    topic = rng.choice(_TOPICS)
    title = (
        f"{topic}: {rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    )
    date = f"20{rng.randint(15, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    body = [paragraph(rng, rng.randint(4, 7)) for _ in range(paragraphs)]
    url = f"https://news{index % 7}.example.org/{topic.lower()}/{index}-story.html"
    nav = "".join(f'<li><a href="/{t.lower()}">{t}</a></li>' for t in _TOPICS)
    related = "".join(
        f'<li><a href="/story/{index + k}">Read also: {html.escape(rng.choice(_OBJECTS))}</a></li>'
        for k in range(1, 9)
    )
    paras = "\n".join(f"<p>{html.escape(p)}</p>" for p in body)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | Example News</title>
<meta name="date" content="{date}"><meta name="author" content="Staff Writer">
<script>window.dataLayer = window.dataLayer || []; function track() {{ return 1; }}</script>
<style>body {{ font-family: sans-serif; }} .nav li {{ display: inline; }}</style>
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<header><div class="logo">Example News</div><nav><ul class="nav">{nav}</ul></nav></header>
<main><article>
<h1>{html.escape(title)}</h1>
<p class="byline">By Staff Writer, published {date}</p>
{paras}
</article>
<aside class="sidebar"><h3>Most read</h3><ul>{related}</ul>
<div class="ad">Advertisement: subscribe today and save fifty percent</div></aside></main>
<footer><p>Copyright 2024 Example News Ltd. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li>
<li><a href="/contact">Contact us</a></li></ul></footer>
</body></html>"""
    return Article(url, title, date, body, page)


def _http_response(payload: bytes, content_type: str, status: str = "200 OK") -> StatusAndHeaders:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


def write_warc(
    path: Path,
    articles: list[Article],
    gzip: bool = True,
    extras: bool = True,
    deterministic: bool = False,
) -> None:
    """Request + response records per article; with extras, a 404, an image and a redirect.

    `deterministic` gives every record an id derived from the file name, its position and URL,
    and a fixed date, so the same articles make the same bytes (and the same document ids)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gzip)
        if deterministic:
            writer = _DeterministicRecords(writer, path.name)
        for item in articles:
            request_headers = StatusAndHeaders(
                f"GET {item.url} HTTP/1.1", [("User-Agent", "sample-crawler")], is_http_request=True
            )
            request = writer.create_warc_record(
                item.url, "request", payload=io.BytesIO(b""), http_headers=request_headers
            )
            writer.write_record(request)
            payload = item.html.encode("utf-8")
            headers = _http_response(payload, "text/html; charset=utf-8")
            writer.write_record(
                writer.create_warc_record(
                    item.url, "response", payload=io.BytesIO(payload), http_headers=headers
                )
            )
        if extras:
            extra = [
                (
                    "https://example.org/missing",
                    b"<html>Not found</html>",
                    "text/html",
                    "404 Not Found",
                ),
                (
                    "https://example.org/logo.png",
                    b"\x89PNG\r\n\x1a\n" + bytes(200),
                    "image/png",
                    "200 OK",
                ),
                ("https://example.org/old", b"", "text/html", "301 Moved Permanently"),
            ]
            for url, payload, ctype, status in extra:
                headers = _http_response(payload, ctype, status)
                writer.write_record(
                    writer.create_warc_record(
                        url, "response", payload=io.BytesIO(payload), http_headers=headers
                    )
                )


def warc_record_spans(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of every record of an intact WARC (in a .warc.gz, of its gzip member):
    where to damage a crawl in tests and drills."""
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream)
        spans = []
        for record in records:
            records.read_to_end(record)
            spans.append((records.get_record_offset(), records.get_record_length()))
    return spans


class _DeterministicRecords:
    """A WARCWriter whose records get a fixed date and an id from (file, record number, URL)."""

    DATE = "2025-11-01T00:00:00Z"

    def __init__(self, writer: WARCWriter, name: str) -> None:
        self.writer, self.name, self.count = writer, name, 0

    def create_warc_record(self, uri: str, record_type: str, **kwargs: object) -> object:
        self.count += 1
        record_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name} {self.count} {record_type} {uri}")
        headers = {"WARC-Record-ID": f"<urn:uuid:{record_id}>", "WARC-Date": self.DATE}
        return self.writer.create_warc_record(uri, record_type, warc_headers_dict=headers, **kwargs)

    def write_record(self, record: object) -> None:
        self.writer.write_record(record)


def write_pdf(path: Path, title: str, paragraphs: list[str], author: str = "A. Author") -> None:
    """A multi-page PDF with narrow text boxes, so pymupdf sees real line breaks."""
    import pymupdf

    doc = pymupdf.open()
    for text in paragraphs:
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 400, 770), text, fontsize=11)
    stamp = "D:20240315120000Z"  # fixed dates and no random /ID: the same input, the same bytes
    doc.set_metadata({"title": title, "author": author, "creationDate": stamp, "modDate": stamp})
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path, no_new_id=True)
    doc.close()


def encrypt_pdf(path: Path, password: str = "secret") -> None:
    """Re-save a PDF with AES-256 encryption and a user password."""
    import pymupdf

    doc = pymupdf.open(path)
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw="o")
    doc.close()
    path.write_bytes(data)


def write_image_only_pdf(path: Path) -> None:
    """A scan-like PDF: one page with an image and no text layer."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), False)
    pixmap.clear_with(200)
    page.insert_image(pymupdf.Rect(72, 72, 300, 300), pixmap=pixmap)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    doc.close()


def build_sample(folder: Path, pages: int = 40, pdfs: int = 4, seed: int = 0) -> dict[str, Path]:
    """A small mixed crawl: a WARC.gz, loose HTML pages, and a folder of PDFs."""
    articles = [article(i, seed) for i in range(pages)]
    crawl = folder / "crawl" / "sample.warc.gz"
    write_warc(crawl, articles[: pages // 2])
    html_dir = folder / "pages"
    html_dir.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(articles[pages // 2 :]):
        (html_dir / f"page-{index:03d}.html").write_text(item.html, encoding="utf-8")
    pdf_dir = folder / "pdfs"
    rng = random.Random(seed)
    for index in range(pdfs):
        write_pdf(
            pdf_dir / f"report-{index:02d}.pdf",
            f"Report {index}",
            [paragraph(rng, 12) for _ in range(3)],
        )
    return {"warc": crawl, "html": html_dir, "pdf": pdf_dir}
