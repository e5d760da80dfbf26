"""The cost of running the data stages on Ray instead of the local pool, on this machine.

Extract, filter and dedup run on the same crawl (pages from `llm_pretrain.samples`, one task
per `--files-per-task` pages) with the local executor and with the Ray executor, 2 workers each
(a local Ray instance of 2 CPUs, started before the timing: its start-up of some seconds is
paid once per run and printed apart). Printed per stage: seconds, documents per second, the
ratio ray / local, the extra seconds per task, and the input per task (MB) above which that
overhead is under 5% of a task's own time on the local pool. Both runs must give the same
datasets; the benchmark checks it. Nothing is asserted about speed.

    .venv/bin/python benchmarks/scale.py [--pages 600 --files-per-task 25 --rounds 2]
"""

from __future__ import annotations

import os
import sys

# benchmarks/tokenize.py would shadow the standard library's tokenize while this folder is
# first on sys.path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse
import hashlib
import shutil
import statistics
import time
from pathlib import Path

from llm_pretrain.config import PipelineConfig, load_config
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.samples import article
from llm_pretrain.stages import run_dedup, run_extract, run_filter

WORK = Path(__file__).resolve().parent / "_work" / "scale"
STAGES = ("extract", "filter", "dedup")


def build_pages(folder: Path, count: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for index in range(count):
        page = folder / f"page-{index:05d}.html"
        page.write_text(article(index, seed=11).html, encoding="utf-8")
        size += page.stat().st_size
    return size


def run_stages(pages: Path, out: Path, config: PipelineConfig) -> dict[str, tuple[float, int]]:
    """Seconds and tasks of each stage."""
    shutil.rmtree(out, ignore_errors=True)
    timings = {}
    started = time.perf_counter()
    summary = run_extract([str(pages)], out / "extracted", config, show_progress=False)
    timings["extract"] = (time.perf_counter() - started, summary.stats["tasks"])
    started = time.perf_counter()
    summary = run_filter(out / "extracted", out / "filtered", config, show_progress=False)
    timings["filter"] = (time.perf_counter() - started, summary.stats["tasks"])
    started = time.perf_counter()
    summary = run_dedup(out / "filtered", out / "deduped", config, None, show_progress=False)
    timings["dedup"] = (time.perf_counter() - started, summary.stats["tasks"])
    return timings


def shard_digest(out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(out.rglob("*.parquet")):
        if "_progress" not in path.parts:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--files-per-task", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import ray

    pages = WORK / "pages"
    shutil.rmtree(WORK, ignore_errors=True)
    input_bytes = build_pages(pages, args.pages)
    config = load_config(None, {"extract.task_max_files": args.files_per_task})
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - started

    results: dict[str, dict[str, list[float]]] = {"local": {}, "ray": {}}
    tasks: dict[str, int] = {}
    digests = {}
    for _ in range(args.rounds):
        for kind in ("local", "ray"):  # interleaved, so both see the same machine load
            config.executor = ExecutorConfig(kind=kind, workers=2)
            out = WORK / "out"  # the same folder for both: paths are part of the output
            for stage, (seconds, count) in run_stages(pages, out, config).items():
                results[kind].setdefault(stage, []).append(seconds)
                tasks[stage] = count
            digests[kind] = shard_digest(out)
    ray.shutdown()

    same = "yes" if digests["local"] == digests["ray"] else "NO"
    print(f"{args.pages} pages, {input_bytes / 1e6:.1f} MB, {args.files_per_task} per extract task")
    print(f"ray start-up (once per run): {startup:.1f} s; same datasets: {same}\n")
    print(f"{'stage':8} {'tasks':>5} {'local s':>8} {'ray s':>7} {'ray/local':>9} "
          f"{'s/task':>7} {'MB/task for <5%':>16}")  # fmt: skip
    mb_per_task = input_bytes / 1e6 / tasks["extract"]
    for stage in STAGES:
        local = statistics.median(results["local"][stage])
        remote = statistics.median(results["ray"][stage])
        overhead = max(0.0, (remote - local) / tasks[stage])
        # local seconds per MB of a task's input, on one of the 2 workers
        per_mb = local * 2 / (mb_per_task * tasks[stage])
        threshold = overhead / (0.05 * per_mb) if per_mb else float("nan")
        print(
            f"{stage:8} {tasks[stage]:5d} {local:8.2f} {remote:7.2f} {remote / local:9.2f} "
            f"{overhead:7.3f} {threshold:16.2f}"
        )


if __name__ == "__main__":
    main()
