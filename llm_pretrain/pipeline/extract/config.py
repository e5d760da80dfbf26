"""The `extract` section of the pipeline config: the stage's own settings and its readers'."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from llm_pretrain.configbase import MAX_TIMEOUT_S, Section


class HtmlConfig(Section):
    engine: Literal["trafilatura", "resiliparse"] = Field(
        "trafilatura",
        description="trafilatura (better text, F1 0.948) or resiliparse (about 11x faster, "
        "F1 0.898, as DCLM); mode and fast apply to trafilatura only",
    )
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
