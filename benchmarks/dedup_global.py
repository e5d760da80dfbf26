"""Memory and time of dedup's global step (LSH buckets -> clusters): in one process, as the
local executor runs it by default, vs split into bucket partitions run as tasks, as on Ray.

The input is made-up signature files (`corpus_shards.py`: 128 permutations, 30% of documents
copies of an earlier one, exact or with up to a third of their rows changed), a share of them
as the index of earlier batches and the rest as the batch. Each variant runs in a fresh
interpreter, which prints its peak resident memory and that of its largest worker
(task processes of the local pool, 2 workers); an interpreter that only imports the same
modules gives the baseline subtracted for the bytes per document. Both variants must reach
the same decisions (checked by digest). Nothing is asserted about speed or memory.

    .venv/bin/python benchmarks/dedup_global.py [--docs 1000000] [--partitions 4]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from pathlib import Path

from corpus_shards import signature_batch
from harness import Column, Table, peak_rss_mb, report, run_child

from llm_pretrain.pipeline.dedup.clusters import cluster
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.dedup.nodes import NodeReader, sources
from llm_pretrain.pipeline.dedup.partitioned import GlobalStep, decide
from llm_pretrain.pipeline.dedup.stage import _load_batch
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.runner import StageRun

WORK = Path(__file__).resolve().parent / "_work" / "dedup_global"
FILES = 40  # signature files of the batch (input shards); the index has FILES // 4 parts
TABLE = Table(
    Column("variant", 24, left=True),
    Column("seconds", 9, ".1f"),
    Column("driver MB", 11, ".0f"),
    Column("worker MB", 11, ".0f"),
    Column("driver B/doc", 14, ".0f"),
    Column("worker B/doc", 14, ".0f"),
    rule=False,
)


def on_two_workers(step: GlobalStep) -> StageRun:
    """A dedup run whose `_progress/` folder holds the global step's folder."""
    folder = step.folder.parent
    return StageRun("dedup", folder, ExecutorConfig(workers=2), show_progress=False)


def peak_mb() -> dict[str, float]:
    """This process's peak (VmHWM: unlike ru_maxrss, not inherited from the parent that
    forked it) and its largest worker's (forked from this one: its pages count in both)."""
    driver, worker = peak_rss_mb()
    return {"driver_mb": driver, "worker_mb": worker}


def run_variant(variant: str, partitions: int) -> dict:
    """Child side: the global step of one variant on the files `signature_batch` wrote, timed;
    its decisions' digest, so that the parent can tell both variants decided alike."""
    config = DedupConfig()
    config.minhash.verify = "estimate"  # synthetic documents have no shingle sets
    index_files = sorted((WORK / "index").glob("part-*.parquet"))
    batch_files = sorted((WORK / "batch").glob("part-*.parquet"))
    reader = NodeReader(sources(index_files, batch_files), 128)
    started = time.perf_counter()
    if variant == "baseline":
        return {"seconds": 0.0, **peak_mb(), "digest": ""}
    if variant == "one-process":
        index = _load_batch(WORK / "index", len(index_files), 128)
        batch = _load_batch(WORK / "batch", len(batch_files), 128)
        decisions = cluster(index, batch, config)
    else:
        folder = WORK / "global"
        shutil.rmtree(folder, ignore_errors=True)
        step = GlobalStep(folder, reader.sources, partitions, config)
        decisions = decide(step, on_two_workers(step))
    seconds = time.perf_counter() - started
    digest = hashlib.sha256(decisions.survivor.tobytes() + decisions.exact.tobytes()).hexdigest()
    stats = {k: v for k, v in decisions.stats.items() if "seconds" not in k}
    return {"seconds": round(seconds, 2), **peak_mb(), "digest": digest[:16], "stats": stats}


def in_fresh_interpreter(variant: str, partitions: int, *options: str) -> dict:
    """A variant in an interpreter of its own: its peak memory is then its own."""
    return run_child(__file__, variant, ["--partitions", str(partitions), *options])


def main() -> None:
    """Build the input, run the baseline and both variants, check and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--index-share", type=float, default=0.5)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant == "build":  # in its own interpreter too: the others' peaks stay theirs
        signature_batch(WORK, args.docs, args.index_share, FILES)
        report({})
        return
    if args.variant:
        report(run_variant(args.variant, args.partitions))
        return
    started = time.perf_counter()
    sizes = ("--docs", str(args.docs), "--index-share", str(args.index_share))
    in_fresh_interpreter("build", 0, *sizes)
    print(
        f"{args.docs:,} documents ({args.index_share:.0%} index), built in "
        f"{time.perf_counter() - started:.0f} s"
    )
    base = in_fresh_interpreter("baseline", 0)
    one = in_fresh_interpreter("one-process", 0)
    parts = in_fresh_interpreter("partitioned", args.partitions)
    if one["digest"] != parts["digest"]:
        raise SystemExit("the two variants decided differently")
    print(f"same decisions: {one['stats']}")
    per_doc = 1024 * 1024 / args.docs
    TABLE.header()
    for name, result in (("one process", one), (f"{args.partitions} partitions", parts)):
        driver = (result["driver_mb"] - base["driver_mb"]) * per_doc
        worker = (result["worker_mb"] - base["driver_mb"]) * per_doc if result["worker_mb"] else 0
        TABLE.row(name, result["seconds"], result["driver_mb"], result["worker_mb"], driver, worker)
    memory = (parts["driver_mb"] - base["driver_mb"]) / (one["driver_mb"] - base["driver_mb"])
    print(
        f"partitioned / one process: time {parts['seconds'] / one['seconds']:.2f}, "
        f"driver memory {memory:.2f}"
    )
    spread = sum(p.stat().st_size for p in (WORK / "global" / "spread").glob("*.arrow"))
    print(f"spread files on disk: {spread / args.docs:.0f} bytes per document")


if __name__ == "__main__":
    main()
