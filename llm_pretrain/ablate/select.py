"""A variant as it is trained on: its documents less those of the eval sets (by exact text),
and, for a `--dry-run` filter output, less those the filter would reject once the lifted rules
are left out. A document stage on the one runner, so a killed ablation resumes it; the
rejected documents keep their reason (`ablate:eval_overlap`, or the filter's `step:rule`)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import pyarrow as pa

from llm_pretrain.pipeline.dataset import TaskShards
from llm_pretrain.pipeline.documents import upgrade_schema, upgrade_table
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.filters.stage import WOULD_REJECT
from llm_pretrain.pipeline.runner import (
    DocumentStage,
    InputDataset,
    RunSummary,
    ShardTask,
    TaskResult,
    run_stage,
    shard_task_failed,
)
from llm_pretrain.pipeline.stats import FilterStats
from llm_pretrain.tokenizer.sampling import text_key

STAGE = "ablate-select"
EVAL_OVERLAP = "ablate:eval_overlap"
ROW_GROUP_ROWS = 1000


def is_dry_run(dataset: InputDataset) -> bool:
    """Whether `dataset` is the output of `llm-data filter --dry-run` (it rejected nothing and
    lists, per document, the rules it fails)."""
    config = dataset.manifest.get("config")
    return dataset.manifest.get("stage") == "filter" and bool(
        isinstance(config, dict) and config.get("dry_run")
    )


def failing_rules(reasons: Iterable[str], lifted: tuple[str, ...]) -> list[str]:
    """The `step:rule` reasons that still count once `lifted` (rules, or whole steps) are out."""
    return [
        reason
        for reason in reasons
        if reason not in lifted and reason.partition(":")[0] not in lifted
    ]


def select_task(
    task: ShardTask, output: Path, excluded: frozenset[str], lifted: tuple[str, ...] | None
) -> TaskResult:
    """Worker side: shard `task.index` of the selection."""
    started = time.process_time()
    source = task.open()
    schema = upgrade_schema(source.schema_arrow)
    rejected_schema = schema.append(pa.field("reason", pa.string(), nullable=False))
    shards = TaskShards(output, task.index, schema, rejected_schema, ROW_GROUP_ROWS)
    counts = FilterStats(input_bytes=task.input_bytes)
    with shards:
        for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS):
            for row in upgrade_table(pa.Table.from_batches([batch])).to_pylist():
                reasons = [EVAL_OVERLAP] if text_key(row["text"]) in excluded else []
                if lifted is not None and not reasons:
                    reasons = failing_rules(row.get(WOULD_REJECT) or [], lifted)
                if reasons:
                    counts.rejected[reasons[0]] += 1
                    size = shards.rejected.add({**row, "reason": reasons[0]})
                    counts.rejected_text_bytes[reasons[0]] += size
                else:
                    counts.kept += 1
                    shards.kept.add(row)
        kept, rejected = shards.commit()
    counts.kept_text_bytes = shards.kept.text_bytes
    counts.cpu_seconds = time.process_time() - started
    return TaskResult(task.index, kept.to_json(), rejected.to_json(), counts.to_json())


def texts_digest(keys: frozenset[str]) -> dict[str, object]:
    """What names a set of excluded texts in a manifest: their number and one hash of all."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
    return {"count": len(keys), "sha256": digest}


def run_select(
    dataset: InputDataset,
    output: Path,
    excluded: frozenset[str],
    lifted: tuple[str, ...] | None,
    executor: ExecutorConfig,
    show_progress: bool = True,
) -> RunSummary:
    """Write the selection of `dataset` into `output` (resumed, or up to date, on a rerun)."""
    stage = DocumentStage(
        name=STAGE,
        output=output,
        tasks=dataset.tasks(),
        run_task=partial(select_task, output=output, excluded=excluded, lifted=lifted),
        on_failure=shard_task_failed,
        config={"excluded_texts": texts_digest(excluded), "lifted": lifted},
        inputs=[dataset.identity()],
        stats_type=FilterStats,
    )
    return run_stage(stage, executor, show_progress)
