"""Typed pipeline configuration: YAML in, validated models out, command-line overrides on top.

Pydantic models rather than bare dataclasses: they are still plain typed classes, and they give
us strict type checks and error messages that name the offending key for free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from llm_pretrain.configbase import (  # noqa: F401 (re-exported for the commands)
    ConfigError,
    Section,
    apply_overrides,
    parse_assignment,
    read_yaml_mapping,
    validate,
)
from llm_pretrain.corpus.config import RefreshConfig
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.filters.blocklist import UrlBlocklistConfig, WordBlocklistConfig
from llm_pretrain.pipeline.filters.c4 import C4QualityConfig
from llm_pretrain.pipeline.filters.classifier import (
    QualityClassifierConfig,
    ToxicityClassifierConfig,
)
from llm_pretrain.pipeline.filters.fineweb import FineWebQualityConfig
from llm_pretrain.pipeline.filters.gopher import GopherQualityConfig, GopherRepetitionConfig
from llm_pretrain.pipeline.filters.language import LanguageConfig
from llm_pretrain.pipeline.filters.pii import PiiMaskingConfig
from llm_pretrain.pipeline.filters.registry import STEP_CLASSES
from llm_pretrain.pipeline.filters.training import TrainClassifierConfig
from llm_pretrain.tokenizer.config import TokenizeConfig, TokenizerConfig

# The longest time limit a setting takes (30 days): more overflows the timers it arms.
MAX_TIMEOUT_S = 30 * 86400.0


class HtmlConfig(Section):
    mode: Literal["balanced", "precision", "recall"] = Field(
        "balanced",
        description="trafilatura trade-off: precision drops more boilerplate, "
        "recall keeps more text",
    )
    fast: bool = Field(
        False, description="skip trafilatura's fallback extractors (faster, a little less text)"
    )
    include_tables: bool = Field(True, description="keep the text of HTML tables")
    include_comments: bool = Field(False, description="keep user comments below articles")
    with_metadata: bool = Field(
        True, description="extract title, author and publication date (costs some speed)"
    )


class PdfConfig(Section):
    max_pages: int = Field(2000, ge=1, description="pages read per PDF; the rest are ignored")
    sort_blocks: bool = Field(
        False,
        description="sort text blocks top-to-bottom, left-to-right instead of keeping the "
        "PDF's own order (helps scanned layouts, hurts multi-column pages)",
    )


class ExtractConfig(Section):
    text_field: str = Field("text", description="text column of .jsonl and .parquet inputs")
    min_chars: int = Field(
        50, ge=0, description="documents with fewer extracted characters are rejected"
    )
    max_document_bytes: int = Field(
        20_000_000, ge=1, description="raw documents larger than this are rejected unread"
    )
    document_timeout_s: float = Field(
        30.0, gt=0, le=MAX_TIMEOUT_S, description="time limit for extracting one document"
    )
    task_max_files: int = Field(
        64, ge=1, description="small input files grouped into one task and output shard"
    )
    task_max_bytes: int = Field(
        256_000_000, ge=1, description="input bytes grouped into one task and output shard"
    )
    row_group_rows: int = Field(1000, ge=1, description="rows per Parquet row group")
    html: HtmlConfig = Field(default_factory=HtmlConfig)
    pdf: PdfConfig = Field(default_factory=PdfConfig)


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

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, steps: list[str]) -> list[str]:
        unknown = [name for name in steps if name not in STEP_CLASSES]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r}; known: {', '.join(STEP_CLASSES)}")
        if len(set(steps)) != len(steps):
            raise ValueError("a step is listed twice")
        return steps


class PipelineConfig(Section):
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    train_classifier: TrainClassifierConfig = Field(default_factory=TrainClassifierConfig)
    refresh: RefreshConfig = Field(default_factory=RefreshConfig)


def load_config(
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    given: dict[str, str] | None = None,
) -> PipelineConfig:
    """Read YAML (or start from defaults), apply overrides, validate. `given` maps a dotted
    key to how the user gave it (`--workers`), for the error message."""
    data = read_yaml_mapping(path) if path is not None else {}
    apply_overrides(data, overrides or {})
    return validate(PipelineConfig, data, path, given)
