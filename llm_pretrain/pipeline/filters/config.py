"""The `filter` section of the pipeline config: which steps run, and each step's own section
(each defined beside its step)."""

from __future__ import annotations

from pydantic import Field, field_validator

from llm_pretrain.configbase import MAX_TIMEOUT_S, Section
from llm_pretrain.pipeline.filters.blocklist import UrlBlocklistConfig, WordBlocklistConfig
from llm_pretrain.pipeline.filters.c4 import C4QualityConfig
from llm_pretrain.pipeline.filters.classifier import (
    QualityClassifierConfig,
    ToxicityClassifierConfig,
)
from llm_pretrain.pipeline.filters.decontaminate import DecontaminateConfig
from llm_pretrain.pipeline.filters.fineweb import FineWebQualityConfig
from llm_pretrain.pipeline.filters.gopher import GopherQualityConfig, GopherRepetitionConfig
from llm_pretrain.pipeline.filters.language import LanguageConfig
from llm_pretrain.pipeline.filters.pii import PiiMaskingConfig
from llm_pretrain.pipeline.filters.registry import STEP_CLASSES


class FilterConfig(Section):
    steps: list[str] = Field(
        ["language", "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality", "pii"],
        description="steps to run, in order; a document stops at the first step that rejects it",
    )
    dry_run: bool = Field(
        False,
        description="reject nothing: keep every document and list in `would_reject` the "
        "reasons of every step that would have rejected it (for tuning thresholds)",
    )
    document_timeout_s: float = Field(
        10.0,
        gt=0,
        le=MAX_TIMEOUT_S,
        description="time limit for one step on one document (rule `timeout`)",
    )
    row_group_rows: int = Field(1000, ge=1, description="rows per Parquet row group")
    language: LanguageConfig = Field(default_factory=LanguageConfig)
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4_quality: C4QualityConfig = Field(default_factory=C4QualityConfig)
    fineweb_quality: FineWebQualityConfig = Field(default_factory=FineWebQualityConfig)
    quality_classifier: QualityClassifierConfig = Field(default_factory=QualityClassifierConfig)
    toxicity_classifier: ToxicityClassifierConfig = Field(default_factory=ToxicityClassifierConfig)
    word_blocklist: WordBlocklistConfig = Field(default_factory=WordBlocklistConfig)
    url_blocklist: UrlBlocklistConfig = Field(default_factory=UrlBlocklistConfig)
    pii: PiiMaskingConfig = Field(default_factory=PiiMaskingConfig)
    decontaminate: DecontaminateConfig = Field(default_factory=DecontaminateConfig)

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, steps: list[str]) -> list[str]:
        unknown = [name for name in steps if name not in STEP_CLASSES]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r}; known: {', '.join(STEP_CLASSES)}")
        if len(set(steps)) != len(steps):
            raise ValueError("a step is listed twice")
        return steps
