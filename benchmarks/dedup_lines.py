"""Memory and time of line dedup's global step (`DedupPlan._line_decisions`, `lines.py`): which
unit occurrences (lines or paragraphs) of the batch's surviving documents go, in both modes and
with an index of earlier batches, against a Python set grown document by document (CCNet).

The input is made-up phase-1 signature files, built in an interpreter of their own: 40 files
with a `unit_hashes` column (list<uint64>) and `unit_chars` (list<int32>), `--docs` documents
of 10-30 units (mean 20); ~30%
of the units are drawn (Zipf-like) from a pool of 20,000 boilerplate hashes, the rest unique
random hashes, and ~5% are 0 (too short: never removed). 5% of the documents are dropped, as if
document dedup had found them duplicates. The index of `ours-with-index` is one committed batch
whose lines part holds the distinct unit hashes of another `--docs` such documents.

Each variant runs in a fresh interpreter and reports its peak resident memory (VmHWM); one that
only imports the same modules gives the baseline subtracted for the bytes per unit occurrence
(a nonzero unit of a surviving document: what the step compares). The Python set must remove
exactly the units that `ours-keep_first` removes (checked by count and digest; exit 1 if not).
Nothing is asserted about speed or memory.

    .venv/bin/python benchmarks/dedup_lines.py [--docs 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from harness import Column, Table, peak_rss_mb, ratio, report, run_child

from llm_pretrain.pipeline.dataset import shard_name
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.dedup.index import DedupIndex, signature_schema
from llm_pretrain.pipeline.dedup.lines import UNIT_CHARS, UNIT_HASHES
from llm_pretrain.pipeline.dedup.stage import DedupPlan

WORK = Path(__file__).resolve().parent / "_work" / "dedup_lines"
FILES = 40  # signature files of the batch (input shards)
POOL = 20_000  # distinct boilerplate hashes
BOILERPLATE = 0.30  # share of units drawn from the pool
SHORT = 0.05  # share of units too short to be removed (hash 0)
DROPPED = 0.05  # share of documents removed by document dedup
EARLIER = "earlier"  # the index's committed batch
SEED = 20240611
TABLE = Table(
    Column("variant", 22, left=True),
    Column("seconds", 9, ".1f"),
    Column("peak MB", 10, ".0f"),
    Column("B/unit", 9, ".1f"),
    Column("units removed", 16, ","),
    rule=False,
)


# --- Input ------------------------------------------------------------------------------------


def boilerplate_pool() -> tuple[np.ndarray, np.ndarray]:
    """The boilerplate hashes and their Zipf-like probabilities (rank r: 1 / r)."""
    pool = np.random.default_rng(SEED).integers(1, 2**64, POOL, dtype=np.uint64)
    weights = 1.0 / np.arange(1, POOL + 1)
    return pool, weights / weights.sum()


def made_up_documents(rng: np.random.Generator, docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int32, docs + 1) and unit hashes (uint64) of `docs` made-up documents."""
    pool, weights = boilerplate_pool()
    lengths = rng.integers(10, 31, docs)
    offsets = np.zeros(docs + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    units = int(offsets[-1])
    hashes = rng.integers(1, 2**64, units, dtype=np.uint64)
    draw = rng.random(units)
    common = draw < BOILERPLATE
    hashes[common] = rng.choice(pool, int(common.sum()), p=weights)
    hashes[rng.random(units) < SHORT] = 0
    return offsets, hashes


def build(docs: int) -> dict:
    """The batch's signature files and the index (one committed batch: its lines part)."""
    shutil.rmtree(WORK / "batch", ignore_errors=True)
    shutil.rmtree(WORK / "index", ignore_errors=True)
    (WORK / "batch").mkdir(parents=True)
    rng = np.random.default_rng(SEED + 1)
    units = 0
    for i, count in enumerate(np.array_split(np.arange(docs), FILES)):
        offsets, hashes = made_up_documents(rng, len(count))
        column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(hashes, pa.uint64()))
        chars = rng.integers(5, 120, len(hashes), dtype=np.int32)  # a line's length, trimmed
        lengths = pa.ListArray.from_arrays(pa.array(offsets), pa.array(chars, pa.int32()))
        table = pa.table({UNIT_HASHES: column, UNIT_CHARS: lengths})
        pq.write_table(table, WORK / "batch" / shard_name(i))
        units += len(hashes)
    config = bench_config("keep_first")
    index = DedupIndex(WORK / "index", config)
    index.folder.mkdir(parents=True)
    _, hashes = made_up_documents(np.random.default_rng(SEED + 2), docs)
    hashes = np.sort(hashes[hashes != 0])  # not np.unique: numpy 2.3+ hashes, 20x slower here
    distinct = hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]
    del hashes
    index.write_lines_part(EARLIER, distinct)
    with index.part_writer(EARLIER, signature_schema(config.minhash.num_perm)) as writer:
        writer.write_table(signature_schema(config.minhash.num_perm).empty_table())
    index.commit(EARLIER)
    return {"units": units, "index_units": len(distinct)}


# --- Variants ---------------------------------------------------------------------------------


def bench_config(mode: str) -> DedupConfig:
    config = DedupConfig()
    config.lines.mode = mode  # type: ignore[assignment]
    return config


def survivors(docs: int) -> np.ndarray:
    """Which documents survive document dedup: the same in every variant."""
    return np.random.default_rng(SEED + 3).random(docs) >= DROPPED


def batch_rows() -> list[int]:
    return [pq.ParquetFile(WORK / "batch" / shard_name(i)).metadata.num_rows for i in range(FILES)]


def digest(shards: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """Removed positions of every shard as (offsets, positions): the same bytes for any variant."""
    sha = hashlib.sha256()
    for offsets, positions in shards:
        sha.update(np.asarray(offsets, np.int64).tobytes())
        sha.update(np.asarray(positions, np.int32).tobytes())
    return sha.hexdigest()[:16]


def ours(mode: str, with_index: bool, docs: int) -> dict:
    """`DedupPlan._line_decisions` on the batch, timed."""
    config = bench_config(mode)
    index = DedupIndex(WORK / "index", config) if with_index else None
    tasks = [SimpleNamespace(index=i) for i in range(FILES)]
    plan = DedupPlan(tasks, config, index, "bench")  # type: ignore[arg-type]
    kept, rows = survivors(docs), batch_rows()
    started = time.perf_counter()
    removed, _, stats = plan._line_decisions(WORK / "batch", kept, rows)
    seconds = time.perf_counter() - started
    shards = []
    for array in removed:
        offsets = array.offsets.to_numpy()
        shards.append((offsets - offsets[0], array.flatten().to_numpy()))
    return {
        "seconds": round(seconds, 2),
        "peak_mb": peak_rss_mb()[0],
        "removed": int(sum(len(positions) for _, positions in shards)),
        "digest": digest(shards),
        "compared": stats["lines"]["units_compared"],
        "index_units": stats["lines"]["index_units"],
    }


def python_set(docs: int) -> dict:
    """CCNet's way: a set of hashes grown document by document; a unit goes if an earlier
    surviving document had it (all of a document's hashes are checked before any is added)."""
    kept, rows = survivors(docs).tolist(), batch_rows()
    started = time.perf_counter()
    seen: set[int] = set()
    shards, start, compared = [], 0, 0
    for i, count in enumerate(rows):
        column = pq.read_table(WORK / "batch" / shard_name(i)).column(UNIT_HASHES)
        array = column.combine_chunks()
        flat = array.flatten().to_numpy().tolist()
        bounds = (array.offsets.to_numpy() - array.offsets[0].as_py()).tolist()
        offsets, positions = [0], []
        for row in range(count):
            if kept[start + row]:
                units = flat[bounds[row] : bounds[row + 1]]
                positions += [n for n, unit in enumerate(units) if unit and unit in seen]
                compared += len(units) - units.count(0)
                seen.update(units)
            offsets.append(len(positions))
        shards.append((np.array(offsets), np.array(positions, dtype=np.int32)))
        start += count
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "peak_mb": peak_rss_mb()[0],
        "removed": int(sum(len(positions) for _, positions in shards)),
        "digest": digest(shards),
        "compared": compared,
        "index_units": 0,
    }


def run_variant(variant: str, docs: int) -> dict:
    if variant == "build":
        return build(docs)
    if variant == "baseline":
        return {"seconds": 0.0, "peak_mb": peak_rss_mb()[0]}
    if variant == "python-set":
        return python_set(docs)
    if variant == "ours-with-index":
        return ours("keep_first", True, docs)
    return ours(variant.removeprefix("ours-"), False, docs)


# --- Parent -----------------------------------------------------------------------------------


def main() -> None:
    """Build the input, run the baseline, our variants and the peer, check and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        report(run_variant(args.variant, args.docs))
        return
    options = ["--docs", str(args.docs)]
    started = time.perf_counter()
    built = run_child(__file__, "build", options)
    print(
        f"{args.docs:,} documents, {built['units']:,} unit occurrences in {FILES} files; index of "
        f"{built['index_units']:,} distinct units; built in {time.perf_counter() - started:.0f} s"
    )
    names = ["baseline", "ours-keep_first", "ours-remove_repeated", "ours-with-index", "python-set"]
    results = {}
    for name in names:
        results[name] = run_child(__file__, name, options)
    base, first, peer = results["baseline"], results["ours-keep_first"], results["python-set"]
    compared = first["compared"]
    print(
        f"baseline (imports only): {base['peak_mb']:.0f} MB; {compared:,} unit occurrences "
        f"compared (nonzero, of the {1 - DROPPED:.0%} of documents that survive)"
    )
    TABLE.header()
    for name in names[1:]:
        result = results[name]
        per_unit = (result["peak_mb"] - base["peak_mb"]) * 2**20 / result["compared"]
        TABLE.row(name, result["seconds"], result["peak_mb"], per_unit, result["removed"])
    memory = ratio(first["peak_mb"] - base["peak_mb"], peer["peak_mb"] - base["peak_mb"])
    print(
        f"ours-keep_first / python-set: time {ratio(first['seconds'], peer['seconds']):.2f}, "
        f"memory above baseline {memory:.2f}"
    )
    indexed = results["ours-with-index"]
    extra = (indexed["peak_mb"] - first["peak_mb"]) * 2**20
    print(
        f"with index: {indexed['index_units']:,} distinct index units, "
        f"{ratio(extra, indexed['index_units']):.1f} bytes each over ours-keep_first's peak"
    )
    if (peer["removed"], peer["digest"]) != (first["removed"], first["digest"]):
        raise SystemExit(
            f"python-set removed {peer['removed']:,} units (digest {peer['digest']}), "
            f"ours-keep_first {first['removed']:,} (digest {first['digest']})"
        )
    print(f"python-set and ours-keep_first remove the same units (digest {first['digest']})")


if __name__ == "__main__":
    main()
