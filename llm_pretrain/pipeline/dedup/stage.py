"""`llm-data dedup`: a document dataset in, one document per duplicate cluster out.

Three phases, each resumable, all under the output's `_progress/` until the commit:

1. signatures (worker pool, one task per group of consecutive input shards of at least
   GROUP_ROWS documents): the normalised-text hash and the MinHash signature of every document
   -> `_progress/signature-groups/part-g.parquet`;
2. clusters: every signature of the batch and of the index, LSH candidates, verification,
   connected components, survivors -> `_progress/decisions.arrow` (one record batch per input
   shard: the reason for every row) and the batch's index part; in this process
   (`clusters.cluster`, ~2.4 KB per document of the batch and the index at the defaults,
   measured) or, with `dedup.partitions`, as tasks over bucket partitions
   (`partitioned.decide`), same decisions;
3. apply (worker pool, one task per input shard): shard i of the output and of `_rejected/`.

Then the output manifest is written, and the index lists the batch's part.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import resource
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.dataset import TaskShards, atomic_parquet, shard_name
from llm_pretrain.pipeline.dates import DATE_TYPE, date_array
from llm_pretrain.pipeline.dedup.clusters import Decisions, Documents, cluster
from llm_pretrain.pipeline.dedup.config import DedupConfig, LinesConfig
from llm_pretrain.pipeline.dedup.index import DedupIndex, signature_schema, table_documents
from llm_pretrain.pipeline.dedup.lines import (
    REMOVED_UNITS,
    UNIT_BYTES_REMOVED,
    UNIT_CHARS,
    UNIT_HASHES,
    UNITS_REMOVED,
    characters_left,
    occurrences,
    positions_by_document,
    remove_units,
    removed_mask,
    unit_columns,
)
from llm_pretrain.pipeline.dedup.minhash import EMPTY, shingle_hashes, shingle_set, signatures
from llm_pretrain.pipeline.dedup.nodes import SHINGLES, NodeReader, date_keys, sources
from llm_pretrain.pipeline.dedup.normalize import text_hash
from llm_pretrain.pipeline.dedup.partitioned import GlobalStep, decide, partition_count
from llm_pretrain.pipeline.documents import upgrade_schema, upgrade_table
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.outputs import overlap_problem
from llm_pretrain.pipeline.published import staged_output
from llm_pretrain.pipeline.runner import (
    PROGRESS_DIR,
    DocumentStage,
    RunSummary,
    ShardTask,
    StageError,
    StageRun,
    TaskResult,
    check_dataset_output,
    read_input_dataset,
    run_stage,
    shard_task_failed,
)
from llm_pretrain.pipeline.stats import DedupStats
from llm_pretrain.remote.stores import is_url
from llm_pretrain.storage import atomic_path

DUPLICATE_COUNT = "duplicate_count"
SIMILARITY = "similarity"
_BATCH_ROWS = 1000


@dataclass
class SignatureResult:
    index: int
    rows: list[int]  # of each shard of the group
    cpu_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "rows": self.rows, "cpu_seconds": self.cpu_seconds}


# --- Phase 1: signatures ----------------------------------------------------------------------


def signature_file_schema(width: int, with_sets: bool, with_lines: bool = False) -> pa.Schema:
    """Phase 1's files: the index columns, what the `keep` policy needs (length, date), for
    exact verification each document's shingle set, and for line dedup its unit hashes."""
    schema = signature_schema(width)
    schema = schema.append(pa.field("length", pa.int64())).append(pa.field("date", DATE_TYPE))
    if with_sets:
        schema = schema.append(pa.field(SHINGLES, pa.list_(pa.uint32())))
    if with_lines:
        schema = schema.append(pa.field(UNIT_HASHES, pa.list_(pa.uint64())))
        schema = schema.append(pa.field(UNIT_CHARS, pa.list_(pa.int32())))
    return schema


def signature_table(batch: pa.RecordBatch, config: DedupConfig, width: int) -> pa.Table:
    """Phase 1's columns for a batch of documents. `width`: values per signature, the
    configured num_perm, or 1 (a placeholder) when neither near-dedup nor the index needs them."""
    texts = batch.column("text").to_pylist()
    with_sets = config.minhash.enabled and config.minhash.verify == "exact"
    columns: dict[str, Any] = {
        "id": batch.column("id"),
        "text_hash": pa.array([text_hash(t, config.exact.normalize) for t in texts], pa.binary(16)),
    }
    if width == config.minhash.num_perm:
        shingles = [shingle_hashes(text, config.minhash) for text in texts]
        rows = signatures(shingles, width, config.minhash.seed)
    else:
        shingles, rows = [], np.full((len(texts), width), EMPTY, dtype=np.uint32)
    columns["signature"] = pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), width)
    columns["length"] = pc.utf8_length(batch.column("text")).cast(pa.int64())
    has_date = "date" in batch.schema.names  # text in datasets of schema 1: parsed
    columns["date"] = date_array(batch.column("date")) if has_date else pa.nulls(len(texts))
    if with_sets:
        columns[SHINGLES] = pa.array([shingle_set(h) for h in shingles], pa.list_(pa.uint32()))
    if config.lines.enabled:
        columns[UNIT_HASHES], columns[UNIT_CHARS] = unit_columns(texts, config.lines)
    schema = signature_file_schema(width, with_sets, config.lines.enabled)
    return pa.table(columns).cast(schema)


# Names of the phases' state under `_progress/`. Versions before signature groups kept a file
# and a marker per shard under `signatures/`, their decisions under `decisions/`, the
# partitioned global step's tasks (one spread chunk per shard) under `global/` and the global
# step's marker in `clusters.json`: an unfinished run they left is resumed from its apply
# markers only (the same decisions are made again), never from their other files.
SIGNATURE_PHASE = "signature-groups"
GLOBAL_STEP_MARKER = "global-step"
PARTITIONS_DIR = "partitions"  # the partitioned global step's tasks (was global/: per shard)

# Input shards are grouped into signature tasks of at least this many documents: a task, its
# signature file and its done-marker cost ~10 ms whatever their size, which many small shards
# (extract writes one per 64 small files) would pay again and again.
GROUP_ROWS = 1_000


@dataclass(frozen=True)
class SignatureGroup:
    """Consecutive input shards whose signatures one task computes into one file."""

    index: int
    tasks: tuple[ShardTask, ...]

    @property
    def input_bytes(self) -> int:
        return sum(task.input_bytes for task in self.tasks)

    @property
    def shard(self) -> str:
        first, last = self.tasks[0].shard, self.tasks[-1].shard
        return first if first == last else f"{first} .. {last}"

    def describe(self) -> str:
        return self.shard


def signature_groups(tasks: list[ShardTask]) -> list[SignatureGroup]:
    """Consecutive shards, GROUP_ROWS documents or more a group (the last may hold fewer; a
    shard whose rows its manifest does not say is a group of its own)."""
    groups: list[SignatureGroup] = []
    current: list[ShardTask] = []
    rows = 0
    for task in tasks:
        if task.rows is None and current:
            groups.append(SignatureGroup(len(groups), tuple(current)))
            current, rows = [], 0
        current.append(task)
        rows += task.rows if task.rows is not None else GROUP_ROWS
        if rows >= GROUP_ROWS:
            groups.append(SignatureGroup(len(groups), tuple(current)))
            current, rows = [], 0
    if current:
        groups.append(SignatureGroup(len(groups), tuple(current)))
    return groups


def signature_task(
    group: SignatureGroup, config: DedupConfig, folder: Path, width: int
) -> SignatureResult:
    """Worker side: phase 1's columns for the group's input shards, in order, into
    `folder/part-g.parquet`; the rows of each shard."""
    started = time.process_time()
    with_sets = config.minhash.enabled and config.minhash.verify == "exact"
    schema = signature_file_schema(width, with_sets, config.lines.enabled)
    rows = []
    with atomic_parquet(folder / shard_name(group.index), schema, "none") as writer:
        for task in group.tasks:
            source = task.open()
            names = source.schema_arrow.names
            columns = [name for name in ("id", "text", "date") if name in names]
            count = 0
            for batch in source.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
                writer.write_table(signature_table(batch, config, width))
                count += len(batch)
                progress.report(documents=len(batch))
            progress.report(nbytes=task.input_bytes)
            rows.append(count)
    return SignatureResult(group.index, rows, round(time.process_time() - started, 3))


# --- Phase 2: clusters ------------------------------------------------------------------------


_CLUSTER_COLUMNS = ["text_hash", "signature", "length", "date"]


def _load_batch(folder: Path, count: int, num_perm: int) -> Documents:
    """The numpy columns of every signature file, one file at a time (the Arrow form of all
    of them at once would double the memory of the global step)."""
    parts: list[Documents] = []
    for i in range(count):
        table = pq.read_table(folder / shard_name(i), columns=_CLUSTER_COLUMNS)
        part = table_documents(table, num_perm)
        part.lengths = table.column("length").to_numpy()
        part.dates = date_keys(table.column("date"))
        parts.append(part)
    if not parts or not sum(len(p) for p in parts):
        return Documents.empty(num_perm)
    return Documents(
        np.concatenate([p.hashes for p in parts]),
        np.concatenate([p.signatures for p in parts]),
        np.concatenate([p.lengths for p in parts]),
        np.concatenate([p.dates for p in parts]),
    )


@dataclass
class SurvivorIds:
    """The ids of the documents that other documents were removed in favour of (only those:
    a Python string per document of the batch would be the step's largest cost)."""

    nodes: np.ndarray
    ids: list[str]

    @classmethod
    def read(cls, decisions: Decisions, reader: NodeReader) -> SurvivorIds:
        removed = decisions.survivor != np.arange(reader.n_index, reader.total)
        nodes = np.unique(decisions.survivor[removed])
        return cls(nodes, reader.ids(nodes))

    def reasons(self, decisions: Decisions, part: slice, n_index: int) -> list[str | None]:
        """The reason of every document of batch positions `part` (None when kept)."""
        survivor, exact = decisions.survivor[part], decisions.exact[part]
        kept = survivor == np.arange(n_index + part.start, n_index + part.stop)
        at = np.searchsorted(self.nodes, survivor)
        return [
            None if kept[i] else f"{'exact' if exact[i] else 'near'}_duplicate_of:{self.ids[at[i]]}"
            for i in range(len(survivor))
        ]


def _peak_rss_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"global_step": round(own, 1), "largest_worker": round(workers, 1)}


@dataclass
class DedupPlan:
    """Phases 1 and 2, the global step that runs before the tasks that apply its decisions."""

    tasks: list[ShardTask]
    config: DedupConfig
    index: DedupIndex | None
    batch: str

    @property
    def width(self) -> int:
        """Values per stored signature: none are needed (1, a placeholder) for exact dedup
        alone without an index."""
        needed = self.config.minhash.enabled or self.index is not None
        return self.config.minhash.num_perm if needed else 1

    def prepare(self, run: StageRun) -> dict[str, Any]:
        """Phases 1 and 2 (skipped when an earlier attempt finished them); their stats."""
        return run.once(GLOBAL_STEP_MARKER, lambda: self._signatures_and_clusters(run))

    def _signatures_and_clusters(self, run: StageRun) -> dict[str, Any]:
        started = time.perf_counter()
        folder = run.progress_dir / SIGNATURE_PHASE
        task = partial(signature_task, config=self.config, folder=folder, width=self.width)
        groups = signature_groups(self.tasks)
        results, _ = run.map(groups, task, shard_task_failed, phase=SIGNATURE_PHASE)
        rows = [count for result in results for count in result["rows"]]  # per input shard
        signature_seconds = time.perf_counter() - started

        started = time.perf_counter()
        batch_files = [folder / shard_name(group.index) for group in groups]
        index_files = self.index.part_files(self.batch) if self.index is not None else []
        reader = NodeReader(sources(index_files, batch_files), self.width)
        partitions = partition_count(self.config.partitions, run.executor, reader.total)
        if partitions:
            folder = run.progress_dir / PARTITIONS_DIR
            step = GlobalStep(folder, reader.sources, partitions, self.config)
            decisions = decide(step, run)
        else:
            index_docs = Documents.empty(self.width)
            if self.index is not None:
                index_docs = self.index.load(self.batch)
            batch = _load_batch(folder, len(groups), self.width)
            decisions = cluster(index_docs, batch, self.config, reader.jaccard)
        survivors = SurvivorIds.read(decisions, reader)
        kept = decisions.survivor == np.arange(reader.n_index, reader.total)
        removed_units, too_short, line_stats = None, None, {}
        if self.config.lines.enabled:
            removed_units, too_short, line_stats = self._line_decisions(batch_files, kept, rows)
            kept &= ~too_short  # not in the index either
        self._write_decisions(
            run.progress_dir, decisions, survivors, reader.n_index, rows, removed_units, too_short
        )
        if self.index is not None:
            self._write_index_part(batch_files, kept)
        return {
            "dedup": {
                **decisions.stats,
                **line_stats,
                "index_documents": reader.n_index,
                "seconds_signatures": round(signature_seconds, 3),
                "seconds_global_step": round(time.perf_counter() - started, 3),
                "signatures_docs_per_s": round(
                    (reader.total - reader.n_index) / signature_seconds, 1
                )
                if signature_seconds
                else 0.0,
                "peak_rss_mb": _peak_rss_mb(),
            }
        }

    def _line_decisions(
        self, files: list[Path], kept: np.ndarray, rows: list[int]
    ) -> tuple[list[pa.ListArray], np.ndarray, dict[str, Any]]:
        """The units to remove from each document that survives, per input shard (lines.py),
        and which documents that leaves too short (over the batch); with an index, the
        batch's new unit hashes go into its part. A document left too short still marked its
        units as seen: deciding that needs every removal first. `files`: the signature files,
        whose rows are the batch's documents in order."""
        started = time.perf_counter()
        lines = self.config.lines
        seen = np.empty(0, np.uint64)
        if self.index is not None:
            seen = self.index.load_lines(self.batch)
        documents, positions, hashes = [], [], []
        start = 0
        for path in files:
            column = pq.read_table(path, columns=[UNIT_HASHES]).column(UNIT_HASHES)
            document, position, unit = occurrences(column)
            survives = kept[start + document]
            documents.append((document[survives] + start).astype(np.int32))
            positions.append(position[survives])
            hashes.append(unit[survives])
            start += len(column)
        document = _concatenated(documents, np.int32)  # each list emptied as it is joined
        position = _concatenated(positions, np.int32)
        unit = _concatenated(hashes, np.uint64)
        removed, new = removed_mask(document, unit, seen, lines.mode)
        if self.index is not None:
            self.index.write_lines_part(self.batch, new)
        document, position = document[removed], position[removed]
        left, start = [], 0
        for path in files:
            chars = pq.read_table(path, columns=[UNIT_CHARS]).column(UNIT_CHARS)
            lo, hi = np.searchsorted(document, [start, start + len(chars)])
            left.append(characters_left(chars, document[lo:hi] - start, position[lo:hi]))
            start += len(chars)
        changed = np.zeros(len(kept), dtype=bool)
        changed[document] = True
        too_short = changed & (_concatenated(left, np.int64) < max(1, lines.min_document_chars))
        per_shard, start = [], 0
        for count in rows:
            lo, hi = np.searchsorted(document, [start, start + count])
            per_shard.append(positions_by_document(document[lo:hi] - start, position[lo:hi], count))
            start += count
        stats = {
            "lines": {
                "units_compared": int(len(unit)),
                "units_to_remove": int(removed.sum()),
                "documents_too_short": int(too_short.sum()),
                "index_units": int(len(seen)),
                "seconds": round(time.perf_counter() - started, 3),
            }
        }
        return per_shard, too_short, stats

    def _write_decisions(
        self,
        progress_dir: Path,
        decisions: Decisions,
        survivors: SurvivorIds,
        n_index: int,
        rows: list[int],
        removed_units: list[pa.ListArray] | None,
        too_short: np.ndarray | None,
    ) -> None:
        batches = []
        start = 0
        for n, count in enumerate(rows):
            part = slice(start, start + count)
            texts = survivors.reasons(decisions, part, n_index)
            if too_short is not None:
                short = f"{self.config.lines.reason_kind}:too_short"
                cut = too_short[part]
                texts = [short if cut[i] else why for i, why in enumerate(texts)]
            removed = [text is not None for text in texts]
            columns = {
                "reason": pa.array(texts, pa.string()),
                SIMILARITY: pa.array(
                    np.where(removed, decisions.similarity[part], np.nan), pa.float32()
                ),
                DUPLICATE_COUNT: pa.array(decisions.duplicates[part], pa.int32()),
            }
            if removed_units is not None:
                columns[REMOVED_UNITS] = removed_units[n]
            batches.append(pa.record_batch(columns))
            start += count
        write_decisions(progress_dir / DECISIONS, batches)

    def _write_index_part(self, files: list[Path], kept: np.ndarray) -> None:
        """The batch's kept documents (hash and signature), file by file, into its part."""
        assert self.index is not None
        schema = signature_schema(self.config.minhash.num_perm)
        with self.index.part_writer(self.batch, schema) as writer:
            start = 0
            for path in files:
                table = pq.read_table(path, columns=schema.names)
                mask = pa.array(kept[start : start + len(table)])
                writer.write_table(table.filter(mask).cast(schema))
                start += len(table)


DECISIONS = "decisions.arrow"  # under _progress/: one record batch of decisions per input shard


def write_decisions(path: Path, batches: list[pa.RecordBatch]) -> None:
    """Every shard's decisions in one Arrow IPC file (one write, where a file per shard cost
    ~2 ms each), batch i for shard i; an empty shard has an empty batch."""
    schema = batches[0].schema if batches else pa.schema([])
    with atomic_path(path) as tmp, pa.ipc.new_file(str(tmp), schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


def read_decisions(path: Path, index: int) -> pa.Table:
    """Shard `index`'s decisions (memory-mapped: only its batch is read)."""
    with pa.memory_map(str(path)) as source:
        return pa.Table.from_batches([pa.ipc.open_file(source).get_batch(index)])


def _concatenated(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    """One array of `parts`, which is emptied (its arrays freed as soon as they are copied)."""
    result = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)
    parts.clear()
    return result


# --- Phase 3: apply ---------------------------------------------------------------------------


def apply_units(
    table: pa.Table, part: pa.Table, lines: LinesConfig, counts: DedupStats
) -> tuple[pa.Table, pa.Table]:
    """Line dedup's decisions on a batch of rows: the texts of kept documents without their
    removed units, and the per-document counts of units and bytes removed. (Documents left too
    short were decided in the global step: their reason is set, and they keep their text.)"""
    texts = table.column("text").to_pylist()
    reasons = part.column("reason").to_pylist()
    units = [0] * len(texts)
    unit_bytes = [0] * len(texts)
    for i, positions in enumerate(part.column(REMOVED_UNITS).to_pylist()):
        if reasons[i] is not None or not positions:
            continue
        texts[i], unit_bytes[i] = remove_units(texts[i], positions, lines.unit)
        units[i] = len(positions)
        counts.documents_changed += 1
        counts.units_removed += len(positions)
        counts.unit_bytes_removed += unit_bytes[i]
    text_column = table.schema.get_field_index("text")
    table = table.set_column(text_column, table.schema.field(text_column), pa.array(texts))
    removed = pa.table(
        {UNITS_REMOVED: pa.array(units, pa.int32()), UNIT_BYTES_REMOVED: pa.array(unit_bytes)}
    )
    return table, removed


def apply_task(task: ShardTask, config: DedupConfig, output: Path) -> TaskResult:
    """Worker side: split input shard i into output shard i and rejected shard i."""
    started = time.process_time()
    decisions = read_decisions(output / PROGRESS_DIR / DECISIONS, task.index)
    source = task.open()  # the shard its signatures were computed from (sha256 checked)
    if source.metadata.num_rows != len(decisions):  # every row needs its decision
        raise StageError(f"{task.shard} changed since its signatures were computed")
    own = (DUPLICATE_COUNT, SIMILARITY, UNITS_REMOVED, UNIT_BYTES_REMOVED)
    input_schema = upgrade_schema(source.schema_arrow)
    fields = [f for f in input_schema if f.name not in own]
    added = [pa.field(DUPLICATE_COUNT, pa.int32())]
    if config.lines.enabled:
        added += [pa.field(UNITS_REMOVED, pa.int32()), pa.field(UNIT_BYTES_REMOVED, pa.int64())]
    schema = pa.schema([*fields, *added])
    rejected_schema = pa.schema(
        [
            *fields,
            pa.field("reason", pa.string(), nullable=False),
            pa.field(SIMILARITY, pa.float32()),
        ]
    )
    shards = TaskShards(output, task.index, schema, rejected_schema, config.row_group_rows)
    kept, rejected = shards.kept, shards.rejected
    counts = DedupStats(input_bytes=task.input_bytes)
    start = 0
    with shards:
        for batch in source.iter_batches(batch_size=config.row_group_rows):
            table = upgrade_table(pa.Table.from_batches([batch])).select([f.name for f in fields])
            part = decisions.slice(start, len(batch))
            start += len(batch)
            reason, original = part.column("reason"), table
            removed_units = None
            if config.lines.enabled:
                table, removed_units = apply_units(table, part, config.lines, counts)
            removed = pc.is_valid(reason)
            keep = pc.invert(removed)
            output_table = table.filter(keep).append_column(
                DUPLICATE_COUNT, part.column(DUPLICATE_COUNT).filter(keep)
            )
            if removed_units is not None:
                for name in removed_units.column_names:
                    output_table = output_table.append_column(
                        name, removed_units.column(name).filter(keep)
                    )
            kept.add_table(output_table)
            dropped = (
                original.filter(removed)
                .append_column("reason", pc.filter(reason, removed))
                .append_column(SIMILARITY, part.column(SIMILARITY).filter(removed))
            )
            rejected.add_table(dropped.cast(rejected_schema))
            sizes = pc.binary_length(dropped.column("text")).to_pylist()
            for why, size in zip(dropped.column("reason").to_pylist(), sizes, strict=True):
                kind = why.split(":", 1)[0]
                counts.rejected[kind] += 1
                counts.rejected_text_bytes[kind] += size
            progress.report(documents=len(batch))
        kept_info, rejected_info = shards.commit()
    progress.report(nbytes=task.input_bytes)
    counts.kept = kept_info.rows
    counts.kept_text_bytes = kept.text_bytes
    counts.cpu_seconds = time.process_time() - started
    return TaskResult(task.index, kept_info.to_json(), rejected_info.to_json(), counts.to_json())


# --- The stage --------------------------------------------------------------------------------


def batch_id(input_info: dict[str, Any], config: DedupConfig) -> str:
    """Names this batch in the index: the input dataset's content and the dedup settings."""
    blob = json.dumps(
        {
            "fingerprint": input_info["fingerprint"],
            "shards": input_info["shards"],
            "config": config.decision_settings(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_dedup(
    input_dir: Path | str,
    output: Path | str,
    config: DedupConfig,
    executor: ExecutorConfig,
    index_dir: Path | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    """Deduplicate the dataset in `input_dir` (against the index in `index_dir`, which then
    lists this batch) into `output`."""
    source = read_input_dataset(input_dir)
    output, url = staged_output(output, [input_dir])
    if url is None:
        check_dataset_output(output, [input_dir], "input dataset")
    if index_dir is not None:
        local = [folder for folder in (input_dir, output) if not is_url(folder)]
        problem = overlap_problem(index_dir, local, "--index", "dataset folder")
        if problem:
            raise StageError(problem)
    tasks = source.tasks()
    input_info = source.identity()
    batch = batch_id(input_info, config)
    index = DedupIndex(index_dir, config) if index_dir is not None else None
    with index.locked() if index is not None else contextlib.nullcontext():
        inputs = [input_info]
        if index is not None:
            inputs.append({"index": str(index.folder), "batches": index.other_batches(batch)})
        stage = DocumentStage(
            name="dedup",
            output=output,
            tasks=tasks,
            run_task=partial(apply_task, config=config, output=output),
            on_failure=shard_task_failed,
            config={**config.decision_settings(), "batch": batch},
            inputs=inputs,
            prepare=DedupPlan(tasks, config, index, batch).prepare,
            stats_type=DedupStats,
            publish_to=url,
        )
        summary = run_stage(stage, executor, show_progress, overwrite)
        if index is not None:
            index.commit(batch)
    return summary
