"""`llm-data extract`: input files -> a document dataset, one task (and shard) per file group."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from llm_pretrain.pipeline.dataset import README, REJECTED_DIR, TaskShards
from llm_pretrain.pipeline.documents import (
    DOCUMENT_SCHEMA,
    REJECTED_SCHEMA,
    Document,
    Rejected,
    Skipped,
    document_id,
    printable,
)
from llm_pretrain.pipeline.executor import TaskFailure, default_workers
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.extract.config import ExtractConfig
from llm_pretrain.pipeline.extract.formats import FORMATS, load_readers
from llm_pretrain.pipeline.extract.input_file import InputFile
from llm_pretrain.pipeline.extract.inputs import ExtractTask, discover, plan_tasks
from llm_pretrain.pipeline.outputs import first_inside, input_patterns_problem
from llm_pretrain.pipeline.published import staged_output
from llm_pretrain.pipeline.runner import (
    PROGRESS_DIR,
    DocumentStage,
    Retry,
    RunSummary,
    StageError,
    TaskResult,
    check_dataset_output,
    run_stage,
)
from llm_pretrain.pipeline.stats import ExtractStats
from llm_pretrain.pipeline.watchdog import Watch, dead_worker, watching
from llm_pretrain.remote import stores
from llm_pretrain.remote.config import StorageConfig
from llm_pretrain.remote.stores import is_url

Outcome = Document | Rejected | Skipped
# Files the stage writes into its output, for telling whether an input glob would read them.
WRITES = ("part-00000.parquet", f"{REJECTED_DIR}/part-00000.parquet", README)


def input_error_rejection(file: InputFile, done: int, reason: str, error: str) -> Rejected:
    """A whole input (or its unread tail) that could not be read, as one rejected row."""
    doc = Document(
        id=document_id(file.path, "#input-error", str(done)),
        text="",
        source=file.path,
        format=file.kind,
        metadata={"error": error[:500], "records_read": done},
    )
    return Rejected(doc, reason)


def hard_limit_s(config: ExtractConfig) -> float:
    """How long one document may run before its worker is ended (pipeline/watchdog.py): past
    the per-document limit, which C code holding the GIL does not notice."""
    return max(2 * config.document_timeout_s, 1.0)


def extract_task(task: ExtractTask, config: ExtractConfig, output: Path) -> TaskResult:
    """Worker side: read the task's files, write shard `task.index` of kept and rejected."""
    started = time.process_time()
    shards = TaskShards(output, task.index, DOCUMENT_SCHEMA, REJECTED_SCHEMA, config.row_group_rows)
    kept, rejected = shards.kept, shards.rejected
    counts = ExtractStats(input_bytes=task.input_bytes)
    limit = hard_limit_s(config)
    with shards:
        with watching(output / PROGRESS_DIR, task.index, limit, places_to_skip(task)) as watch:
            for number, file in enumerate(task.files):
                for outcome in _file_outcomes(file, config, counts, watch, number):
                    if isinstance(outcome, Skipped):
                        counts.skipped[outcome.reason] += 1
                    elif isinstance(outcome, Rejected):
                        counts.rejected[outcome.reason] += 1
                        size = rejected.add(outcome.to_row())
                        counts.rejected_text_bytes[outcome.reason] += size
                    else:
                        counts.kept += 1
                        counts.formats[outcome.format] += 1
                        kept.add(outcome.to_row())
        kept_info, rejected_info = shards.commit()  # the watchdog is off: no document runs
    counts.kept_text_bytes = kept.text_bytes
    counts.cpu_seconds = time.process_time() - started
    return TaskResult(task.index, kept_info.to_json(), rejected_info.to_json(), counts.to_json())


def _file_outcomes(
    file: InputFile,
    config: ExtractConfig,
    counts: ExtractStats,
    watch: Watch | None = None,
    number: int = 0,
) -> Iterator[Outcome]:
    """The outcomes of the task's `number`-th file; a read error, or a place that killed two
    workers (`watch`), ends the file with one rejection for what is left."""
    if file.problem:  # never opened: one rejected row says why
        counts.input_errors.append({"path": file.path, "error": file.problem, "records": 0})
        yield input_error_rejection(file, 0, "extract_error:unreadable", file.problem)
        return
    done = 0
    reader = FORMATS[file.kind].read(file, config)
    try:
        while not (stop := watch and watch.reading(number, done)):
            outcome = next(reader, None)
            if outcome is None:
                return
            done += 1
            yield outcome
        reason, error = stop
    except Exception as exc:  # truncated gzip, broken WARC, unreadable file: record, go on
        error = printable(f"{type(exc).__name__}: {exc}", 500)
        truncated = done or isinstance(exc, EOFError)
        reason = "extract_error:truncated" if truncated else "extract_error:unreadable"
    finally:
        reader.close()
    counts.input_errors.append({"path": file.path, "error": error, "records": done})
    yield input_error_rejection(file, done, reason, error)


MAX_DEATHS = 32  # workers a task may lose before it is given up whole


def places_to_skip(task: ExtractTask) -> dict[str, tuple[str, str]]:
    """The places where two workers of the task died: (reason, detail) of the last death."""
    seen: set[str] = set()
    skip = {}
    for key, reason, detail in task.deaths:
        if key in seen:
            skip[key] = (reason, detail)
        seen.add(key)
    return skip


def retry_or_reject(
    task: ExtractTask, failure: TaskFailure, output: Path, limit_s: float
) -> Retry | TaskResult:
    """Parent side, after a worker died: run the task again, noting where it died (its
    cursor); the second death at one place skips it (pipeline/watchdog.py). When the place is
    not known, when it was skipped already, when too many workers died, or when the task as a
    whole overran `executor.task_timeout_s` (each document has its own hard limit: a task that
    slow is too big, and would be as slow again), every input file of the task becomes one
    rejected row."""
    dead = dead_worker(output / PROGRESS_DIR, task.index)
    hopeless = failure.kind != "crash" or dead is None or len(task.deaths) >= MAX_DEATHS
    if hopeless or dead.key in places_to_skip(task):
        return write_failed_task(task, failure, output)
    reason = "extract_error:timeout" if dead.hung else "extract_error:worker_crash"
    what = f"no progress for {limit_s:g} s: its worker was ended" if dead.hung else failure.message
    detail = printable(f"{what} ({dead.where})" if dead.where else what, 500)
    return Retry(replace(task, deaths=(*task.deaths, (dead.key, reason, detail))))


def write_failed_task(task: ExtractTask, failure: TaskFailure, output: Path) -> TaskResult:
    """Parent side, after a worker died or overran: each input file becomes one rejected row."""
    reason = f"extract_error:{'worker_crash' if failure.kind == 'crash' else 'task_timeout'}"
    with TaskShards(output, task.index, DOCUMENT_SCHEMA, REJECTED_SCHEMA, 1000) as shards:
        for file in task.files:
            doc = Document(
                id=document_id(file.path, "#task-failure"),
                text="",
                source=file.path,
                format=file.kind,
                metadata={"error": failure.message},
            )
            shards.rejected.add(Rejected(doc, reason).to_row())
        kept_info, rejected_info = shards.commit()
    errors = [{"path": f.path, "error": failure.message, "records": 0} for f in task.files]
    stats = ExtractStats(
        rejected=Counter({reason: len(task.files)}),
        input_errors=errors,
        input_bytes=task.input_bytes,
    )
    return TaskResult(task.index, kept_info.to_json(), rejected_info.to_json(), stats.to_json())


def run_extract(
    inputs: list[str],
    output: Path | str,
    config: ExtractConfig,
    executor: ExecutorConfig,
    show_progress: bool = True,
    overwrite: bool = False,
    storage: StorageConfig | None = None,
) -> RunSummary:
    """Extract the files that the arguments (files, folders, globs, URLs, path lists) name
    into `output` (a folder, or a store URL: pipeline/published.py)."""
    stores.use(storage or StorageConfig())
    if is_url(output):
        staged_output(output, [argument for argument in inputs if is_url(argument)])
    else:
        local = [argument for argument in inputs if not is_url(argument)]
        problem = input_patterns_problem(Path(output), local, WRITES, "--output")
        if problem:
            raise StageError(problem)
    files, unsupported = discover(inputs, config.base_url, config.paths_range)
    stage = extract_stage(files, output, config, unsupported)
    return run_stage(stage, polite(executor, files, storage), show_progress, overwrite)


def polite(
    executor: ExecutorConfig, files: list[InputFile], storage: StorageConfig | None
) -> ExecutorConfig:
    """At most `storage.max_connections` workers when inputs are read over the network: each
    worker streams one file at a time, so this bounds the connections a run holds."""
    limit = (storage or StorageConfig()).max_connections
    if not any(is_url(file.path) for file in files) or executor.kind != "local":
        return executor
    workers = min(executor.workers or default_workers(), limit)
    return executor.model_copy(update={"workers": workers})


def run_settings(config: ExtractConfig) -> dict[str, Any]:
    """What names the run: the section, and the filter settings its prefilter checks use."""
    # Which files a path list names is the inputs' part of the identity, not the config's.
    settings = config.model_dump(exclude={"base_url", "paths_range"})
    if config.prefilter_plan is not None:
        settings["prefilter_checks"] = config.prefilter_plan.identity()
    return settings


def extract_stage(
    files: list[InputFile],
    output: Path | str,
    config: ExtractConfig,
    unsupported: list[str] | None = None,
) -> DocumentStage:
    """The stage that extracts these files, as they were found (their size and mtime name the
    run, so that a refresh resumes the batch it recorded), into `output`."""
    output, url = staged_output(output, [f.path for f in files])
    if url is None:
        inside = first_inside(output, [f.path for f in files if not is_url(f.path)])
        if inside:
            raise StageError(f"--output {output} contains the input {inside}")
        check_dataset_output(output, [], "input")
    load_readers()  # a missing library fails here, and workers start with the readers loaded
    return DocumentStage(
        name="extract",
        output=output,
        tasks=plan_tasks(files, config.task_max_files, config.task_max_bytes),
        run_task=partial(extract_task, config=config, output=output),
        on_failure=partial(retry_or_reject, output=output, limit_s=hard_limit_s(config)),
        config=run_settings(config),
        inputs=[f.to_json() for f in files],
        extra_stats={"unsupported_files": unsupported or []},
        stats_type=ExtractStats,
        publish_to=url,
    )
