"""Held-out text as an evaluation set: a document dataset (the output of extract, filter or
dedup), or .txt/.md files (one document each) and .jsonl files (a `text` field per line),
tokenized with the checkpoint's tokenizer and packed into rows as `llm-data tokenize` packs
them. So a model's bits per byte on text it never saw can be measured, and compared between
models whatever their tokenizers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from llm_pretrain.pipeline.text_sets import (
    JSONL_SUFFIXES,
    TEXT_SUFFIXES,
    TextSetError,
    read_text_set,
)
from llm_pretrain.tokenizer.bpe import BpeTokenizer
from llm_pretrain.tokenizer.packing import pack_rows
from llm_pretrain.train.runtime import TrainError


def read_texts(path: Path) -> list[str]:
    """The texts of a dataset folder, of a .txt/.md/.jsonl file, or of such files in a folder
    (`pipeline.text_sets`); a file of another kind, or input without any text, is refused."""
    try:
        return read_text_set(path, "text to evaluate on", suffixes=TEXT_SUFFIXES + JSONL_SUFFIXES)
    except TextSetError as exc:
        raise TrainError(str(exc)) from None


class TextRows:
    """Packed rows of ids in memory, read as the trainer reads a token split: row i is
    (row_len ids, how many are real)."""

    def __init__(self, rows: np.ndarray, lengths: np.ndarray) -> None:
        self.rows, self.lengths = rows, lengths

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.rows[index], int(self.lengths[index])


def text_rows(texts: list[str], tokenizer: BpeTokenizer, seq_len: int) -> TextRows:
    """The documents, each followed by end-of-text, in rows of seq_len + 1 ids."""
    pieces = [np.append(tokenizer.encode_array(text), tokenizer.eot_id) for text in texts]
    ids = np.concatenate(pieces).astype(np.int64) if pieces else np.empty(0, np.int64)
    rows, lengths = pack_rows(ids, seq_len + 1, tokenizer.eot_id)
    return TextRows(rows, lengths)
