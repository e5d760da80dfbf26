"""Memory and time of dedup's global step (LSH buckets -> clusters): in one process, as the
local executor runs it by default, vs split into bucket partitions run as tasks, as on Ray.

The input is made-up signature files (`tests/pipeline/dedup/synthetic.py`: 128 permutations,
30% of documents copies of an earlier one, exact or with up to a third of their rows changed),
a share of them as the index of earlier batches and the rest as the batch. Each variant runs in
a fresh interpreter, which prints its peak resident memory and that of its largest worker
(task processes of the local pool, 2 workers); an interpreter that only imports the same
modules gives the baseline subtracted for the bytes per document. Both variants must reach
the same decisions (checked by digest). Nothing is asserted about speed or memory.

    .venv/bin/python benchmarks/dedup_global.py [--docs 1000000] [--partitions 4]
"""

from __future__ import annotations

import os
import sys

# benchmarks/tokenize.py would shadow the standard library's tokenize while this folder is
# first on sys.path; the repository root goes first for the tests' synthetic corpus.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE)] + [
    entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE
]

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import time
from pathlib import Path

from llm_pretrain.pipeline.dedup.clusters import cluster
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.dedup.nodes import NodeReader, sources
from llm_pretrain.pipeline.dedup.partitioned import GlobalStep, decide
from llm_pretrain.pipeline.dedup.stage import _load_batch
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.runner import StageRun
from tests.pipeline.dedup.synthetic import synthetic_documents, write_signature_files

WORK = Path(__file__).resolve().parent / "_work" / "dedup_global"
FILES = 40  # signature files of the batch (input shards); the index has FILES // 4 parts


def on_two_workers(step: GlobalStep) -> StageRun:
    """A dedup run whose `_progress/` folder holds the global step's folder."""
    folder = step.folder.parent
    return StageRun("dedup", folder, folder, ExecutorConfig(workers=2), show_progress=False)


def build(docs: int, index_share: float) -> None:
    marker = WORK / f"built-{docs}-{index_share}"
    if marker.exists():
        return
    shutil.rmtree(WORK, ignore_errors=True)
    columns = synthetic_documents(docs, 128, seed=1)
    cut = int(docs * index_share)
    index = {name: values[:cut] for name, values in columns.items()}
    batch = {name: values[cut:] for name, values in columns.items()}
    write_signature_files(WORK / "index", index, files=max(1, FILES // 4))
    write_signature_files(WORK / "batch", batch, files=FILES)
    marker.touch()


def peak_mb() -> dict[str, float]:
    """This process's peak (VmHWM: unlike ru_maxrss, not inherited from the parent that
    forked it) and its largest worker's (forked from this one: its pages count in both)."""
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
    return {
        "driver_mb": peak_kb / 1024,
        "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_variant(variant: str, partitions: int) -> dict:
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
    command = [sys.executable, __file__, "--variant", variant, "--partitions", str(partitions)]
    command += options
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--index-share", type=float, default=0.5)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant == "build":  # in its own interpreter too: the others' peaks stay theirs
        build(args.docs, args.index_share)
        print("{}")
        return
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.partitions)))
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
    print(
        f"{'variant':<24}{'seconds':>9}{'driver MB':>11}{'worker MB':>11}{'driver B/doc':>14}"
        f"{'worker B/doc':>14}"
    )
    for name, result in (("one process", one), (f"{args.partitions} partitions", parts)):
        driver = (result["driver_mb"] - base["driver_mb"]) * per_doc
        worker = (result["worker_mb"] - base["driver_mb"]) * per_doc if result["worker_mb"] else 0
        print(
            f"{name:<24}{result['seconds']:>9.1f}{result['driver_mb']:>11.0f}"
            f"{result['worker_mb']:>11.0f}{driver:>14.0f}{worker:>14.0f}"
        )
    memory = (parts["driver_mb"] - base["driver_mb"]) / (one["driver_mb"] - base["driver_mb"])
    print(
        f"partitioned / one process: time {parts['seconds'] / one['seconds']:.2f}, "
        f"driver memory {memory:.2f}"
    )
    spread = sum(p.stat().st_size for p in (WORK / "global" / "spread").glob("*.arrow"))
    print(f"spread files on disk: {spread / args.docs:.0f} bytes per document")


if __name__ == "__main__":
    main()
