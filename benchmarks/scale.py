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

import argparse
import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

from corpus_crawl import sample_pages
from harness import Column, Table, interleaved, median

from llm_pretrain.config import PipelineConfig, load_config
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.stages import run_dedup, run_extract, run_filter

WORK = Path(__file__).resolve().parent / "_work" / "scale"
STAGES = ("extract", "filter", "dedup")
TABLE = Table(
    Column("stage", 8, left=True),
    Column("tasks", 5, "d"),
    Column("local s", 8, ".2f"),
    Column("ray s", 7, ".2f"),
    Column("ray/local", 9, ".2f"),
    Column("s/task", 7, ".3f"),
    Column("MB/task for <5%", 16, ".2f"),
    rule=False,
    sep=" ",
)


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


def on_executor(kind: str, pages: Path, config: PipelineConfig) -> dict[str, Any]:
    """The three stages on one executor, 2 workers, into the same folder for both kinds (paths
    are part of the output); seconds and tasks of each stage, and the datasets' digest."""
    config.executor = ExecutorConfig(kind=kind, workers=2)
    out = WORK / "out"
    stages = run_stages(pages, out, config)
    seconds = sum(stage_seconds for stage_seconds, _ in stages.values())
    return {"seconds": seconds, "stages": stages, "digest": shard_digest(out)}


def shard_digest(out: Path) -> str:
    """One digest of all the Parquet shards the stages wrote, progress files left out."""
    digest = hashlib.sha256()
    for path in sorted(out.rglob("*.parquet")):
        if "_progress" not in path.parts:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def main() -> None:
    """Both executors in interleaved rounds (so that both see the same machine load); the
    median seconds of each stage side by side."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--files-per-task", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import ray

    pages = WORK / "pages"
    shutil.rmtree(WORK, ignore_errors=True)
    input_bytes = sample_pages(pages, args.pages)
    config = load_config(None, {"extract.task_max_files": args.files_per_task})
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - started

    runs = interleaved(("local", "ray"), args.rounds, lambda kind: on_executor(kind, pages, config))
    ray.shutdown()
    tasks = {stage: count for stage, (_, count) in runs["ray"][-1]["stages"].items()}

    same = "yes" if runs["local"][-1]["digest"] == runs["ray"][-1]["digest"] else "NO"
    print(f"{args.pages} pages, {input_bytes / 1e6:.1f} MB, {args.files_per_task} per extract task")
    print(f"ray start-up (once per run): {startup:.1f} s; same datasets: {same}\n")
    TABLE.header()
    mb_per_task = input_bytes / 1e6 / tasks["extract"]
    for stage in STAGES:
        local = median(run["stages"][stage][0] for run in runs["local"])
        remote = median(run["stages"][stage][0] for run in runs["ray"])
        overhead = max(0.0, (remote - local) / tasks[stage])
        # local seconds per MB of a task's input, on one of the 2 workers
        per_mb = local * 2 / (mb_per_task * tasks[stage])
        threshold = overhead / (0.05 * per_mb) if per_mb else float("nan")
        TABLE.row(stage, tasks[stage], local, remote, remote / local, overhead, threshold)


if __name__ == "__main__":
    main()
