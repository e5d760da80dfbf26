"""Phase 1 of `llm-data tokenize`, in a worker: one input shard's documents to token files.

Each document goes to the training or the validation split by a hash of its id, and its ids,
followed by the end-of-text id, are appended to that split's raw file (`train-00003.bin`: the
ids in the corpus's dtype, nothing else). The files are written atomically; phase 2 cuts the
concatenated files of a split into rows.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.runner import ShardTask
from llm_pretrain.pipeline.storage import atomic_path
from llm_pretrain.tokenizer.bpe import BpeTokenizer
from llm_pretrain.tokenizer.packing import id_dtype
from llm_pretrain.tokenizer.sampling import picked

SPLITS = ("train", "val")
_BATCH_ROWS = 1000


@dataclass(frozen=True)
class SplitRule:
    """Which documents are held out for validation."""

    fraction: float
    salt: str

    def is_validation(self, document_id: str) -> bool:
        return self.fraction > 0 and picked(document_id, self.fraction, self.salt)


@dataclass
class EncodeResult:
    index: int
    # split -> documents, tokens (end-of-text ids included), text_bytes
    splits: dict[str, dict[str, int]]
    empty_documents: int = 0  # no text, so no tokens: counted, not packed
    # power-of-two bucket (histogram_bucket) -> documents
    tokens_per_document: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "splits": self.splits,
            "empty_documents": self.empty_documents,
            "tokens_per_document": self.tokens_per_document,
            "cpu_seconds": self.cpu_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EncodeResult:
        return cls(**data)


def token_file(folder: Path, split: str, index: int) -> Path:
    return folder / f"{split}-{index:05d}.bin"


def histogram_bucket(tokens: int) -> str:
    """Power-of-two bucket of a document length: "256" holds 256 .. 511 tokens."""
    return str(1 << (max(tokens, 1).bit_length() - 1))


@lru_cache(maxsize=2)
def _tokenizer(path: str, sha256: str) -> BpeTokenizer:
    """One load per worker process; the hash in the key makes a changed file load anew."""
    return BpeTokenizer.load(Path(path))


def encode_shard(
    task: ShardTask, tokenizer_file: str, tokenizer_sha256: str, rule: SplitRule, folder: Path
) -> EncodeResult:
    started = time.process_time()
    tokenizer = _tokenizer(tokenizer_file, tokenizer_sha256)
    dtype = id_dtype(tokenizer.vocab_size)
    end = np.array([tokenizer.eot_id], dtype=np.uint32)
    splits = {split: {"documents": 0, "tokens": 0, "text_bytes": 0} for split in SPLITS}
    lengths: Counter[str] = Counter()
    empty = 0
    source = pq.ParquetFile(task.shard)
    with (
        atomic_path(token_file(folder, "train", task.index)) as train_tmp,
        atomic_path(token_file(folder, "val", task.index)) as val_tmp,
        open(train_tmp, "wb") as train_out,
        open(val_tmp, "wb") as val_out,
    ):
        outputs = {"train": train_out, "val": val_out}
        for batch in source.iter_batches(batch_size=_BATCH_ROWS, columns=["id", "text"]):
            text_bytes = pc.binary_length(batch.column("text")).to_numpy(zero_copy_only=False)
            pieces: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
            for document_id, text, size in zip(
                batch.column("id").to_pylist(),
                batch.column("text").to_pylist(),
                text_bytes.tolist(),
                strict=True,
            ):
                if not text:
                    empty += 1
                    continue
                ids = tokenizer.encode_array(text)
                split = "val" if rule.is_validation(document_id) else "train"
                pieces[split] += [ids, end]
                counts = splits[split]
                counts["documents"] += 1
                counts["tokens"] += len(ids) + 1
                counts["text_bytes"] += int(size)
                lengths[histogram_bucket(len(ids))] += 1
            for split, parts in pieces.items():
                if parts:
                    outputs[split].write(np.concatenate(parts).astype(dtype).tobytes())
            progress.report(documents=len(batch))
    progress.report(nbytes=task.input_bytes)
    return EncodeResult(
        task.index, splits, empty, dict(lengths), round(time.process_time() - started, 3)
    )
