"""Made-up files in the formats our stages write, for benchmarks of a later stage that need no
text: dedup's signature files (dedup_global.py) and tokenize's packed token shards (train.py).
Deterministic for a seed; written in their own interpreter or cached, so that the measured
processes never hold them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

SIGNATURE_MAX = 2**32 - 1  # signature rows are uint32 hashes below this


# ---------------------------------------------------------------------------------------------
# dedup: signature files of documents without text
# ---------------------------------------------------------------------------------------------


def made_up_signatures(
    count: int, num_perm: int, seed: int, copy_share: float = 0.3
) -> dict[str, np.ndarray]:
    """The columns of `count` documents' signatures. A `copy_share` of them copy an earlier
    document: 15% exactly (the same text hash), the others with 0 to num_perm/3 of their rows
    redrawn, so that they fall on both sides of the 0.8 threshold; 1% have no shingles."""
    from llm_pretrain.pipeline.dedup.minhash import EMPTY

    rng = np.random.default_rng(seed)
    signature = rng.integers(0, SIGNATURE_MAX, (count, num_perm), dtype=np.uint32)
    text_hash = rng.integers(0, 256, (count, 16), dtype=np.uint8)
    copies = np.flatnonzero(rng.random(count) < copy_share)
    copies = copies[copies > 0]  # the first document has nothing earlier to copy
    sources = (rng.random(len(copies)) * copies).astype(np.int64)
    for copy, source in zip(copies.tolist(), sources.tolist(), strict=True):
        signature[copy] = signature[source]
        if rng.random() < 0.15:
            text_hash[copy] = text_hash[source]
            continue
        redrawn = rng.choice(num_perm, int(rng.integers(0, num_perm // 3)), replace=False)
        signature[copy, redrawn] = rng.integers(0, SIGNATURE_MAX, len(redrawn), dtype=np.uint32)
    signature[rng.random(count) < 0.01] = EMPTY
    length = rng.integers(10, 10_000, count)
    dates = [f"2024-01-{1 + i % 28:02d}" if i % 3 else "" for i in range(count)]
    return {
        "id": np.array([f"{seed}-{i}" for i in range(count)]),
        "text_hash": text_hash,
        "signature": signature,
        "length": length,
        "date": np.array(dates),
    }


def write_signatures(
    folder: Path, columns: dict[str, np.ndarray], files: int, row_group_rows: int = 1000
) -> list[Path]:
    """The documents as `files` signature files of dedup's phase 1 (no shingle sets), split
    into contiguous runs of rows."""
    import pyarrow as pa

    from llm_pretrain.pipeline.dataset import atomic_parquet
    from llm_pretrain.pipeline.dates import date_array
    from llm_pretrain.pipeline.dedup.stage import signature_file_schema

    num_perm = columns["signature"].shape[1]
    schema = signature_file_schema(num_perm, with_sets=False)
    written = []
    for number, rows in enumerate(np.array_split(np.arange(len(columns["id"])), files)):
        hashes = np.ascontiguousarray(columns["text_hash"][rows]).tobytes()
        signatures = pa.array(columns["signature"][rows].ravel())
        table = pa.table(
            {
                "id": columns["id"][rows],
                "text_hash": pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(16), len(rows), [None, pa.py_buffer(hashes)]
                ),
                "signature": pa.FixedSizeListArray.from_arrays(signatures, num_perm),
                "length": columns["length"][rows],
                "date": date_array(pa.array([day or None for day in columns["date"][rows]])),
            }
        ).cast(schema)
        path = folder / f"part-{number:05d}.parquet"
        with atomic_parquet(path, schema) as writer:
            writer.write_table(table, row_group_size=row_group_rows)
        written.append(path)
    return written


def signature_batch(work: Path, docs: int, index_share: float, files: int) -> None:
    """`docs` documents' signatures (128 permutations, seed 1): the first `index_share` of
    them as the index of earlier batches in WORK/index (files // 4 files), the rest as the batch
    in WORK/batch (`files` files). Kept while docs and share are the same."""
    marker = work / f"built-{docs}-{index_share}"
    if marker.exists():
        return
    shutil.rmtree(work, ignore_errors=True)
    columns = made_up_signatures(docs, 128, seed=1)
    cut = int(docs * index_share)
    write_signatures(work / "index", {k: v[:cut] for k, v in columns.items()}, max(1, files // 4))
    write_signatures(work / "batch", {k: v[cut:] for k, v in columns.items()}, files)
    marker.touch()


# ---------------------------------------------------------------------------------------------
# tokenize: packed token shards of random ids
# ---------------------------------------------------------------------------------------------


def random_token_data(data: Path, vocab: int, seq_len: int, train_rows: int) -> Path:
    """A token dataset as `llm-data tokenize` writes it, of random ids (a training step's
    speed does not depend on them): `train_rows` rows of seq_len + 1 tokens, 8 validation rows,
    and a stand-in tokenizer file (the trainer checks its sha256 and copies it into
    checkpoints). Kept once written."""
    from llm_pretrain.storage import atomic_write_json, file_sha256
    from llm_pretrain.tokenizer.shards import write_shard

    tokenizer = data / "tokenizer.json"
    if (data / "_manifest.json").exists() and tokenizer.is_file():
        return data
    shutil.rmtree(data, ignore_errors=True)
    rng = np.random.default_rng(0)
    splits = {}
    for split, count in [("train", train_rows), ("val", 8)]:
        (data / split).mkdir(parents=True)
        dtype = np.uint16 if vocab <= 65536 else np.uint32
        rows = rng.integers(0, vocab, (count, seq_len + 1)).astype(dtype)
        lengths = np.full(count, seq_len + 1, np.int32)
        info = write_shard(data / split / "shard-00000.arrow", rows, lengths)
        info["file"] = f"{split}/{info['file']}"
        splits[split] = {"rows": count, "tokens": int(lengths.sum()), "shards": [info]}
    tokenizer.write_text('{"note": "random ids, no tokenizer"}\n', encoding="utf-8")
    described = {"vocab_size": vocab, "sha256": file_sha256(tokenizer), "file": tokenizer.name}
    manifest = {
        "stage": "tokenize",
        "fingerprint": f"benchmark-{vocab}-{seq_len}",
        "seq_len": seq_len,
        "row_len": seq_len + 1,
        "tokenizer": described,
        "splits": splits,
    }
    atomic_write_json(data / "_manifest.json", manifest)
    return data
