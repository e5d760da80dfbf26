"""The `extract` section of the pipeline config: the stage's own settings and its readers'."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

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


class PrefilterConfig(Section):
    """Cheap rejections before HTML extraction, with the filter's settings (prefilter.py)."""

    url_blocklist: bool = Field(
        False,
        description="reject pages by URL with filter.url_blocklist's lists before extracting "
        "them (FineWeb's order); same reasons as the filter step",
    )
    language: bool = Field(
        False,
        description="identify the language of resiliparse's plain text of the whole page "
        "first, and reject it as language:other_language when a language outside "
        "filter.language.languages wins with at least language_min_score",
    )
    language_min_score: float = Field(
        0.8,
        ge=0,
        le=1,
        description="the pre-check's own threshold: higher than the filter's 0.65, because it "
        "reads the whole page (menus included), not the main text",
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
    base_url: str | None = Field(
        None,
        description="the URL a path list's relative paths are joined to (an --input ending in "
        ".paths or .paths.gz): https://data.commoncrawl.org/ or s3://commoncrawl/ for Common "
        "Crawl",
    )
    paths_range: str | None = Field(
        None,
        description="START:END, the lines of each path list to read, as a Python slice (0:100: "
        "its first 100 files); empty: all",
    )
    html: HtmlConfig = Field(default_factory=HtmlConfig)
    pdf: PdfConfig = Field(default_factory=PdfConfig)
    prefilter: PrefilterConfig = Field(default_factory=PrefilterConfig)
    # The checks `prefilter` asks for, with the filter's sections (prefilter.plan_for): not
    # config, but carried with it to the workers.
    _prefilter_plan: Any = PrivateAttr(default=None)

    @property
    def prefilter_plan(self) -> Any:
        return self._prefilter_plan

    def with_prefilter(self, plan: Any) -> ExtractConfig:
        copy = self.model_copy(deep=True)
        copy._prefilter_plan = plan
        return copy
