"""Packing: documents' token ids, each followed by the end-of-text id, cut into training rows.

A row holds `seq_len + 1` ids, so that one row gives both the inputs (`row[:-1]`) and the
targets (`row[1:]`). Rows do not overlap: every id of the stream is in exactly one row. What is
left after the last whole row (the tail) is returned, never dropped: the caller carries it
into the next batch, or writes it as a padded row with its true length (`pad_row`), whose
padding the trainer masks out of the loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def id_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocabularies up to 65,536), else uint32."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


class Packer:
    """Accumulates documents and hands out whole rows as a (rows x row_len) array."""

    def __init__(self, seq_len: int, eot_id: int, dtype: np.dtype, carry: np.ndarray | None = None):
        self.row_len = seq_len + 1
        self.eot_id = eot_id
        self.dtype = dtype
        self.pending: list[np.ndarray] = [] if carry is None else [carry.astype(dtype)]
        self.pending_ids = 0 if carry is None else len(carry)
        self.tokens_in = 0  # ids of the documents added (end-of-text ids included)

    def add(self, ids: Iterable[int] | np.ndarray) -> None:
        document = np.fromiter(ids, dtype=self.dtype) if not isinstance(ids, np.ndarray) else ids
        piece = np.empty(len(document) + 1, dtype=self.dtype)
        piece[:-1] = document
        piece[-1] = self.eot_id
        self.pending.append(piece)
        self.pending_ids += len(piece)
        self.tokens_in += len(piece)

    def rows(self) -> np.ndarray:
        """The whole rows available now; the rest stays pending."""
        count = self.pending_ids // self.row_len
        if not count:
            return np.empty((0, self.row_len), dtype=self.dtype)
        stream = np.concatenate(self.pending)
        cut = count * self.row_len
        self.pending = [stream[cut:]]
        self.pending_ids = len(stream) - cut
        return stream[:cut].reshape(count, self.row_len)

    def tail(self) -> np.ndarray:
        """The ids after the last whole row (fewer than a row)."""
        stream = np.concatenate(self.pending) if self.pending else np.empty(0, self.dtype)
        return stream[: self.pending_ids]


def pad_row(tail: np.ndarray, row_len: int, pad_id: int) -> tuple[np.ndarray, int]:
    """The tail as one row padded with `pad_id`, and its true length: positions from that
    length on are padding, and the targets there must be masked out of the loss."""
    row = np.full(row_len, pad_id, dtype=tail.dtype)
    row[: len(tail)] = tail
    return row, len(tail)


def documents_of(rows: Iterator[np.ndarray] | np.ndarray, eot_id: int) -> list[list[int]]:
    """Split packed rows back into documents at the end-of-text ids (for checks and tests)."""
    stream = np.concatenate(list(rows)) if not isinstance(rows, np.ndarray) else rows.ravel()
    ends = np.flatnonzero(stream == eot_id)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return [stream[a:b].tolist() for a, b in zip(starts, ends, strict=True)]
