"""Main text of a web page with the configured engine (trafilatura, the default, or
resiliparse), plus its title, author and date."""

from __future__ import annotations

import logging

import trafilatura

from llm_pretrain.pipeline.extract import html_resiliparse
from llm_pretrain.pipeline.extract.config import HtmlConfig
from llm_pretrain.pipeline.extract.page import PageText

# trafilatura and htmldate log every unparsable page at ERROR; we record those as rejections.
for _name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def extract_page(html: str, url: str | None, config: HtmlConfig) -> PageText | None:
    """None when the engine finds no main text (empty page, junk, pure navigation)."""
    if config.engine == "resiliparse":
        return html_resiliparse.extract_page(html, config)
    result = trafilatura.bare_extraction(
        html,
        url=url,
        fast=config.fast,
        favor_precision=config.mode == "precision",
        favor_recall=config.mode == "recall",
        include_comments=config.include_comments,
        include_tables=config.include_tables,
        with_metadata=config.with_metadata,
        deduplicate=False,
    )
    if result is None or not result.text:
        return None
    return PageText(result.text, result.title, result.author, result.date, result.sitename)
