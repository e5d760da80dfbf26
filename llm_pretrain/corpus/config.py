"""The `refresh` section of the pipeline config."""

from __future__ import annotations

from pydantic import Field

from llm_pretrain.configbase import Section


class RefreshConfig(Section):
    inputs: list[str] = Field(
        [],
        description="files, folders (read recursively) and globs to watch; every refresh "
        "processes those not processed before (--input replaces this list)",
    )
