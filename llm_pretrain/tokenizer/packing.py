"""Packing: the token stream of a split (every document's ids followed by the end-of-text id, in
document order) cut into training rows.

A row holds `seq_len + 1` ids, so that one row gives both the inputs (`row[:-1]`) and the
targets (`row[1:]`). Rows do not overlap and are cut at fixed offsets of the whole stream (row
k is ids k*row_len .. (k+1)*row_len), so reading all rows in order gives the stream back and
every id is in exactly one row. The stream's last, partial row is padded, and its true length
is kept with it: the trainer masks the targets from that length on out of the loss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def id_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocabularies up to 65,536), else uint32."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def row_count(tokens: int, row_len: int) -> int:
    """Rows a stream of `tokens` ids fills, the padded last one included."""
    return -(-tokens // row_len)


def pack_rows(ids: np.ndarray, row_len: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """`ids` as (rows x row_len), the last row padded with `pad_id`, and each row's true length."""
    rows = row_count(len(ids), row_len)
    packed = np.full(rows * row_len, pad_id, dtype=ids.dtype)
    packed[: len(ids)] = ids
    lengths = np.full(rows, row_len, dtype=np.int32)
    if rows and len(ids) % row_len:
        lengths[-1] = len(ids) % row_len
    return packed.reshape(rows, row_len), lengths


class TokenStream:
    """Raw token files (one per input shard, in order) read as one stream. Files are opened
    only while a read needs them, so a corpus of thousands of shards holds no file handles."""

    def __init__(self, files: list[tuple[Path, int]], dtype: np.dtype) -> None:
        """`files`: each file with the number of ids it holds."""
        self.dtype = np.dtype(dtype)
        self.files = [(Path(path), count) for path, count in files if count]
        for path, count in self.files:
            if path.stat().st_size != count * self.dtype.itemsize:
                raise ValueError(f"{path} does not hold the {count} ids its task recorded")
        self.starts = np.cumsum([0, *(count for _, count in self.files)]).tolist()

    def __len__(self) -> int:
        return self.starts[-1]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Ids `start` .. `stop` of the stream."""
        pieces = []
        for (path, count), first in zip(self.files, self.starts, strict=False):
            lo, hi = max(start - first, 0), min(stop - first, count)
            if lo < hi:
                offset = lo * self.dtype.itemsize
                pieces.append(np.fromfile(path, self.dtype, count=hi - lo, offset=offset))
        return np.concatenate(pieces) if pieces else np.empty(0, self.dtype)


def documents_of(stream: np.ndarray, eot_id: int) -> list[list[int]]:
    """Split a stream back into documents at the end-of-text ids (for checks and tests)."""
    stream = stream.ravel()
    ends = np.flatnonzero(stream == eot_id)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return [stream[a:b].tolist() for a, b in zip(starts, ends, strict=True)]
