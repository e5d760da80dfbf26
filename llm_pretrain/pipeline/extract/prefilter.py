"""Cheap rejections before the expensive HTML extraction.

FineWeb (Penedo et al. 2024, section 3.2) filters URLs before running trafilatura: a page from
a blocked site costs nothing to reject by its URL and much to extract first. Likewise a page in
a language the filter will reject can usually be recognised from resiliparse's plain text of
the whole page (tens of times faster than trafilatura's main-text extraction). Both run only on
HTML, record the reasons the filter would (`url_blocklist:<rule>`, `language:other_language`),
and use the filter's own settings (`filter.url_blocklist`, `filter.language`), so that nothing
they reject would have been kept by the filter, except by the language check's margin: it
rejects only when another language wins with at least `extract.prefilter.language_min_score`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from resiliparse.extract.html2text import extract_plain_text

from llm_pretrain.errors import UsageError
from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.extract.config import ExtractConfig
from llm_pretrain.pipeline.filters.blocklist import UrlBlocklist, UrlBlocklistConfig
from llm_pretrain.pipeline.filters.config import FilterConfig
from llm_pretrain.pipeline.filters.language import (
    LanguageConfig,
    identify,
    load_model,
    packaged_model_path,
)

# fastText reads the first line it is given; 2,000 characters identify a page's language well
# and keep the check cheap on long pages.
_LANGUAGE_CHARS = 2000


class PrefilterError(UsageError, ValueError):
    """A prefilter the filter's settings cannot back: a config error."""


class Rejection(Exception):
    """A page rejected before extraction, with its reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class PrefilterPlan:
    """What the checks need, picklable for the workers: the filter's sections, or None."""

    url_blocklist: UrlBlocklistConfig | None
    language: LanguageConfig | None
    language_min_score: float

    def identity(self) -> dict[str, Any]:
        """Part of the extract run's config: the settings that decide (of the language step,
        the languages kept and the model, not its own threshold)."""
        language = None
        if self.language is not None:
            language = self.language.model_dump(include={"languages", "model_path"})
        return {
            "url_blocklist": self.url_blocklist.model_dump() if self.url_blocklist else None,
            "language": language,
            "language_min_score": self.language_min_score,
        }


class Prefilter:
    """The checks of a plan, built once per worker."""

    def __init__(self, plan: PrefilterPlan) -> None:
        self.plan = plan
        self.urls = UrlBlocklist(plan.url_blocklist) if plan.url_blocklist else None
        self.model = None
        self.keep: set[str] | None = None
        if plan.language is not None:
            self.model = load_model(plan.language.model_path or str(packaged_model_path()))
            languages = plan.language.languages
            self.keep = set(languages) if languages is not None else None

    def check_url(self, doc: Document) -> None:
        if self.urls is not None and doc.url:
            rule = self.urls.apply(doc)
            if rule is not None:
                raise Rejection(f"url_blocklist:{rule}")

    def check_language(self, doc: Document, html: str) -> None:
        if self.model is None or self.keep is None:
            return
        text = extract_plain_text(html, preserve_formatting=False)[:_LANGUAGE_CHARS]
        if not text.strip():
            return  # nothing to judge by: let the extractor decide
        language, score = identify(self.model, text)
        if language not in self.keep and score >= self.plan.language_min_score:
            doc.language, doc.language_score = language, score
            raise Rejection("language:other_language")


_built: dict[str, Prefilter] = {}


def prefilter(plan: PrefilterPlan | None) -> Prefilter | None:
    """The worker's checks for `plan` (built on first use)."""
    if plan is None:
        return None
    key = json.dumps(plan.identity(), sort_keys=True)
    if key not in _built:
        _built[key] = Prefilter(plan)
    return _built[key]


def plan_for(extract: ExtractConfig, filters: FilterConfig) -> ExtractConfig:
    """`extract` with the plan of its `prefilter` section attached (taking the filter's own
    sections), or as it is when no check is on. A check whose step the filter does not run is
    refused (it would reject what the filter keeps), and the checks are built here once, so
    that a missing list or model fails before any worker starts."""
    wanted = extract.prefilter
    if not (wanted.url_blocklist or wanted.language):
        return extract
    for key, step in (("url_blocklist", "url_blocklist"), ("language", "language")):
        if getattr(wanted, key) and step not in filters.steps:
            raise PrefilterError(
                f"extract.prefilter.{key} rejects early what the filter's {step} step would: "
                f"add {step} to filter.steps, or turn the check off"
            )
    plan = PrefilterPlan(
        filters.url_blocklist if wanted.url_blocklist else None,
        filters.language if wanted.language else None,
        wanted.language_min_score,
    )
    try:
        Prefilter(plan)
    except ValueError as exc:  # fastText's "cannot be opened for loading"
        raise PrefilterError(f"extract.prefilter.language: {exc}") from None
    return extract.with_prefilter(plan)
