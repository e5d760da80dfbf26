"""Phase 1 of `llm-data tokenize`, in a worker: one input shard's documents to token files.

Each document goes to the training or the validation split by a hash of its text, and its ids,
followed by the end-of-text id, are appended to that split's raw file (`train-00003.bin`: the
ids in the corpus's dtype, nothing else). The files are written atomically; phase 2 cuts the
concatenated files of a split into rows.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.runner import ShardTask
from llm_pretrain.storage import atomic_path
from llm_pretrain.tokenizer.sampling import picked, text_key

SPLITS = ("train", "val")
_BATCH_ROWS = 1000


@dataclass(frozen=True)
class SplitRule:
    """Which documents are held out for validation."""

    fraction: float
    salt: str

    def is_validation(self, key: str) -> bool:
        """Whether the document whose text has this `text_key` is held out."""
        return self.fraction > 0 and picked(key, self.fraction, self.salt)


@dataclass
class EncodeResult:
    index: int
    # split -> documents, tokens (end-of-text ids included), text_bytes
    splits: dict[str, dict[str, int]]
    # ids of the documents with no text: no tokens to pack, recorded in the stats
    empty_documents: list[str] = field(default_factory=list)
    # power-of-two bucket (histogram_bucket) -> documents
    tokens_per_document: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    # language (the documents' `language` column; "unknown" without one) -> tokens
    tokens_per_language: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "splits": self.splits,
            "empty_documents": self.empty_documents,
            "tokens_per_document": self.tokens_per_document,
            "cpu_seconds": self.cpu_seconds,
            "tokens_per_language": self.tokens_per_language,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EncodeResult:
        return cls(**data)


def token_file(folder: Path, split: str, index: int) -> Path:
    return folder / f"{split}-{index:05d}.bin"


def histogram_bucket(tokens: int) -> str:
    """Power-of-two bucket of a document length: "256" holds 256 .. 511 tokens."""
    return str(1 << (max(tokens, 1).bit_length() - 1))


class BulkEncoder:
    """Encodes a batch of texts into one flat id array, without a Python object per token.

    The engine is fastokens, which runs the saved `tokenizer.json` (a regex engine with a JIT
    and a Rust BPE): on the tokenize benchmark it encodes about 4x faster per core than
    tiktoken, with the same ids (checked against tiktoken and Hugging Face in the tests).
    """

    def __init__(self, tokenizer_file: Path) -> None:
        # One thread: a worker process is one core's worth of work (unbounded, the engine takes
        # every core for a batch). Read when its thread pools start: at the first batch.
        os.environ["RAYON_NUM_THREADS"] = "1"
        os.environ["FASTOKENS_BPE_THREADS"] = "1"
        import fastokens

        self.engine = fastokens.Tokenizer.from_file(str(tokenizer_file))

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of all texts (uint32), and offsets: text i is ids[offsets[i]:offsets[i+1]].
        Special tokens written in a text are ordinary text, as in training."""
        ids, offsets = self.engine.encode_batch_flat(
            texts, add_special_tokens=False, split_special_tokens=True
        )
        return np.frombuffer(ids, np.uint32), np.frombuffer(offsets, np.uint64).astype(np.int64)


def with_end_of_text(
    ids: np.ndarray, offsets: np.ndarray, eot_id: int, dtype: np.dtype
) -> np.ndarray:
    """The documents' ids, each followed by the end-of-text id, as one stream of `dtype`."""
    count = len(offsets) - 1
    stream = np.empty(len(ids) + count, dtype=dtype)
    ends = offsets[1:] + np.arange(count)  # where each document's end-of-text id goes
    is_text = np.ones(len(stream), dtype=bool)
    is_text[ends] = False
    stream[is_text] = ids
    stream[ends] = eot_id
    return stream


@dataclass(frozen=True)
class EncodeSettings:
    tokenizer_file: str
    tokenizer_sha256: str  # a changed file is loaded anew by a worker that loaded it before
    eot_id: int
    dtype: str  # of the ids in the token files
    rule: SplitRule


@lru_cache(maxsize=2)
def _encoder(path: str, sha256: str) -> BulkEncoder:
    """One load per worker process."""
    return BulkEncoder(Path(path))


def encode_shard(task: ShardTask, settings: EncodeSettings, folder: Path) -> EncodeResult:
    encoder = _encoder(settings.tokenizer_file, settings.tokenizer_sha256)
    started = time.process_time()  # the work on the text: loading the encoder is not counted
    dtype, rule = np.dtype(settings.dtype), settings.rule
    splits = {split: {"documents": 0, "tokens": 0, "text_bytes": 0} for split in SPLITS}
    lengths: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    empty: list[str] = []
    source = task.open()
    with (
        atomic_path(token_file(folder, "train", task.index)) as train_tmp,
        atomic_path(token_file(folder, "val", task.index)) as val_tmp,
        open(train_tmp, "wb") as train_out,
        open(val_tmp, "wb") as val_out,
    ):
        outputs = {"train": train_out, "val": val_out}
        columns = ["id", "text", *(["language"] if "language" in source.schema_arrow.names else [])]
        for batch in source.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            sizes = pc.binary_length(batch.column("text")).to_numpy(zero_copy_only=False)
            languages = (
                batch.column("language").to_pylist()
                if "language" in columns
                else [None] * len(batch)
            )
            texts: dict[str, list[str]] = {split: [] for split in SPLITS}
            text_languages: dict[str, list[str]] = {split: [] for split in SPLITS}
            text_bytes = dict.fromkeys(SPLITS, 0)
            for document_id, text, size, language in zip(
                batch.column("id").to_pylist(),
                batch.column("text").to_pylist(),
                sizes.tolist(),
                languages,
                strict=True,
            ):
                if not text:
                    empty.append(document_id)
                    continue
                split = "val" if rule.is_validation(text_key(text)) else "train"
                texts[split].append(text)
                text_languages[split].append(language or "unknown")
                text_bytes[split] += int(size)
            for split in SPLITS:
                if not texts[split]:
                    continue
                ids, offsets = encoder.encode(texts[split])
                stream = with_end_of_text(ids, offsets, settings.eot_id, dtype)
                outputs[split].write(stream.tobytes())
                counts = splits[split]
                counts["documents"] += len(texts[split])
                counts["tokens"] += len(stream)
                counts["text_bytes"] += text_bytes[split]
                per_document = np.diff(offsets).tolist()
                for length, language in zip(per_document, text_languages[split], strict=True):
                    lengths[histogram_bucket(length)] += 1
                    by_language[language] += length + 1  # its end-of-text id too
            progress.report(documents=len(batch))
    progress.report(nbytes=task.input_bytes)
    return EncodeResult(
        task.index,
        splits,
        empty,
        dict(lengths),
        round(time.process_time() - started, 3),
        dict(by_language),
    )
