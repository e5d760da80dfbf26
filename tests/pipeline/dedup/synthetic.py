"""Signature files of made-up documents (no text): near-duplicate families whose members
differ from their original in a chosen number of signature rows, exact copies, and documents
without shingles, for testing and measuring dedup's global step at any size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from llm_pretrain.pipeline.dataset import atomic_parquet
from llm_pretrain.pipeline.dates import date_array
from llm_pretrain.pipeline.dedup.minhash import EMPTY
from llm_pretrain.pipeline.dedup.stage import signature_file_schema


def synthetic_documents(
    count: int, num_perm: int, seed: int, duplicate_share: float = 0.3
) -> dict[str, np.ndarray]:
    """Columns of `count` documents: a share of them copies (exact, or with 0 to num_perm/3
    rows changed: some above the 0.8 threshold, some below) of an earlier document."""
    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, 2**32 - 1, (count, num_perm), dtype=np.uint32)
    hashes = rng.integers(0, 256, (count, 16), dtype=np.uint8)
    copies = np.flatnonzero(rng.random(count) < duplicate_share)
    copies = copies[copies > 0]
    originals = (rng.random(len(copies)) * copies).astype(np.int64)  # an earlier document
    for copy, source in zip(copies.tolist(), originals.tolist(), strict=True):
        signatures[copy] = signatures[source]
        if rng.random() < 0.15:
            hashes[copy] = hashes[source]  # the same text
            continue
        changed = int(rng.integers(0, num_perm // 3))
        rows = rng.choice(num_perm, changed, replace=False)
        signatures[copy, rows] = rng.integers(0, 2**32 - 1, changed, dtype=np.uint32)
    signatures[rng.random(count) < 0.01] = EMPTY  # texts without shingles
    return {
        "id": np.array([f"{seed}-{i}" for i in range(count)]),
        "text_hash": hashes,
        "signature": signatures,
        "length": rng.integers(10, 10_000, count),
        "date": np.array([f"2024-01-{1 + i % 28:02d}" if i % 3 else "" for i in range(count)]),
    }


def write_signature_files(
    folder: Path, columns: dict[str, np.ndarray], files: int, row_group_rows: int = 1000
) -> list[Path]:
    """The documents as `files` signature files (the dedup stage's phase 1 format)."""
    num_perm = columns["signature"].shape[1]
    schema = signature_file_schema(num_perm, with_sets=False)
    paths = []
    for number, rows in enumerate(np.array_split(np.arange(len(columns["id"])), files)):
        hashes = pa.py_buffer(np.ascontiguousarray(columns["text_hash"][rows]).tobytes())
        table = pa.table(
            {
                "id": columns["id"][rows],
                "text_hash": pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(16), len(rows), [None, hashes]
                ),
                "signature": pa.FixedSizeListArray.from_arrays(
                    pa.array(columns["signature"][rows].ravel()), num_perm
                ),
                "length": columns["length"][rows],
                "date": date_array(pa.array([d or None for d in columns["date"][rows]])),
            }
        ).cast(schema)
        path = folder / f"part-{number:05d}.parquet"
        with atomic_parquet(path, schema) as writer:
            writer.write_table(table, row_group_size=row_group_rows)
        paths.append(path)
    return paths
