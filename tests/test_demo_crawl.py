"""The demo's crawl: real text, the planted cases, the same bytes on every build."""

from __future__ import annotations

import hashlib
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from llm_pretrain.demo_crawl import (
    MIRROR_WARC,
    SPAM_COMMENT,
    build_first_delivery,
    build_second_delivery,
    module_docs,
    reference_topics,
    text_blocks,
)


def digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_text_blocks_reads_headings_code_and_paragraphs():
    text = "Title\n*****\n\nA paragraph\nwrapped here.\n\n   x = 1\n     y = 2\n\nEnd."
    assert text_blocks(text) == [
        ("h2", "Title"),
        ("p", "A paragraph wrapped here."),
        ("pre", "x = 1\n  y = 2"),
        ("p", "End."),
    ]


def test_the_text_is_pythons_own_documentation():
    topics = {doc.slug: doc for doc in reference_topics()}
    assert topics["reference/if"].title == 'The "if" statement'
    assert "conditional execution" in topics["reference/if"].text()
    modules = {doc.slug: doc for doc in module_docs()}
    assert len(modules) > 50 and "library/json" in modules
    assert all(len(doc.text()) >= 2500 for doc in modules.values())
    assert not any(slug.startswith("library/test") for slug in modules)


def test_deliveries_are_deterministic_and_hold_the_planted_cases(tmp_path):
    first = build_first_delivery(tmp_path / "a")
    build_first_delivery(tmp_path / "b")
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert first.mirrored > 0 and first.pdfs > 0 and first.with_pii > 0
    pages = {}
    for warc in sorted((tmp_path / "a" / "crawl").glob("*.warc.gz")):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    pages[url] = record.content_stream().read().decode("utf-8", "replace")
    assert (tmp_path / "a" / "crawl" / MIRROR_WARC).is_file()
    html = "\n".join(pages.values())
    assert "@pyref.example.org" in html and "(555) 201-" in html  # PII
    assert SPAM_COMMENT.split(",")[0] in html
    assert any(url.endswith("?highlight=python") for url in pages)  # exact duplicates
    assert any("pyref-mirror" in url for url in pages)  # near duplicates
    loose = {p.name for p in (tmp_path / "a" / "pages").iterdir()}
    assert {"intro-de.html", "intro-fr.html", "intro-es.html"} <= loose
    second = build_second_delivery(tmp_path / "c")
    assert second.pages > 0 and (tmp_path / "c" / "crawl" / "docs-2025-11.warc.gz").is_file()
