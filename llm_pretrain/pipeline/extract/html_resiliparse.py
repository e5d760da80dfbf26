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
_DATE = re.compile(r"(?<!\d)(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?!\d)")
# htmldate, trafilatura's date finder, accepts nothing before 1995 (no web pages to speak of).
EARLIEST = datetime.date(1995, 1, 1)


def iso_date(value: str | None) -> str | None:
    """The first YYYY-MM-DD (or YYYY/MM/DD) date in `value` that is a real day from 1995 up to
    tomorrow (a time zone ahead), as YYYY-MM-DD."""
    latest = datetime.date.today() + datetime.timedelta(days=1)
    for match in _DATE.finditer(value or ""):
        try:
            date = datetime.date(*map(int, match.groups()))
        except ValueError:
            continue
        if EARLIEST <= date <= latest:
            return date.isoformat()
    return None


def page_date(tree: HTMLTree) -> str | None:
    """One selector per known tag, case-insensitive: iterating over every <meta> through
    resiliparse's collections costs time quadratic in their number (8 s for 2,000 tags)."""
    document = tree.document
    for attribute, value in _DATE_META:
        meta = document.query_selector(f'meta[{attribute}="{value}" i][content]')
        date = iso_date(meta.getattr("content")) if meta is not None else None
        if date:
            return date
    time = document.query_selector("time[datetime]")
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
