"""What a Ray cluster costs next to the local executor on the same CPUs: `llm-data extract
filter dedup` of a generated crawl (news pages from `llm_pretrain.samples.article` in WARCs of
--per-warc pages, one task each; a page in 20 delivered twice), locally with 2 workers and on a
cluster that `ray.cluster_utils.Cluster` starts on this machine (a head without CPUs for tasks,
two worker nodes of one CPU each), joined by its address. Each run is a fresh `llm-data`
process, so its wall time includes imports and, on Ray, joining the cluster and starting
workers; the stages' own times are printed beside. Both runs must write the same shards
(checked). Nothing is asserted about speed.

    .venv/bin/python benchmarks/ray_cluster.py [--docs 3000] [--per-warc 250] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ray.cluster_utils import Cluster

from llm_pretrain.samples import article, write_warc

WORK = Path(__file__).resolve().parent / "_work" / "ray_cluster"
STAGES = ("extract", "filter", "dedup")
FOLDERS = ("extracted", "filtered", "deduped")
MB = 2**20


def build_crawl(folder: Path, docs: int, per_warc: int) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    pages = [article(index, seed=3) for index in range(docs)]
    pages += [article(index, seed=3) for index in range(0, docs, 20)]  # delivered twice
    for start in range(0, len(pages), per_warc):
        path = folder / f"crawl-{start // per_warc:03d}.warc.gz"
        write_warc(path, pages[start : start + per_warc], deterministic=True)


def run_chain(crawl: Path, out: Path, executor: list[str]) -> dict[str, Any]:
    """`llm-data extract filter dedup` in a fresh process: its wall time and JSON result."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "llm_pretrain", "extract", "-i", str(crawl), "filter",
               "dedup", "-o", str(out), "--json", "-q", *executor]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return {"seconds": seconds, "result": json.loads(done.stdout)}


def shards(out: Path) -> list[list[tuple[str, str]]]:
    """Every stage's kept and rejected shards, (file, sha256), from their manifests."""
    listed = []
    for folder in FOLDERS:
        manifest = json.loads((out / folder / "_manifest.json").read_text())
        entries = manifest["shards"] + manifest["rejected_shards"]
        listed.append([(entry["file"], entry["sha256"]) for entry in entries])
    return listed


def stage_times(result: dict[str, Any]) -> str:
    return "  ".join(f"{name} {result[name]['stats']['wall_seconds']:6.2f}" for name in STAGES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--per-warc", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    crawl, out = WORK / "crawl", WORK / "out"  # one output path: paths are part of manifests
    build_crawl(crawl, args.docs, args.per_warc)
    started = time.monotonic()
    cluster = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 0, "object_store_memory": 100 * MB, "include_dashboard": False},
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=100 * MB)
        cluster.wait_for_nodes()
        print(f"cluster of 3 nodes up in {time.monotonic() - started:.1f} s at {cluster.address}")
        variants = {
            "local, 2 workers": ["--executor", "local", "--workers", "2"],
            "ray, 2 nodes x 1 CPU": ["--executor", "ray", "--ray-address", cluster.address],
        }
        best: dict[str, dict[str, Any]] = {}
        written: dict[str, Any] = {}
        for _ in range(args.rounds):
            for name, executor in variants.items():
                run = run_chain(crawl, out, executor)
                written[name] = shards(out)
                if name not in best or run["seconds"] < best[name]["seconds"]:
                    best[name] = run
    finally:
        cluster.shutdown()
    local, ray = best.values()
    kept = local["result"]["dedup"]["counts"]["documents"]
    print(f"extract -> filter -> dedup of {args.docs + len(range(0, args.docs, 20))} pages "
          f"({kept} kept), best of {args.rounds}:")  # fmt: skip
    for name, run in best.items():
        print(f"  {name:22} {run['seconds']:7.2f} s   stages: {stage_times(run['result'])}")
    stages_local = sum(local["result"][name]["stats"]["wall_seconds"] for name in STAGES)
    stages_ray = sum(ray["result"][name]["stats"]["wall_seconds"] for name in STAGES)
    print(f"  ratio ray / local: {ray['seconds'] / local['seconds']:.2f}x wall, "
          f"{stages_ray / stages_local:.2f}x the stages' own time")  # fmt: skip
    same = len(set(map(repr, written.values()))) == 1
    print(f"  same shards on both: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
