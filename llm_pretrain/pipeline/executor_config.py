"""The `executor` section of the pipeline config: where a stage's tasks run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from llm_pretrain.configbase import MAX_TIMEOUT_S, Section


class ExecutorConfig(Section):
    kind: Literal["local", "ray"] = Field(
        "local",
        description="local: a pool of worker processes on this machine; ray: tasks on a Ray "
        "cluster (pip install llm-pretrain[ray]); the output is the same byte for byte",
        json_schema_extra={"cli_flag": "executor"},
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="local: worker processes; ray: CPUs of the Ray instance started when no "
        "ray_address is given; empty means one per CPU core",
    )
    task_timeout_s: float = Field(
        6 * 3600.0,
        gt=0,
        le=MAX_TIMEOUT_S,
        description="wall-clock limit for one task (one output shard); a task over it is "
        "killed: extract records its input files as rejected, other stages fail the run",
    )
    ray_address: str | None = Field(
        None,
        description="the Ray cluster to join: auto (the one `ray start` runs on this node) or "
        "HOST:PORT of its head; empty starts a Ray instance for this run alone",
    )
    retries: int = Field(
        2,
        ge=0,
        description="ray: times a failed task (an error, or its worker or node lost) is run "
        "again before it counts as failed",
    )
