"""The pipeline config: one section per stage, each defined by its stage, composed here.

Config imports go downward only: this module imports the stages' sections, no stage imports
it; a stage takes its own section and the executor's. Only the commands and `refresh` (the
orchestrator of every stage, whose section lives here for that reason) read the whole.
Pydantic models: plain typed classes with strict checks and errors that name the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from llm_pretrain.configbase import (  # noqa: F401 (re-exported for the commands)
    ConfigError,
    Section,
    apply_overrides,
    parse_assignment,
    read_yaml_mapping,
    validate,
)
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.extract.config import ExtractConfig
from llm_pretrain.pipeline.filters.config import FilterConfig
from llm_pretrain.pipeline.filters.training import TrainClassifierConfig
from llm_pretrain.remote.config import StorageConfig
from llm_pretrain.tokenizer.config import TokenizeConfig, TokenizerConfig


class RefreshConfig(Section):
    inputs: list[str] = Field(
        [],
        description="files, folders (read recursively) and globs to watch; every refresh "
        "processes those not processed before (--input replaces this list)",
    )


class PipelineConfig(Section):
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    train_classifier: TrainClassifierConfig = Field(default_factory=TrainClassifierConfig)
    refresh: RefreshConfig = Field(default_factory=RefreshConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)


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
