"""Held-out text as an evaluation set: a document dataset (the output of extract, filter or
dedup), or .txt/.md files (one document each) and .jsonl files (a `text` field per line),
tokenized with the checkpoint's tokenizer and packed into rows as `llm-data tokenize` packs
them. So a model's bits per byte on text it never saw can be measured, and compared between
models whatever their tokenizers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from llm_pretrain.errors import must_exist
from llm_pretrain.pipeline.dataset import MANIFEST, shard_paths
from llm_pretrain.pipeline.documents import representable
from llm_pretrain.pipeline.runner import read_input_dataset
from llm_pretrain.tokenizer.bpe import BpeTokenizer
from llm_pretrain.tokenizer.packing import pack_rows
from llm_pretrain.train.runtime import TrainError

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl",)


def read_texts(path: Path) -> list[str]:
    """The documents of a dataset folder, of a .txt/.md/.jsonl file, or of such files in a
    folder (read recursively, in name order, hidden files and folders left out as extract
    leaves them); a file of another kind is refused, and so is input without any text.
    Lone surrogates (a JSON "\\ud800") become backslash escapes, as in the datasets."""
    must_exist(path, "eval text")
    if (path / MANIFEST).is_file():
        read_input_dataset(path)  # a document dataset, whole (not token data, not damaged)
        texts = [
            text
            for shard in shard_paths(path)
            for text in pq.read_table(shard, columns=["text"]).column("text").to_pylist()
        ]
    else:
        texts = []
        for file in _files(path):
            suffix = file.suffix.lower()
            if suffix in TEXT_SUFFIXES:
                texts.append(_decoded(file))
            elif suffix in JSONL_SUFFIXES:
                texts += _jsonl_texts(file)
            else:
                raise TrainError(
                    f"{file}: not a text to evaluate on (give a dataset folder, or "
                    f"{', '.join(TEXT_SUFFIXES + JSONL_SUFFIXES)} files)"
                )
    texts = [representable(text) for text in texts if text.strip()]
    if not texts:
        raise TrainError(f"{path} holds no text to evaluate on")
    return texts


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    return sorted(
        file
        for file in path.rglob("*")
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts)
    )


def _decoded(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TrainError(f"{file} is not UTF-8 text ({exc.reason})") from None


def _jsonl_texts(file: Path) -> list[str]:
    texts = []
    for number, line in enumerate(_decoded(file).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            raise TrainError(f"{file}:{number} is not a JSON object") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise TrainError(f"{file}:{number} has no text field")
        texts.append(record["text"])
    return texts


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
