"""The Ray executor (a local Ray instance of 2 CPUs, started once for this module) writes what
the local executor writes, byte for byte; a task failing once, or losing its worker once, is
retried, one failing always is reported with its input."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from llm_pretrain.config import PipelineConfig, load_config
from llm_pretrain.corpus.refresh import refresh
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.extract import stage
from llm_pretrain.pipeline.extract.inputs import discover, plan_tasks
from llm_pretrain.pipeline.ray_executor import RayUnavailable, check_reachable
from llm_pretrain.pipeline.runner import DocumentStage, StageError, run_stage
from llm_pretrain.pipeline.stats import ExtractStats
from llm_pretrain.samples import build_sample
from llm_pretrain.stages import run_dedup, run_extract, run_filter, run_tokenize
from tests.corpus.test_refresh import SETTINGS, corpus_digest
from tests.pipeline.dedup.corpus import original, words_changed
from tests.pipeline.dedup.test_dedup_stage import extracted, first_batch

ray = pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[2]
STAGES = ("extracted", "filtered", "deduped", "tokens")


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    """One local instance for the module (starting one takes seconds); workers can import the
    test modules, whose task functions they run."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
    )
    yield
    ray.shutdown()


def on(kind: str, **settings: Any) -> PipelineConfig:
    config = load_config(None, {**SETTINGS, "executor.workers": 2})
    config.executor = ExecutorConfig(kind=kind, workers=2, **settings)
    return config


def run_chain(crawl: Path, work: Path, config: PipelineConfig) -> None:
    folders = [work / name for name in STAGES]
    run_extract([str(crawl)], folders[0], config, show_progress=False)
    run_filter(folders[0], folders[1], config, show_progress=False)
    run_dedup(folders[1], folders[2], config, work / "index", show_progress=False)
    run_tokenize(folders[2], folders[3], config, show_progress=False)


def dataset_digest(folder: Path) -> dict[str, Any]:
    """Every file's bytes, the manifest but its time, the stats' counts (not their timings)."""
    reports = ("_manifest.json", "_stats.json", "train_report.json", ".lock")  # hold times
    files = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in reports
    }
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest.pop("created_at")
    stats = json.loads((folder / "_stats.json").read_text())
    counts = ("documents", "rejected", "tokens", "lines")
    counted = {k: v for k, v in stats.items() if k in counts}
    return {"files": files, "manifest": manifest, "stats": counted}


def test_ray_writes_the_local_datasets_byte_for_byte(tmp_path):
    crawl = tmp_path / "crawl"
    build_sample(crawl, pages=16, pdfs=2, seed=4)
    (crawl / "pdfs" / "broken.pdf").write_bytes(b"%PDF-1.4 not a PDF")
    work = tmp_path / "work"  # both runs write here: paths are part of manifests and ids
    run_chain(crawl, work, on("local"))
    local = {name: dataset_digest(work / name) for name in STAGES}
    shutil.rmtree(work)
    run_chain(crawl, work, on("ray"))
    for name in STAGES:
        assert dataset_digest(work / name) == local[name], name
    assert local["extracted"]["manifest"]["counts"]["rejected"] >= 1


def test_refresh_on_ray_gives_the_local_corpus(tmp_path):
    crawl = tmp_path / "crawl"
    build_sample(crawl / "first", pages=10, pdfs=1, seed=5)
    corpus = tmp_path / "corpus"
    result = refresh(corpus, on("local"), [str(crawl)])
    assert result.outcome == "committed" and result.to_json()["executor"] == "local"
    local = corpus_digest(corpus)
    shutil.rmtree(corpus)
    result = refresh(corpus, on("ray"), [str(crawl)])
    assert result.outcome == "committed" and result.to_json()["executor"] == "ray"
    assert corpus_digest(corpus) == local


def test_dedup_on_ray_equals_dedup_locally(tmp_path):
    """Two batches against an index: the global step in 3 partitions as Ray tasks decides as
    the local one-process step (datasets, index parts and counts), line dedup included."""
    config = on("local")
    second = {f"new{i:02d}": original(100 + i) for i in range(6)}
    second.update(again5=original(5), near6=words_changed(original(6), 2, seed=6))
    inputs = [extracted(tmp_path, config, first_batch(), "ex1")]
    inputs.append(extracted(tmp_path, config, second, "ex2"))
    work = tmp_path / "work"
    digests = {}
    for kind in ("local", "ray"):
        config = on(kind)
        config.dedup.partitions = 3 if kind == "ray" else 0
        config.dedup.lines.mode = "keep_first"  # the shared footer goes from all but the first
        for n, source in enumerate(inputs):
            run_dedup(source, work / f"out{n}", config, work / "index", show_progress=False)
        index = json.loads((work / "index" / "_index.json").read_text())
        digests[kind] = [index, *(dataset_digest(work / f"out{n}") for n in range(2))]
        shutil.rmtree(work)
    assert digests["ray"] == digests["local"]
    assert digests["local"][2]["manifest"]["counts"]["rejected"] == 2
    assert all("lines" in part for part in digests["local"][0]["parts"])
    assert digests["local"][1]["stats"]["lines"]["units_removed"] >= 19


# Task functions of the failure tests; module level so that Ray workers can import them.
def fail_once(task, marker_dir: Path, **kwargs):
    """Fails the first attempt of every task (a flaky disk), then works."""
    marker = marker_dir / f"attempted-{task.index}"
    if not marker.exists():
        marker.touch()
        raise OSError("flaky disk")
    return stage.extract_task(task, **kwargs)


def die_once(task, marker_dir: Path, **kwargs):
    """Kills its own worker on the first attempt of every task (the OOM killer, a lost node)."""
    marker = marker_dir / f"attempted-{task.index}"
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return stage.extract_task(task, **kwargs)


def always_fail(task, **kwargs):
    raise OSError("disk full")


def extract_spec(pages: Path, out: Path, config: PipelineConfig, task_fn) -> DocumentStage:
    files, _ = discover([str(pages)])
    return DocumentStage(
        name="extract",
        output=out,
        tasks=plan_tasks(files, config.extract.task_max_files, config.extract.task_max_bytes),
        run_task=partial(task_fn, config=config.extract, output=out),
        on_failure=partial(stage.write_failed_task, output=out),
        config=stage.run_settings(config.extract),
        inputs=[f.to_json() for f in files],
        stats_type=ExtractStats,
    )


@pytest.mark.parametrize("failing", [fail_once, die_once])
def test_a_task_failing_once_is_retried_and_the_output_is_the_same(tmp_path, failing):
    pages = tmp_path / "crawl"
    build_sample(pages, pages=8, pdfs=2, seed=6)
    config = on("local")
    config.extract.task_max_files = 3
    out = tmp_path / "out"
    run_extract([str(pages)], out, config, show_progress=False)
    clean = dataset_digest(out)
    shutil.rmtree(out)

    markers = tmp_path / "markers"
    markers.mkdir()
    flaky = partial(failing, marker_dir=markers)
    spec = extract_spec(pages, out, config, flaky)
    summary = run_stage(spec, on("ray", retries=1).executor, show_progress=False)
    assert summary.tasks_run == len(spec.tasks) > 1
    assert len(list(markers.iterdir())) == len(spec.tasks)  # every task failed once
    assert dataset_digest(out) == clean


def test_a_task_that_keeps_failing_is_reported_with_its_input(tmp_path):
    pages = tmp_path / "crawl"
    build_sample(pages, pages=4, pdfs=0, seed=7)
    config = on("ray", retries=1)
    out = tmp_path / "out"
    spec = extract_spec(pages, out, config, always_fail)
    with pytest.raises(
        StageError, match=r"tasks failed \(task 0 \(.*crawl.*\): OSError: disk full"
    ):
        run_stage(spec, config.executor, show_progress=False)
    assert not (out / "_manifest.json").exists()


def test_an_unreachable_head_is_a_clear_error_at_once(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RayUnavailable, match=f"cannot reach the Ray head at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}")
    with pytest.raises(RayUnavailable, match="give auto or HOST:PORT"):
        check_reachable("nohost")
