"""The documents of dedup's global step as files on a shared path: the index's parts, then the
batch's signature files, each row one node. Tasks read the rows of the nodes they need, one
Parquet row group at a time, instead of holding every signature in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from llm_pretrain.pipeline.dates import DATE_TYPE, date_array
from llm_pretrain.pipeline.dedup.clusters import UNDATED, Documents
from llm_pretrain.pipeline.dedup.index import hash_array, signature_array
from llm_pretrain.pipeline.dedup.minhash import jaccard

# The column of signature files that holds each document's shingle set (exact verification).
SHINGLES = "shingles"


# Columns an index part lacks, read as nulls of these types.
_MISSING_TYPES = {"length": pa.int64(), "date": DATE_TYPE}


def date_keys(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A `date` column of signature files as `Documents.dates`: microseconds since 1970 (UTC),
    UNDATED where there is none."""
    micros = date_array(column).cast(pa.int64()).fill_null(UNDATED)
    return micros.to_numpy().astype(np.int64, copy=False)


@dataclass(frozen=True)
class Source:
    """A Parquet file of documents (id, text_hash, signature, and for the batch length and
    date) whose rows are the nodes `start`, `start + 1`, ..."""

    path: str
    start: int
    rows: int
    in_batch: bool


def sources(index_parts: list[Path], batch_files: list[Path]) -> list[Source]:
    """Sources in node order: the index's parts, then the batch's files."""
    result, start = [], 0
    for in_batch, files in ((False, index_parts), (True, batch_files)):
        for path in files:
            rows = pq.ParquetFile(path).metadata.num_rows
            result.append(Source(str(path), start, rows, in_batch))
            start += rows
    return result


def _take_rows(file: pq.ParquetFile, rows: np.ndarray, columns: list[str]) -> pa.Table:
    """Sorted `rows` of a Parquet file, reading only the row groups that hold them."""
    metadata = file.metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    bounds = np.cumsum([0, *sizes])
    group_of = np.searchsorted(bounds, rows, side="right") - 1
    groups = np.unique(group_of)
    offsets = np.cumsum([0, *np.diff(bounds)[groups][:-1]])  # where each group starts in `table`
    table = file.read_row_groups(groups.tolist(), columns=columns)
    positions = offsets[np.searchsorted(groups, group_of)] + rows - bounds[group_of]
    return table.take(pa.array(positions))


@dataclass
class NodeReader:
    """Reads columns of chosen nodes from their sources (NodeColumns for `resolve`)."""

    sources: list[Source]
    num_perm: int

    def __post_init__(self) -> None:
        self.starts = np.array([s.start for s in self.sources] + [self.total], dtype=np.int64)

    @property
    def total(self) -> int:
        return sum(s.rows for s in self.sources)

    @property
    def n_index(self) -> int:
        return sum(s.rows for s in self.sources if not s.in_batch)

    def read(self, nodes: np.ndarray, columns: list[str]) -> pa.Table:
        """`columns` of the sorted, distinct `nodes`, in their order; columns an index part
        lacks (length, date) are null for its rows."""
        tables = []
        for number, source in enumerate(self.sources):
            low, high = np.searchsorted(nodes, self.starts[number : number + 2])
            if low == high:
                continue
            rows = nodes[low:high] - source.start
            file = pq.ParquetFile(source.path)
            present = [c for c in columns if c in file.schema_arrow.names]
            table = _take_rows(file, rows, present)
            for name in columns:
                if name not in present:
                    kind = _MISSING_TYPES.get(name, pa.string())
                    table = table.append_column(name, pa.nulls(len(table), kind))
            tables.append(table.select(columns))
        if not tables:
            return pa.table({name: pa.array([], pa.null()) for name in columns})
        return pa.concat_tables(tables, promote_options="permissive")

    def documents(self, nodes: np.ndarray, signatures: bool) -> Documents:
        columns = ["text_hash", "length", "date", *(["signature"] if signatures else [])]
        table = self.read(nodes, columns)
        width = self.num_perm if signatures else 0
        if not len(table):
            return Documents.empty(width)
        return Documents(
            hash_array(table.column("text_hash")),
            signature_array(table.column("signature"), width)
            if signatures
            else np.empty((len(table), 0), np.uint32),
            table.column("length").fill_null(0).to_numpy(),
            date_keys(table.column("date")),
        )

    def jaccard(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Exact Jaccard similarities of pairs of batch positions (ExactJaccard), from the
        shingle sets stored with the batch's signatures; reads only the sets of those."""
        n_index = self.n_index
        needed = np.unique(np.concatenate([first, second])) + n_index
        column = self.read(needed, [SHINGLES]).column(SHINGLES).combine_chunks()
        values = column.flatten().to_numpy(zero_copy_only=False)
        offsets = np.cumsum([0, *column.value_lengths().to_numpy(zero_copy_only=False)])
        sets = [values[offsets[i] : offsets[i + 1]] for i in range(len(needed))]
        at_first = np.searchsorted(needed, first + n_index)
        at_second = np.searchsorted(needed, second + n_index)
        pairs = zip(at_first.tolist(), at_second.tolist(), strict=True)
        return np.array([jaccard(sets[a], sets[b]) for a, b in pairs], dtype=np.float64)

    def ids(self, nodes: np.ndarray) -> list[str]:
        """Document ids of the sorted, distinct `nodes`."""
        return self.read(nodes, ["id"]).column("id").to_pylist() if len(nodes) else []
