"""Dedup's global step as tasks on the executor, so that no process holds every signature.

1. spread (a task per chunk of ~100k rows of a source): each document's text hash goes to
   partition `hash % P`, each of its LSH band keys to partition `key % P`; a chunk writes one
   Arrow IPC file of hashes and one of band keys, each with one record batch per partition;
2. exact (a task per partition): documents sharing a hash -> an edge from each later copy to
   the first; the later copies are left out of near-dedup, as in the one-process step;
3. near (a task per partition): every bucket of every band lies whole in one partition, so
   its star edges are found there; the candidate pairs are verified with the signatures of
   their two documents only (read by row group from the sources);
4. resolve (this process): the distinct edges, connected components of the documents they
   touch, and survivors (`clusters.resolve`, shared with the one-process step).

A pair found in several bands may be verified in several partitions (with the same result);
the driver counts it once. The decisions equal the one-process step's for any number of
partitions (tested). Memory: a partition task holds ~(24 + 18 x bands) / P bytes per document
of the batch and the index plus the signatures of its candidates; the driver, the edges and
the documents that have a duplicate (measured: ~0.3 KB per document of the whole at 30%
duplicates, against 2.4 KB in one process; `benchmarks/dedup_global.py`). Disk: the spread
files, ~400 bytes per document at 21 bands, under `_progress/partitions/` until the stage commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.dedup.clusters import (
    Decisions,
    band_edges,
    exact_edges,
    resolve,
    unique_pairs,
    verify_pairs,
)
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.dedup.index import hash_array, signature_array
from llm_pretrain.pipeline.dedup.minhash import EMPTY, band_keys, lsh_params
from llm_pretrain.pipeline.dedup.nodes import NodeReader, Source
from llm_pretrain.pipeline.executor import TaskFailure, build_executor
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.runner import StageError, StageRun
from llm_pretrain.storage import atomic_path

CHUNK_ROWS = 100_000  # rows a spread task reads (whole row groups, so it may read more)
DOCUMENTS_PER_PARTITION = 1_000_000  # what `partitions: null` aims at on Ray

HASH_SCHEMA = pa.schema([("node", pa.int64()), ("text_hash", pa.binary(16))])
BAND_SCHEMA = pa.schema([("key", pa.uint64()), ("band", pa.uint16()), ("node", pa.int64())])
EDGE_SCHEMA = pa.schema([("first", pa.int64()), ("second", pa.int64())])
PAIR_SCHEMA = EDGE_SCHEMA.append(pa.field("verified", pa.bool_())).append(
    pa.field("compared", pa.bool_())
)


def partition_count(configured: int | None, executor: ExecutorConfig, documents: int) -> int:
    """Partitions of the global step; 0: in one process. Unset: one process with the local
    executor, and on Ray one partition per million documents of the batch and the index."""
    if configured is not None:
        return configured
    if not build_executor(executor).distributed:
        return 0
    return max(1, -(-documents // DOCUMENTS_PER_PARTITION))


@dataclass(frozen=True)
class ChunkTask:
    """Spread: consecutive row groups of one source."""

    index: int
    source: Source
    row_groups: tuple[int, ...]
    first_row: int  # the source's row of the chunk's first row
    input_bytes: int

    def describe(self) -> str:
        groups = self.row_groups
        return (
            f"{self.source.path}, row groups {groups[0]}-{groups[-1]}"
            if groups
            else self.source.path
        )


@dataclass(frozen=True)
class PartitionTask:
    index: int
    input_bytes: int

    def describe(self) -> str:
        return f"partition {self.index}"


@dataclass(frozen=True)
class TaskCounts:
    index: int
    stats: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "stats": self.stats}


@dataclass(frozen=True)
class GlobalStep:
    """What every task of the global step needs to know (sent to each task)."""

    folder: Path
    sources: list[Source]
    partitions: int
    config: DedupConfig

    @property
    def reader(self) -> NodeReader:
        return NodeReader(self.sources, self.config.minhash.num_perm)

    def chunks(self) -> list[ChunkTask]:
        tasks: list[ChunkTask] = []
        for source in self.sources:
            metadata = pq.ParquetFile(source.path).metadata
            groups: list[int] = []
            rows = first_row = nbytes = 0
            for group in range(metadata.num_row_groups):
                groups.append(group)
                rows += metadata.row_group(group).num_rows
                nbytes += metadata.row_group(group).total_byte_size
                if rows >= CHUNK_ROWS or group == metadata.num_row_groups - 1:
                    tasks.append(ChunkTask(len(tasks), source, tuple(groups), first_row, nbytes))
                    first_row += rows
                    groups, rows, nbytes = [], 0, 0
        return tasks

    def spread_file(self, kind: str, chunk: int) -> Path:
        return self.folder / "spread" / f"{kind}-{chunk:05d}.arrow"

    def partition_file(self, kind: str, partition: int) -> Path:
        return self.folder / kind / f"part-{partition:05d}.arrow"


# --- IPC files with one record batch per partition ----------------------------------------------


def _write_batches(path: Path, schema: pa.Schema, batches: list[pa.RecordBatch]) -> None:
    with atomic_path(path) as tmp, pa.ipc.new_file(str(tmp), schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


def _by_partition(table: pa.Table, partition: np.ndarray, count: int) -> list[pa.RecordBatch]:
    """The rows of `table` split by `partition`, keeping their order within each."""
    order = np.argsort(partition, kind="stable")
    bounds = np.searchsorted(partition[order], np.arange(count + 1))
    ordered = table.take(pa.array(order)).combine_chunks()
    return [
        ordered.slice(bounds[p], bounds[p + 1] - bounds[p]).to_batches(max_chunksize=None)[0]
        if bounds[p + 1] > bounds[p]
        else pa.RecordBatch.from_pylist([], schema=table.schema)
        for p in range(count)
    ]


def _read_partition(files: list[Path], partition: int, schema: pa.Schema) -> pa.Table:
    """Partition `partition` of each spread file, in file order (node order)."""
    batches = []
    for path in files:
        with pa.memory_map(str(path)) as source:
            batches.append(pa.ipc.open_file(source).get_batch(partition))
    return pa.Table.from_batches(batches, schema=schema).combine_chunks()


def _failed(task: Any, failure: TaskFailure) -> TaskCounts:
    raise StageError(f"dedup global step: task {task.index} failed: {failure.message}")


# --- 1. spread ------------------------------------------------------------------------------------


def spread_task(task: ChunkTask, step: GlobalStep) -> TaskCounts:
    config, count = step.config, step.partitions
    file = pq.ParquetFile(task.source.path)
    near = config.minhash.enabled
    columns = ["text_hash", *(["signature"] if near else [])]
    table = file.read_row_groups(list(task.row_groups), columns=columns)
    nodes = task.source.start + task.first_row + np.arange(len(table), dtype=np.int64)
    if config.exact.enabled:
        hashes = table.column("text_hash").combine_chunks()
        low_bits = hash_array(hashes).view(np.uint64)[::2]
        hash_table = pa.table({"node": nodes, "text_hash": hashes}, schema=HASH_SCHEMA)
        batches = _by_partition(hash_table, (low_bits % count).astype(np.int64), count)
        _write_batches(step.spread_file("hashes", task.index), HASH_SCHEMA, batches)
    if near:
        signatures = signature_array(table.column("signature"), config.minhash.num_perm)
        with_shingles = ~(signatures == EMPTY).all(axis=1)
        keys = band_keys(signatures[with_shingles], lsh_params(config.minhash))
        bands = np.broadcast_to(np.arange(keys.shape[1], dtype=np.uint16), keys.shape)
        owners = np.broadcast_to(nodes[with_shingles][:, None], keys.shape)
        band_table = pa.table(
            {"key": keys.ravel(), "band": bands.ravel(), "node": owners.ravel()},
            schema=BAND_SCHEMA,
        )
        batches = _by_partition(band_table, (keys.ravel() % count).astype(np.int64), count)
        _write_batches(step.spread_file("bands", task.index), BAND_SCHEMA, batches)
    progress.report(documents=len(table), nbytes=task.input_bytes)
    return TaskCounts(task.index, {"documents": {"spread": len(table)}})


# --- 2. exact -------------------------------------------------------------------------------------


def exact_task(task: PartitionTask, step: GlobalStep, chunks: int) -> TaskCounts:
    files = [step.spread_file("hashes", chunk) for chunk in range(chunks)]
    table = _read_partition(files, task.index, HASH_SCHEMA)
    nodes = table.column("node").to_numpy()
    first, later, _ = exact_edges(hash_array(table.column("text_hash")))
    edges = pa.table({"first": nodes[first], "second": nodes[later]}, schema=EDGE_SCHEMA)
    _write_batches(step.partition_file("exact", task.index), EDGE_SCHEMA, edges.to_batches())
    progress.report(documents=len(table), nbytes=task.input_bytes)
    return TaskCounts(task.index, {"documents": {"hashed": len(table)}})


# --- 3. near --------------------------------------------------------------------------------------


def later_copies_file(step: GlobalStep) -> Path:
    return step.folder / "exact" / "later.npy"


def near_task(task: PartitionTask, step: GlobalStep, chunks: int) -> TaskCounts:
    config, reader = step.config, step.reader
    files = [step.spread_file("bands", chunk) for chunk in range(chunks)]
    table = _read_partition(files, task.index, BAND_SCHEMA)
    keys = table.column("key").to_numpy()
    bands = table.column("band").to_numpy()
    nodes = table.column("node").to_numpy()
    if config.exact.enabled:  # later exact copies take no part, as in one process
        representative = ~np.isin(nodes, np.load(later_copies_file(step)))
        keys, bands, nodes = keys[representative], bands[representative], nodes[representative]
    order = np.argsort(bands, kind="stable")
    splits = np.flatnonzero(np.diff(bands[order])) + 1
    per_band = zip(np.split(keys[order], splits), np.split(nodes[order], splits), strict=True)
    first, second = band_edges(per_band, reader.n_index, reader.total)
    verified = np.ones(len(first), dtype=bool)
    compared = np.zeros(len(first), dtype=bool)
    if config.minhash.verify != "off" and len(first):
        needed = np.unique(np.concatenate([first, second]))
        rows = reader.documents(needed, signatures=True).signatures
        exact = reader.jaccard if config.minhash.verify == "exact" else None
        verified, compared = verify_pairs(
            first,
            second,
            lambda chosen: rows[np.searchsorted(needed, chosen)],
            config,
            reader.n_index,
            exact,
        )
    pairs = pa.table(
        {"first": first, "second": second, "verified": verified, "compared": compared},
        schema=PAIR_SCHEMA,
    )
    _write_batches(step.partition_file("near", task.index), PAIR_SCHEMA, pairs.to_batches())
    progress.report(documents=len(table), nbytes=task.input_bytes)
    return TaskCounts(task.index, {"documents": {"band_keys": len(table)}})


# --- 4. the driver --------------------------------------------------------------------------------


def _read_all(files: list[Path], schema: pa.Schema) -> pa.Table:
    tables = []
    for path in files:
        with pa.memory_map(str(path)) as source:
            tables.append(pa.ipc.open_file(source).read_all())
    return pa.concat_tables(tables).combine_chunks() if tables else schema.empty_table()


def decide(step: GlobalStep, stage_run: StageRun) -> Decisions:
    """The one-process step's decisions, computed in tasks on the stage's executor (phases
    under `_progress/partitions/`, resumable)."""
    config, reader = step.config, step.reader
    count = step.partitions

    def run(tasks: list[Any], fn: Callable[[Any], TaskCounts], phase: str) -> None:
        folder = step.folder.relative_to(stage_run.progress_dir)  # the global step's, in it
        stage_run.map(tasks, fn, _failed, phase=f"{folder}/{phase}")

    stats: dict[str, Any] = {"partitions": count}

    started = time.perf_counter()
    chunks = step.chunks()
    spread = partial(spread_task, step=step)
    run(chunks, spread, "spread")
    spread_bytes = sum(path.stat().st_size for path in (step.folder / "spread").glob("*.arrow"))
    partitions = [PartitionTask(p, spread_bytes // max(count, 1)) for p in range(count)]
    stats["seconds_spread"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    edges = [EDGE_SCHEMA.empty_table()]
    if config.exact.enabled:
        exact = partial(exact_task, step=step, chunks=len(chunks))
        run(partitions, exact, "exact")
        files = [step.partition_file("exact", p) for p in range(count)]
        edges.append(_read_all(files, EDGE_SCHEMA))
        later = np.sort(edges[-1].column("second").to_numpy())
        with atomic_path(later_copies_file(step)) as tmp, open(tmp, "wb") as handle:
            np.save(handle, later)
    stats["seconds_exact"] = round(time.perf_counter() - started, 3)

    if config.minhash.enabled:
        started = time.perf_counter()
        near = partial(near_task, step=step, chunks=len(chunks))
        run(partitions, near, "near")
        pairs = _read_all([step.partition_file("near", p) for p in range(count)], PAIR_SCHEMA)
        first, second = pairs.column("first").to_numpy(), pairs.column("second").to_numpy()
        code = first * reader.total + second
        _, at = np.unique(code, return_index=True)  # a pair found in several partitions
        verified = pairs.column("verified").to_numpy(zero_copy_only=False)[at]
        compared = pairs.column("compared").to_numpy(zero_copy_only=False)[at]
        stats["candidate_pairs"] = int(len(at))
        if config.minhash.verify == "exact" and len(at):
            stats["exactly_compared_pairs"] = int(compared.sum())
        kept = at[verified]
        stats["verified_pairs"] = int(len(kept))
        edges.append(pa.table({"first": first[kept], "second": second[kept]}))
        stats["seconds_lsh"] = round(time.perf_counter() - started, 3)

    source, target = unique_pairs(
        [t.column("first").to_numpy() for t in edges],
        [t.column("second").to_numpy() for t in edges],
        max(reader.total, 1),
    )
    n_batch = reader.total - reader.n_index
    decisions = resolve(source, target, reader.n_index, n_batch, reader, config)
    decisions.stats = {**stats, **decisions.stats}
    return decisions
