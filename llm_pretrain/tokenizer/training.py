"""`llm-data train-tokenizer`: a BPE tokenizer from a dataset's documents.

A big corpus is sampled by a byte budget: every document whose id hashes below the wanted
share is taken, so the sample is the same on every run and spread over the whole corpus.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from llm_pretrain.errors import must_exist
from llm_pretrain.pipeline.dataset import read_manifest, shard_paths
from llm_pretrain.storage import atomic_write_json
from llm_pretrain.tokenizer.bpe import (
    CONFIG_FILE,
    TOKENIZER_FILE,
    BpeTokenizer,
    TokenizerError,
    train_bpe,
)
from llm_pretrain.tokenizer.config import TokenizerConfig
from llm_pretrain.tokenizer.sampling import picked, text_key, training_sample_salt

REPORT_FILE = "train_report.json"


def foreign_output_problem(output: Path) -> str | None:
    """Why `llm-data train-tokenizer` may not write its files into `output`: it holds a dataset
    (a tokenize output's tokenizer must match its manifest), or tokenizer files that an earlier
    train-tokenizer did not write (its train_report.json is not there)."""
    if (output / "_manifest.json").exists():
        return f"--output {output} holds a dataset; give train-tokenizer a folder of its own"
    ours = (output / REPORT_FILE).is_file()
    for name in (TOKENIZER_FILE, CONFIG_FILE, REPORT_FILE):
        if (output / name).exists() and not ours:
            return f"--output {output} holds a {name} that train-tokenizer did not write"
    return None


# rustbpe 0.1 counts chunks and pairs in signed 32-bit integers. No count can exceed the bytes
# of text trained on, so below 2**31 bytes none can overflow: the sample is kept under it.
TRAINER_MAX_BYTES = 2_000_000_000
_HARD_LIMIT = 2**31 - 1
# Text encoded after training to report the compression (bytes per token).
_COMPRESSION_SAMPLE_BYTES = 10_000_000


def text_bytes(shards: list[Path]) -> int:
    """UTF-8 bytes of the `text` column of the shards."""
    total = 0
    for shard in shards:
        column = pq.read_table(shard, columns=["text"]).column("text")
        total += pc.sum(pc.binary_length(column)).as_py() or 0
    return total


HeldOut = Callable[[str], bool]  # text_key -> kept out of the training sample


def sample_texts(
    shards: list[Path],
    share: float,
    salt: str,
    counts: dict[str, int],
    held_out: HeldOut | None = None,
) -> Iterator[str]:
    """The texts of the sampled documents, shard by shard; `counts` gets documents and bytes."""
    for shard in shards:
        for text in pq.read_table(shard, columns=["text"]).column("text").to_pylist():
            key = text_key(text) if held_out is not None or share < 1 else ""
            if held_out is not None and held_out(key):
                continue
            if share >= 1 or picked(key, share, salt):
                size = len(text.encode("utf-8"))
                if counts["bytes"] + size > _HARD_LIMIT:  # a sample a little over its share
                    return
                counts["documents"] += 1
                counts["bytes"] += size
                yield text


def bytes_per_token(tokenizer: BpeTokenizer, texts: list[str]) -> float:
    tokens = sum(map(len, tokenizer.encode_batch(texts, threads=2)))
    return sum(len(t.encode("utf-8")) for t in texts) / tokens if tokens else 0.0


def train_tokenizer(
    input_dir: Path,
    output: Path,
    config: TokenizerConfig,
    held_out: HeldOut | None = None,
    max_length: int = 2048,
) -> dict[str, Any]:
    """Train on `input_dir` (a finished dataset) but the `held_out` documents (the validation
    split), save into `output`, return the report."""
    must_exist(input_dir, "input dataset")
    if read_manifest(input_dir) is None:
        raise TokenizerError(f"{input_dir} is not a finished dataset (no _manifest.json)")
    shards = shard_paths(input_dir)
    total = text_bytes(shards)  # one more read of the text, for the byte budget
    if total == 0:
        raise TokenizerError(f"{input_dir} holds no text to train on")
    budget = min(config.train_bytes or TRAINER_MAX_BYTES, TRAINER_MAX_BYTES)
    share = min(1.0, budget / total)
    counts = {"documents": 0, "bytes": 0}
    salt = training_sample_salt(config.sample_seed)
    started = time.perf_counter()
    try:
        tokenizer = train_bpe(
            sample_texts(shards, share, salt, counts, held_out),
            config.vocab_size,
            config.pattern,
            config.special_tokens,
        )
    except TokenizerError:
        if counts["documents"] == 0 and held_out is not None:
            raise TokenizerError(
                f"every document of {input_dir} fell into the validation split, none is left "
                "to train the tokenizer on; give more documents or a lower "
                "tokenize.val_fraction"
            ) from None
        raise
    seconds = time.perf_counter() - started
    tokenizer.save(output, max_length)
    check: list[str] = []
    check_counts = {"documents": 0, "bytes": 0}
    for text in sample_texts(shards, share, salt, check_counts, held_out):
        check.append(text)
        if check_counts["bytes"] >= _COMPRESSION_SAMPLE_BYTES:
            break
    report = {
        "input": str(input_dir),
        "vocab_size": tokenizer.vocab_size,
        "special_tokens": tokenizer.special_tokens,
        "pattern": tokenizer.pattern,
        "corpus_bytes": total,
        "trained_on": counts,
        "train_seconds": round(seconds, 3),
        "bytes_per_token": round(bytes_per_token(tokenizer, check), 4),
        "tokenizer_sha256": tokenizer.fingerprint(),
        "config": config.model_dump(),
    }
    atomic_write_json(output / REPORT_FILE, report)
    return report


def format_report(report: dict[str, Any], output: Path) -> str:
    """The command's summary of a trained tokenizer: size, sample, compression, hash."""
    trained = report["trained_on"]
    return (
        f"train-tokenizer -> {output}\n"
        f"  vocabulary     {report['vocab_size']:,} tokens "
        f"({len(report['special_tokens'])} special)\n"
        f"  trained on     {trained['documents']:,} documents, {trained['bytes'] / 1e6:,.1f} MB "
        f"of {report['corpus_bytes'] / 1e6:,.1f} MB in {report['train_seconds']:,.1f} s\n"
        f"  compression    {report['bytes_per_token']:.2f} bytes per token\n"
        f"  sha256         {report['tokenizer_sha256']}"
    )
