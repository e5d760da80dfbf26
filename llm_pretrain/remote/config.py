"""The `storage` section of the pipeline config: how object stores and web servers are reached.

None of it names a run: where the bytes come from and how politely they are fetched does not
change a dataset, so no fingerprint holds these settings.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llm_pretrain.configbase import Section


class StorageConfig(Section):
    options: dict[str, dict[str, Any]] = Field(
        {},
        description="filesystem options per URL scheme, given to fsspec as they are, e.g. "
        "{s3: {endpoint_url: 'http://127.0.0.1:9000', anon: true}}; empty: each store's "
        "standard settings (for S3 the AWS variables, AWS_ENDPOINT_URL included)",
    )
    max_connections: int = Field(
        8,
        ge=1,
        description="input files read over the network at once: a stage reading URLs on the "
        "local executor runs at most this many workers (on Ray, one task per CPU)",
    )
    retries: int = Field(
        6,
        ge=0,
        description="times a failed request of a URL input (a dropped connection, a 5xx or "
        "429 answer, a body cut short) is tried again, resuming where it stopped (an HTTP "
        "range request), before the file is recorded as an input error",
    )
    backoff_s: float = Field(
        1.0,
        ge=0,
        le=600,
        description="the wait before the first retry, doubled for each next one (at most "
        "60 s, or the server's Retry-After)",
    )
    timeout_s: float = Field(
        20.0,
        gt=0,
        le=3600,
        description="seconds a connection may stay silent before it counts as dropped (keep "
        "it under 3/4 of extract.document_timeout_s: a worker silent for 1.5 to 2 times that "
        "is ended as hung)",
    )
    staging_dir: str | None = Field(
        None,
        description="where a stage writing to a URL keeps its files until they are uploaded, "
        "and resumes from after a kill; empty: $LLM_PRETRAIN_STAGING, else "
        "~/.cache/llm-pretrain/staging",
    )

    def for_scheme(self, scheme: str) -> dict[str, Any]:
        return dict(self.options.get(scheme, {}))
