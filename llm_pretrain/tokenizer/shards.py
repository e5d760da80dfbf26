"""Packed token shards: Arrow IPC files the trainer memory-maps, and the reader it uses.

    train/shard-00000.arrow   input_ids: fixed_size_list<uint16 | uint32>[seq_len + 1]
                              length:    int32, the real ids in the row: seq_len + 1 but in a
                                         split's last row, which is padded with the manifest's
                                         `pad_id` from `length` on

Training on row r: inputs r[:-1], targets r[1:]; the target at position t is real when
t + 1 < length, and padding (to be left out of the loss) otherwise.

Uncompressed IPC file format: `pyarrow.memory_map` + `ipc.open_file` give the rows without a
copy, so a reader costs no memory beyond the pages it touches, and other Arrow readers (polars,
tested) open the files.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from llm_pretrain.pipeline.dataset import read_manifest
from llm_pretrain.storage import atomic_path, file_sha256


def shard_schema(row_len: int, dtype: np.dtype) -> pa.Schema:
    ids = pa.uint16() if dtype == np.uint16 else pa.uint32()
    return pa.schema(
        [
            pa.field("input_ids", pa.list_(ids, row_len), nullable=False),
            pa.field("length", pa.int32(), nullable=False),
        ]
    )


def write_shard(path: Path, rows: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    """Write `rows` (rows x row_len) and their real lengths atomically."""
    count, row_len = rows.shape
    schema = shard_schema(row_len, rows.dtype)
    ids = pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), row_len)
    table = pa.table([ids, pa.array(lengths, pa.int32())], schema=schema)
    batch_rows = max(1, (64 << 20) // max(1, rows[:1].nbytes))  # record batches of ~64 MB
    with (
        atomic_path(path) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        pa.ipc.new_file(sink, schema) as writer,
    ):
        writer.write_table(table, max_chunksize=batch_rows)
    return {
        "file": path.name,
        "rows": count,
        "tokens": int(lengths.sum()),
        "bytes": path.stat().st_size,
        "sha256": file_sha256(path),
        # Checked by the trainer against the vocabulary before it reads any row.
        "max_id": int(rows.max()) if rows.size else 0,
    }


class PackedReader:
    """Rows of packed shards by global index, memory-mapped."""

    def __init__(self, paths: list[Path]) -> None:
        # One entry per record batch of every shard: views into the mapped files (combining
        # a shard's batches into one array would copy it).
        self.ids: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self.starts: list[int] = []
        total = 0
        for path in paths:
            table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
            ids, lengths = table.column("input_ids"), table.column("length")
            for chunk, length in zip(ids.chunks, lengths.chunks, strict=True):
                if not len(chunk):
                    continue
                row_len = chunk.type.list_size
                values = _as_numpy(chunk.values)
                start = chunk.offset * row_len
                self.ids.append(values[start : start + len(chunk) * row_len].reshape(-1, row_len))
                self.lengths.append(_as_numpy(length))
                self.starts.append(total)
                total += len(chunk)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        """Row `index`: its ids (a read-only view) and how many of them are real."""
        if not 0 <= index < self.total:
            raise IndexError(f"row {index} of {self.total}")
        part = bisect.bisect_right(self.starts, index) - 1
        local = index - self.starts[part]
        return self.ids[part][local], int(self.lengths[part][local])

    def rank_rows(self, rank: int, world: int) -> range:
        """The rows of one data-parallel rank: every world-th, starting at rank."""
        return range(rank, self.total, world)

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for ids, lengths in zip(self.ids, self.lengths, strict=True):
            yield from zip(ids, lengths.tolist(), strict=True)


def open_split(folder: Path, split: str = "train") -> PackedReader:
    """The rows of one split (`train` or `val`) of a finished `llm-data tokenize` output."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("stage") != "tokenize":
        raise FileNotFoundError(f"{folder} is not a finished llm-data tokenize output")
    if split not in manifest["splits"]:
        raise KeyError(f"{folder} has no split {split!r}; it has {', '.join(manifest['splits'])}")
    return PackedReader(
        [Path(folder) / shard["file"] for shard in manifest["splits"][split]["shards"]]
    )


_NUMPY = {pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.int32(): np.int32}


def _as_numpy(array: pa.Array) -> np.ndarray:
    """A primitive array without nulls as a view of its buffer. Not `to_numpy`: its first call
    imports pandas (pyarrow's shim), and an import swallows a Ctrl-C that lands during it."""
    data = np.frombuffer(array.buffers()[1], dtype=_NUMPY[array.type])
    return data[array.offset : array.offset + len(array)]
