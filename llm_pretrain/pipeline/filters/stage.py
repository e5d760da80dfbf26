"""`llm-data filter`: a document dataset in, kept + annotated + masked documents out.

One task per input shard: shard i of the output (and of `_rejected/`) comes from input shard
i. Every step sees every document that earlier steps kept; the first rejection wins and its
reason is `<step>:<rule>`. With `dry_run`, nothing is rejected and every step sees every
document, so `would_reject` lists all the rules a document fails.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.dataset import TaskShards
from llm_pretrain.pipeline.documents import Document, metadata_json, upgrade_schema, upgrade_table
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.filters.base import Step
from llm_pretrain.pipeline.filters.config import FilterConfig
from llm_pretrain.pipeline.filters.registry import build_steps
from llm_pretrain.pipeline.limits import DocumentTimeout, time_limit
from llm_pretrain.pipeline.outputs import overlap_problem
from llm_pretrain.pipeline.published import staged_output
from llm_pretrain.pipeline.runner import (
    DocumentStage,
    RunSummary,
    ShardTask,
    StageError,
    TaskResult,
    check_dataset_output,
    read_input_dataset,
    run_stage,
    shard_task_failed,
)
from llm_pretrain.pipeline.stats import FilterStats, StepCounts

WOULD_REJECT = "would_reject"


def output_schema(input_schema: pa.Schema, steps: list[Step], dry_run: bool) -> pa.Schema:
    """Input columns (earlier annotations kept), then each step's columns, then would_reject."""
    added = {name: dtype for step in steps for name, dtype in step.columns.items()}
    if dry_run:
        added[WOULD_REJECT] = pa.list_(pa.string())
    fields = [field for field in input_schema if field.name not in added]
    return pa.schema(fields + [pa.field(name, dtype) for name, dtype in added.items()])


class StepStats:
    """Per step, while a task runs: documents seen, skipped as not applicable, rejected per
    rule; `by_step` adds each step's own counters."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.seen: Counter[str] = Counter()
        self.not_applicable: Counter[str] = Counter()
        self.rules: dict[str, Counter[str]] = {step.name: Counter() for step in steps}

    def by_step(self) -> dict[str, StepCounts]:
        return {
            step.name: StepCounts(
                seen=self.seen[step.name],
                not_applicable=self.not_applicable[step.name],
                rules=Counter(self.rules[step.name]),
                counts=Counter(step.counts),
            )
            for step in self.steps
        }


def run_steps(
    doc: Document, steps: list[Step], stats: StepStats, dry_run: bool, timeout_s: float
) -> list[str]:
    """Apply the steps to one document; return the rejection reasons (at most one unless dry).

    A step that raises or overruns the document time limit rejects the document with the rule
    `error` or `timeout` (the message goes into metadata), so one odd document never stops a run.
    """
    reasons = []
    for step in steps:
        if not step.applies_to(doc):
            stats.not_applicable[step.name] += 1
            continue
        stats.seen[step.name] += 1
        try:
            with time_limit(timeout_s):
                rule = step.apply(doc)
        except DocumentTimeout:
            rule = "timeout"
        except Exception as exc:
            rule = "error"
            doc.metadata["filter_error"] = f"{step.name}: {type(exc).__name__}: {exc}"[:500]
        if rule is not None:
            stats.rules[step.name][rule] += 1
            reasons.append(f"{step.name}:{rule}")
            if not dry_run:
                break
    return reasons


def _to_doc(row: dict[str, Any]) -> Document:
    """The document of a row; its date stays in the row (the steps do not read it)."""
    return Document(
        id=row["id"],
        text=row["text"],
        source=row.get("source") or "",
        format=row.get("format") or "",
        url=row.get("url"),
        language=row.get("language"),
        language_score=row.get("language_score"),
        metadata=json.loads(row.get("metadata") or "{}"),
    )


def _update_row(row: dict[str, Any], doc: Document, columns: list[str]) -> dict[str, Any]:
    row.update(
        text=doc.text,
        language=doc.language,
        language_score=doc.language_score,
        metadata=metadata_json(doc.metadata),
    )
    for name in columns:
        row[name] = doc.annotations.get(name)
    return row


def filter_task(task: ShardTask, config: FilterConfig, output: Path) -> TaskResult:
    """Worker side: filter one input shard into output shard `task.index`."""
    started = time.process_time()
    steps = build_steps(config)
    source = task.open()
    schema = output_schema(upgrade_schema(source.schema_arrow), steps, config.dry_run)
    rejected_schema = schema.append(pa.field("reason", pa.string(), nullable=False))
    columns = [name for step in steps for name in step.columns]
    shards = TaskShards(output, task.index, schema, rejected_schema, config.row_group_rows)
    kept, rejected = shards.kept, shards.rejected
    stats, counts = StepStats(steps), FilterStats(input_bytes=task.input_bytes)
    with shards:
        for batch in source.iter_batches(batch_size=config.row_group_rows):
            for row in upgrade_table(pa.Table.from_batches([batch])).to_pylist():
                doc = _to_doc(row)
                reasons = run_steps(doc, steps, stats, config.dry_run, config.document_timeout_s)
                row = _update_row(row, doc, columns)
                if config.dry_run:
                    row[WOULD_REJECT] = reasons
                if reasons and not config.dry_run:
                    counts.rejected[reasons[0]] += 1
                    size = rejected.add({**row, "reason": reasons[0]})
                    counts.rejected_text_bytes[reasons[0]] += size
                else:
                    counts.kept += 1
                    kept.add(row)
            progress.report(documents=batch.num_rows)
        kept_info, rejected_info = shards.commit()
    progress.report(nbytes=task.input_bytes)
    counts.steps = stats.by_step()
    counts.kept_text_bytes = kept.text_bytes
    counts.cpu_seconds = time.process_time() - started
    return TaskResult(task.index, kept_info.to_json(), rejected_info.to_json(), counts.to_json())


def run_filter(
    input_dir: Path | str,
    output: Path | str,
    config: FilterConfig,
    executor: ExecutorConfig,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    """Filter the dataset in `input_dir` into `output`."""
    source = read_input_dataset(input_dir)
    output, url = staged_output(output, [input_dir])
    if url is None:
        check_dataset_output(output, [input_dir], "input dataset")
    steps = build_steps(config)  # fail fast (e.g. a missing model) before starting workers
    for entry in config.decontaminate.eval_files if "decontaminate" in config.steps else []:
        problem = overlap_problem(output, [entry], "--output", "eval set")
        if problem:  # --overwrite would delete it
            raise StageError(problem)
    inputs = [source.identity()]
    files = [identity for step in steps for identity in step.identities()]
    if files:
        inputs.append({"step_files": files})
    stage = DocumentStage(
        name="filter",
        output=output,
        tasks=source.tasks(),
        run_task=partial(filter_task, config=config, output=output),
        on_failure=shard_task_failed,
        config=config.model_dump(),
        inputs=inputs,
        stats_type=FilterStats,
        publish_to=url,
    )
    return run_stage(stage, executor, show_progress, overwrite)
