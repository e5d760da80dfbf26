"""What every filter step is: one class, one config section, one decision per document.

A step sees a mutable `Document` (pipeline/documents.py). It returns the name of the rule that
rejects the document, or None to keep it; it may also rewrite `doc.text` (PII masking) or set
annotation columns (`doc.annotations`).
The stage turns a returned rule into the reason `<step name>:<rule>` and counts it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from typing import ClassVar

import pyarrow as pa

from llm_pretrain.configbase import Section
from llm_pretrain.pipeline.documents import Document

# Scripts written without spaces between words: word-based rules (Gopher, C4, FineWeb) do not
# apply to them as published, so those steps skip documents identified as these languages.
NON_WHITESPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "dz", "yue", "wuu"})


class StepConfig(Section):
    """Base of every step's config section (unknown keys and wrong types are errors)."""


class Step(ABC):
    """One filter step. Subclasses set `name`, `config_class` and, if they add columns,
    `columns` (name -> Arrow type) so that every output shard has the same schema."""

    name: ClassVar[str]
    config_class: ClassVar[type[StepConfig]]
    columns: ClassVar[dict[str, pa.DataType]] = {}
    # Word-based steps set this: documents in NON_WHITESPACE_LANGUAGES pass them untouched.
    needs_whitespace_words: ClassVar[bool] = False

    def __init__(self, config: StepConfig) -> None:
        self.config = config
        # Extra counters for `_stats.json` (e.g. PII matches per type); rejections are
        # counted by the stage.
        self.counts: Counter[str] = Counter()

    def applies_to(self, doc: Document) -> bool:
        return not (self.needs_whitespace_words and doc.language in NON_WHITESPACE_LANGUAGES)

    def identities(self) -> list[dict[str, str]]:
        """The content of files the step's decisions depend on beyond its config (digests):
        part of the filter run's inputs, so that a changed file makes another run."""
        return []

    @abstractmethod
    def apply(self, doc: Document) -> str | None:
        """Return the name of the failed rule to reject `doc`, or None to keep it."""
