"""One tokenizer for every variant, so that their models differ only by their data: trained on
an equal share of the bytes of each variant (a big raw crawl does not outvote a small filtered
one), without any variant's validation documents, sampled by a hash of the text as
`llm-data tokenize` samples."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.storage import atomic_write_json, read_json
from llm_pretrain.tokenizer.bpe import TOKENIZER_FILE, BpeTokenizer, train_bpe
from llm_pretrain.tokenizer.config import TokenizerConfig
from llm_pretrain.tokenizer.encoding import SplitRule
from llm_pretrain.tokenizer.sampling import training_sample_salt
from llm_pretrain.tokenizer.training import (
    REPORT_FILE,
    TRAINER_MAX_BYTES,
    bytes_per_token,
    sample_texts,
    text_bytes,
)


def train_shared_tokenizer(
    variants: dict[str, Path],
    output: Path,
    config: TokenizerConfig,
    rule: SplitRule,
    max_length: int,
) -> dict[str, Any]:
    """Train into `output` on about train_bytes / len(variants) of each variant's training
    documents; return the report (train_report.json), or the one a finished earlier run left."""
    report_file = output / REPORT_FILE
    if report_file.is_file() and (output / TOKENIZER_FILE).is_file():
        return read_json(report_file)
    budget = min(config.train_bytes or TRAINER_MAX_BYTES, TRAINER_MAX_BYTES) / len(variants)
    salt = training_sample_salt(config.sample_seed)
    counts: dict[str, dict[str, int]] = {}
    samples = []
    for name, folder in variants.items():
        shards = shard_paths(folder)
        share = min(1.0, budget / max(1, text_bytes(shards)))
        counts[name] = {"documents": 0, "bytes": 0}
        samples.append(sample_texts(shards, share, salt, counts[name], rule.is_validation))
    started = time.perf_counter()
    tokenizer = train_bpe(
        itertools.chain(*samples), config.vocab_size, config.pattern, config.special_tokens
    )
    seconds = time.perf_counter() - started
    output.mkdir(parents=True, exist_ok=True)
    tokenizer.save(output, max_length)
    check = []
    for folder in variants.values():
        seen = {"documents": 0, "bytes": 0}
        for text in sample_texts(shard_paths(folder), 1.0, salt, seen, rule.is_validation):
            check.append(text)
            if seen["bytes"] >= 1_000_000:
                break
    report = {
        "variants": sorted(variants),
        "vocab_size": tokenizer.vocab_size,
        "pattern": tokenizer.pattern,
        "trained_on": counts,
        "train_seconds": round(seconds, 3),
        "bytes_per_token": round(bytes_per_token(tokenizer, check), 4),
        "tokenizer_sha256": tokenizer.fingerprint(),
        "config": config.model_dump(),
    }
    atomic_write_json(report_file, report)  # last: the mark of a finished tokenizer
    return report


def load_shared(output: Path) -> BpeTokenizer:
    return BpeTokenizer.load(output / TOKENIZER_FILE)
