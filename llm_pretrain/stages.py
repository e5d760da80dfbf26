"""The dataset stages in pipeline order: one table for the command line, refresh, the report
and the demo, and the stages run from the whole pipeline config.

Each stage lives in its own package with its config section and takes only that section and
the executor's (`run_filter(..., config.filter, config.executor)`); the functions here are the
composition layer above them, for the commands and refresh, which hold the whole config.
Adding a stage: its package (config section, a `Stage` for pipeline/runner.py), one row of
`STAGES`, its section in `PipelineConfig`, and its command (see the README, "Extending").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the stages are imported when run: `llm-data status` needs only the table
    from llm_pretrain.config import PipelineConfig
    from llm_pretrain.pipeline.extract.input_file import InputFile
    from llm_pretrain.pipeline.runner import RunSummary


@dataclass(frozen=True)
class StageInfo:
    name: str  # the command, `llm-data NAME`, and the `stage` of its manifest
    folder: str  # its output's folder in a chain's work folder and in a refresh batch
    documents: bool  # whether its output is a document dataset (tokenize writes token shards)


STAGES = (
    StageInfo("extract", "extracted", documents=True),
    StageInfo("filter", "filtered", documents=True),
    StageInfo("dedup", "deduped", documents=True),
    StageInfo("tokenize", "tokens", documents=False),
)
STAGE_FOLDERS = {stage.name: stage.folder for stage in STAGES}
DOCUMENT_STAGES = tuple(stage.name for stage in STAGES if stage.documents)


def run_extract(
    inputs: list[str],
    output: Path | str,
    config: PipelineConfig,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    from llm_pretrain.pipeline.extract import stage as extract
    from llm_pretrain.pipeline.extract.prefilter import plan_for

    settings = plan_for(config.extract, config.filter)
    return extract.run_extract(
        inputs, output, settings, config.executor, show_progress, overwrite, config.storage
    )


def extract_files(
    files: list[InputFile],
    output: Path,
    config: PipelineConfig,
    show_progress: bool = True,
    overwrite: bool = False,
    unsupported: list[str] | None = None,
) -> RunSummary:
    """Extract files as a refresh found them (see pipeline/extract/stage.py)."""
    from llm_pretrain.pipeline.extract import stage as extract
    from llm_pretrain.pipeline.extract.prefilter import plan_for
    from llm_pretrain.pipeline.runner import run_stage
    from llm_pretrain.remote import stores

    settings = plan_for(config.extract, config.filter)
    stores.use(config.storage)
    stage = extract.extract_stage(files, output, settings, unsupported)
    return run_stage(stage, extract.polite(config.executor, files, config.storage),
                     show_progress, overwrite)  # fmt: skip


def run_filter(
    input_dir: Path | str,
    output: Path | str,
    config: PipelineConfig,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    from llm_pretrain.pipeline.filters import stage as filters
    from llm_pretrain.remote import stores

    stores.use(config.storage)
    return filters.run_filter(
        input_dir, output, config.filter, config.executor, show_progress, overwrite
    )


def run_dedup(
    input_dir: Path | str,
    output: Path | str,
    config: PipelineConfig,
    index_dir: Path | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    from llm_pretrain.pipeline.dedup import stage as dedup
    from llm_pretrain.remote import stores

    stores.use(config.storage)
    return dedup.run_dedup(
        input_dir, output, config.dedup, config.executor, index_dir, show_progress, overwrite
    )


def run_tokenize(
    input_dir: Path,
    output: Path,
    config: PipelineConfig,
    tokenizer_path: Path | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    from llm_pretrain.remote.stores import StoreError, is_url
    from llm_pretrain.tokenizer import stage as tokenize

    for given in (input_dir, output):
        if is_url(given):
            raise StoreError(
                f"{given}: tokenize reads and writes local folders (the trainer memory-maps "
                "its shards); run it on a local copy of the dataset"
            )
    return tokenize.run_tokenize(
        input_dir, output, config.tokenize, config.tokenizer, config.executor,
        tokenizer_path, show_progress, overwrite,
    )  # fmt: skip
