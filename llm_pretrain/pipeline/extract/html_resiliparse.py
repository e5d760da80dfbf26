"""Main text of a web page with resiliparse, plus its title and publication date.

Resiliparse's `extract_plain_text(main_content=True)` is a fast rule-based extractor (Bevendorff
et al.); DCLM (Li et al. 2024, "DataComp-LM") chose it over trafilatura for its speed. Measured
on the 181 pages of a public article-extraction benchmark: about 680 pages/s with bag-of-words
F1 0.898, against trafilatura's 60 pages/s and 0.948 (issue 22's figures). Settings as DCLM's:
formatting kept, alt texts, links, form fields and noscript left out.

Resiliparse reads no author or site name; the date comes from the page's own metadata (the meta
tags publishers and news sitemaps use, then the first `<time datetime>`), the date part only.
"""

from __future__ import annotations

import datetime
import re

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from llm_pretrain.pipeline.extract.config import HtmlConfig
from llm_pretrain.pipeline.extract.page import PageText

# (attribute, value) of the <meta> tags that hold a publication date, most specific first.
_DATE_META = (
    ("property", "article:published_time"),
    ("itemprop", "datepublished"),
    ("name", "citation_publication_date"),
    ("name", "dc.date.issued"),
    ("name", "dcterms.date"),
    ("name", "dc.date"),
    ("name", "pubdate"),
    ("name", "publishdate"),
    ("name", "date"),
    ("property", "og:published_time"),
)
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")


def iso_date(value: str | None) -> str | None:
    """The first valid YYYY-MM-DD (or YYYY/MM/DD) date in `value`, as YYYY-MM-DD."""
    match = _DATE.search(value or "")
    if not match:
        return None
    try:
        return datetime.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def page_date(tree: HTMLTree) -> str | None:
    found: dict[tuple[str, str], str] = {}
    for meta in tree.document.query_selector_all("meta[content]"):
        for attribute in ("property", "itemprop", "name"):
            key = (meta.getattr(attribute) or "").strip().lower()
            if key:
                found.setdefault((attribute, key), meta.getattr("content") or "")
    for key in _DATE_META:
        date = iso_date(found.get(key))
        if date:
            return date
    time = tree.document.query_selector("time[datetime]")
    return iso_date(time.getattr("datetime")) if time is not None else None


def extract_page(html: str, config: HtmlConfig) -> PageText | None:
    """None when resiliparse finds no main text."""
    tree = HTMLTree.parse(html)
    text = extract_plain_text(
        tree,
        preserve_formatting=True,
        main_content=True,
        list_bullets=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        comments=config.include_comments,
        skip_elements=None if config.include_tables else ["table"],
    ).strip()
    if not text:
        return None
    title = (tree.title or "").strip() or None
    date = page_date(tree) if config.with_metadata else None
    return PageText(text, title, None, date, None)
