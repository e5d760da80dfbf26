"""The Ray executor on a cluster of several nodes: `ray.cluster_utils.Cluster` starts a head
(no CPU for tasks) and two worker nodes of one CPU each on this machine, and the pipeline joins
it by its address as a user would (`--executor ray --ray-address HOST:PORT`, or
`executor.ray_address` in the config), in a process of its own. The document stages and
`refresh` write the datasets of a local run byte for byte, their tasks run on both worker
nodes, a worker node killed mid-stage costs only the retries of its tasks on the other, and
relative paths mean the same on the workers (which run in the nodes' folder) as for the
pipeline.

Which node ran what is read from the session's logs (the dashboard, and with it Ray's state
API, is off to keep the cluster small).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_pretrain.samples import article, build_sample, write_warc
from tests.corpus.test_refresh import SETTINGS, corpus_digest, write_pages
from tests.pipeline.test_ray_executor import dataset_digest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402  (after the importorskip)

MB = 2**20
NODE = {"num_cpus": 1, "object_store_memory": 80 * MB}
# A node whose raylet is killed is declared dead after about 3 s instead of Ray's 15-30 s.
FAST_HEALTH_CHECKS = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 1000,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}
CHAIN = ("extracted", "filtered", "deduped")
OPTIONS = ["--set", "extract.min_chars=20", "--set", "extract.task_max_files=4", "-q"]
LOCAL = ["--executor", "local", "--workers", "2"]
TASK_TITLE = "ray::_with_time_limit"  # a Ray worker's process title while it runs one of ours
TASK_LINE = ":task_name:_with_time_limit"  # what a Ray worker prints as it starts one
WORKER_NODE = re.compile(r"worker_id=(?P<worker>[0-9a-f]+) node_id=(?P<node>[0-9a-f]+)")


@contextlib.contextmanager
def working_in(folder: Path) -> Iterator[None]:
    """The block in `folder` (contextlib.chdir, from Python 3.11): a node started in it, and
    so its workers, run there."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """A head without CPUs (tasks go to the worker nodes only) and two worker nodes, all in a
    folder of their own, as on machines of their own, not in the pipeline's."""
    folder = tmp_path_factory.mktemp("nodes")
    with working_in(folder):
        cluster = Cluster(
            initialize_head=True,
            connect=False,  # the pipeline connects, in its own process
            head_node_args={
                "num_cpus": 0,
                "object_store_memory": 80 * MB,
                "include_dashboard": False,
                "_system_config": FAST_HEALTH_CHECKS,
            },
        )
    cluster.nodes_folder = folder
    try:
        for _ in range(2):
            add_node(cluster)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def add_node(cluster: Cluster) -> None:
    with working_in(cluster.nodes_folder):
        cluster.add_node(**NODE)


def worker_nodes(cluster: Cluster) -> list[Any]:
    return sorted(cluster.worker_nodes, key=lambda node: node.node_id)


def ray_options(cluster: Cluster) -> list[str]:
    return ["--executor", "ray", "--ray-address", cluster.address]


def llm_data(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    """Run `llm-data ARGS --json` in a process of its own; its result, and `seconds` (wall)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "llm_pretrain", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {**json.loads(done.stdout), "seconds": time.monotonic() - started}


def task_starts(cluster: Cluster) -> Counter[str]:
    """Our Ray tasks started so far, by node id: every worker's stdout file gets a line for each
    task it starts, and its core-worker log names its node."""
    logs = Path(cluster.head_node.get_session_dir_path()) / "logs"
    node_of = {}
    for log in logs.glob("python-core-worker-*.log"):
        found = WORKER_NODE.search(log.read_text(errors="replace"))
        if found:
            node_of[found["worker"]] = found["node"]
    starts: Counter[str] = Counter()
    for out in logs.glob("worker-*.out"):
        worker = out.name.split("-")[1]
        starts[node_of.get(worker, "unknown")] += out.read_text(errors="replace").count(TASK_LINE)
    return starts


def children(pid: int) -> dict[int, str]:
    """The child processes of `pid` (a raylet's: its Ray workers and agents) and their titles."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                title = (proc / "cmdline").read_bytes().split(b"\0")[0]
                found[int(proc.name)] = title.decode(errors="replace")
    return found


def running_task(raylet: int) -> bool:
    """Whether a worker of this raylet runs one of our tasks (Ray titles it by the function)."""
    return TASK_TITLE in children(raylet).values()


def since(before: Counter[str], after: Counter[str]) -> Counter[str]:
    return Counter(
        {node: after[node] - before[node] for node in after if after[node] > before[node]}
    )


def build_crawl(folder: Path, warcs: int = 6, per_warc: int = 16) -> Path:
    """WARCs (one task each), loose pages (tasks of 4) and a PDF that is not one: exact and
    near duplicates across files, so across tasks and nodes, for dedup."""
    for n in range(warcs):
        items = [article(n * per_warc + i, seed=21) for i in range(per_warc)]
        if n:
            items.append(article(0, seed=21))  # an exact duplicate of the first WARC's
        write_warc(folder / "warcs" / f"crawl-{n:02d}.warc.gz", items, deterministic=True)
    pages = folder / "pages"
    pages.mkdir(parents=True)
    for index in range(8):
        item = article(100 + index, seed=21)
        (pages / f"page-{index:02d}.html").write_text(item.html, encoding="utf-8")
    near = article(1, seed=21)
    first = near.paragraphs[0]
    changed = first.replace(" ", " quite ", 1)  # one word more: a near duplicate
    (pages / "page-near.html").write_text(near.html.replace(first, changed), encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not a PDF")
    return folder


def digests(work: Path, names: tuple[str, ...] = CHAIN) -> dict[str, dict[str, Any]]:
    return {name: dataset_digest(work / name) for name in names}


def stage_seconds(result: dict[str, Any]) -> str:
    stages = ("extract", "filter", "dedup")
    return ", ".join(f"{name} {result[name]['stats']['wall_seconds']:.2f} s" for name in stages)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict[str, Any]:
    """The crawl, the work folder every run writes (paths are part of manifests and ids) and
    the datasets of a local run of extract, filter and dedup into it."""
    root = tmp_path_factory.mktemp("cluster")
    crawl = build_crawl(root / "crawl")
    work = root / "work"
    llm_data("extract", "-i", str(crawl), "filter", "dedup", "-o", str(work), *OPTIONS, *LOCAL)
    reference = digests(work)
    shutil.rmtree(work)
    return {"crawl": crawl, "work": work, "reference": reference}


def run_chain(site: dict[str, Any], *executor: str) -> dict[str, Any]:
    shutil.rmtree(site["work"], ignore_errors=True)
    chain = ["extract", "-i", str(site["crawl"]), "filter", "dedup", "-o", str(site["work"])]
    return llm_data(*chain, *OPTIONS, *executor)


def test_the_chain_on_the_cluster_writes_the_local_datasets_on_both_nodes(cluster, site):
    """extract -> filter -> dedup joined by `--ray-address`: every file of the three datasets
    as the local run's, and tasks on both worker nodes."""
    before = task_starts(cluster)
    result = run_chain(site, *ray_options(cluster))
    assert digests(site["work"]) == site["reference"]
    extracted = site["reference"]["extracted"]["manifest"]
    assert len(extracted["shards"]) >= 8  # 6 WARCs, 9 pages by 4
    assert extracted["counts"]["rejected"] >= 1  # the broken PDF
    deduped = site["reference"]["deduped"]["manifest"]["counts"]
    assert deduped["rejected"] == 6  # the 5 copies of the first WARC's page, the near one
    ran = since(before, task_starts(cluster))
    nodes = {node.node_id for node in worker_nodes(cluster)}
    assert set(ran) == nodes, ran  # both worker nodes, nothing elsewhere (the head has no CPU)
    tasks = sum(result[name]["tasks_run"] for name in ("extract", "filter", "dedup"))
    assert sum(ran.values()) >= tasks


def test_refresh_on_the_cluster_gives_the_local_corpus(cluster, tmp_path):
    """Two batches (the second deduplicated against the first's index); the cluster's address
    in the config file, as a cron job would have it; --executor local overrides it."""
    inbox = tmp_path / "inbox"
    build_sample(inbox / "first", pages=12, pdfs=2, seed=1)
    (inbox / "first" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF at all")
    config = tmp_path / "pipeline.yaml"
    sections: dict[str, dict[str, Any]] = {"executor": {"kind": "ray"}}
    sections["executor"]["ray_address"] = cluster.address
    for key, value in SETTINGS.items():
        section, name = key.split(".", 1)
        sections.setdefault(section, {})[name] = value
    config.write_text(json.dumps(sections))  # JSON is YAML
    corpus = tmp_path / "corpus"
    command = ["refresh", "--workdir", str(corpus), "--input", str(inbox), "-c", str(config)]
    second = inbox / "second"

    def two_batches(*executor: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        shutil.rmtree(second, ignore_errors=True)
        results = [llm_data(*command, *executor)]
        write_pages(second, seed=2, count=4)
        page = (inbox / "first" / "pages" / "page-000.html").read_text(encoding="utf-8")
        (second / "again.html").write_text(page + "<!-- again -->", encoding="utf-8")
        results.append(llm_data(*command, *executor))
        return results, corpus_digest(corpus)

    local, expected = two_batches(*LOCAL)
    shutil.rmtree(corpus)
    before = task_starts(cluster)
    on_ray, got = two_batches()
    assert [r["executor"] for r in local + on_ray] == ["local"] * 2 + ["ray"] * 2
    assert [r["outcome"] for r in on_ray] == ["committed"] * 2
    assert got == expected
    assert on_ray[1]["version"] == 2 and len(expected["ids"]) == 6  # 2 batches of 3 stages
    assert on_ray[1]["batch"]["dedup"]["rejected"] == 1  # the first batch's page again
    assert set(since(before, task_starts(cluster))) == {n.node_id for n in worker_nodes(cluster)}


def test_a_worker_node_killed_mid_stage_costs_only_retries(cluster, site):
    """One worker node lost (SIGKILL of its raylet and of its workers at once, as when its
    machine goes) while it runs an extract task, once some tasks are done: the task it held
    runs again on the other node (Ray's retries, executor.retries 2), and the dataset is the
    local run's, with nothing of the lost attempt left in it."""
    work = site["work"]
    shutil.rmtree(work, ignore_errors=True)
    out = work / "extracted"
    command = [sys.executable, "-m", "llm_pretrain", "extract", "-i", str(site["crawl"]),
               "-o", str(out), *OPTIONS, *ray_options(cluster)]  # fmt: skip
    raylets = {node: node.all_processes["raylet"][0].process.pid for node in worker_nodes(cluster)}
    before = task_starts(cluster)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = None
    try:
        deadline = time.monotonic() + 60
        while victim is None:
            assert process.poll() is None, "extract finished before a node could be killed"
            assert time.monotonic() < deadline
            if len(list(out.glob("_progress/task-*.json"))) >= 2:
                busy = [node for node, raylet in raylets.items() if running_task(raylet)]
                victim = busy[0] if busy else None
            time.sleep(0.005)
        done_at_kill = len(list(out.glob("_progress/task-*.json")))
        raylet = raylets[victim]
        for pid in [raylet, *children(raylet)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        cluster.remove_node(victim, allow_graceful=False)  # the node's other processes
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if victim is not None and victim not in cluster.worker_nodes:  # two again, as before
            add_node(cluster)
    assert process.returncode == 0, stderr[-3000:]
    reference = site["reference"]["extracted"]
    tasks = len(reference["manifest"]["shards"])
    assert done_at_kill < tasks, "the node was killed after the last task"
    leftovers = sorted(str(p.relative_to(out)) for p in out.rglob(".*.tmp-*"))
    got = dataset_digest(out)
    got["files"] = {name: sha for name, sha in got["files"].items() if ".tmp-" not in name}
    assert got == reference
    ran = since(before, task_starts(cluster))
    (survivor,) = set(raylets) - {victim}
    assert ran[victim.node_id] >= 1 and ran[survivor.node_id] >= 1, ran
    assert sum(ran.values()) > tasks, ran  # the task lost with the node ran again
    assert not leftovers, f"the lost task's temporary shards are left in the dataset: {leftovers}"


def test_the_overhead_of_the_cluster(cluster, site):
    """Printed (pytest -s), not asserted: the chain locally with 2 workers and on the cluster
    (2 worker nodes of 1 CPU), each in a fresh process (imports and joining the cluster
    included in the wall time; the stages' own times beside)."""
    local = run_chain(site, *LOCAL)
    assert digests(site["work"]) == site["reference"]
    on_ray = run_chain(site, *ray_options(cluster))
    assert digests(site["work"]) == site["reference"]
    ratio = on_ray["seconds"] / local["seconds"]
    documents = site["reference"]["extracted"]["manifest"]["counts"]["documents"]
    print(
        f"\nextract+filter+dedup of {documents} documents: "
        f"local 2 workers {local['seconds']:.2f} s ({stage_seconds(local)}); "
        f"cluster 3 nodes {on_ray['seconds']:.2f} s ({stage_seconds(on_ray)}); "
        f"ratio {ratio:.2f}x"
    )


def test_relative_paths_name_the_pipeline_folders_files_on_every_node(cluster, site):
    """The nodes run in a folder of their own (on a real cluster: ray start, anywhere), the
    pipeline in another: a relative --input and --output name the same files on the workers
    as for the pipeline (the filesystem is shared), so the dataset is the local run's."""
    root = site["crawl"].parent
    args = ["extract", "-i", "crawl", "-o", "relative", *OPTIONS]
    llm_data(*args, *LOCAL, cwd=root)
    expected = dataset_digest(root / "relative")
    shutil.rmtree(root / "relative")
    llm_data(*args, *ray_options(cluster), cwd=root)
    assert dataset_digest(root / "relative") == expected
    assert expected["manifest"]["counts"]["documents"] > 0
