"""A stage killed at any moment and run again gives exactly the uninterrupted output."""

import json
import os
import time
from functools import partial
from pathlib import Path

import pytest

from llm_pretrain.pipeline import runner
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.extract import stage
from llm_pretrain.pipeline.extract.inputs import discover, plan_tasks
from llm_pretrain.pipeline.runner import DocumentStage, StageError, run_stage
from llm_pretrain.pipeline.stats import ExtractStats
from llm_pretrain.samples import article
from llm_pretrain.stages import run_extract
from tests.pipeline.helpers import assert_kill_and_rerun_is_identical, shard_checksums


def pool(workers: int, timeout_s: float) -> ExecutorConfig:
    return ExecutorConfig(workers=workers, task_timeout_s=timeout_s)


def many_pages(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"p{index:03d}.html").write_text(article(index).html, encoding="utf-8")
    return folder


def test_crash_before_commit_then_partial_state_is_repaired(tmp_path, config, monkeypatch):
    pages = many_pages(tmp_path / "pages", 12)
    config.extract.task_max_files = 2
    clean = tmp_path / "clean"
    run_extract([str(pages)], clean, config, show_progress=False)

    out = tmp_path / "out"

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the tasks, before the commit

    monkeypatch.setattr(runner, "_commit", die)
    with pytest.raises(KeyboardInterrupt):
        run_extract([str(pages)], out, config, show_progress=False)
    monkeypatch.undo()
    assert not (out / "_manifest.json").exists()
    # Make the state as messy as a kill can: lost markers, a half-written shard, a temporary.
    for marker in ["task-00001.json", "task-00004.json"]:
        (out / "_progress" / marker).unlink()
    (out / "part-00001.parquet").write_bytes(b"half a shard")
    (out / ".part-00004.parquet.tmp-999").write_bytes(b"junk")

    resumed = run_extract([str(pages)], out, config, show_progress=False)
    assert resumed.tasks_run == 2
    assert shard_checksums(out) == shard_checksums(clean)
    assert read_table(out).equals(read_table(clean))
    hidden = sorted(p.name for p in out.glob(".*"))
    assert hidden == [".huggingface.yaml", ".lock"]  # no temporaries: the card and the lock


def test_killed_process_rerun_gives_identical_output(tmp_path):
    pages = many_pages(tmp_path / "pages", 80)
    args = ["extract", "--input", str(pages), "--task-max-files", "1", "--workers", "1", "-q"]
    out = assert_kill_and_rerun_is_identical(args, tmp_path)
    assert read_table(out).equals(read_table(tmp_path / "clean"))


# Task functions for the failure tests; module level so that worker processes can load them.
def crash_on_first(task, **kwargs):
    if task.index == 0:
        os._exit(3)
    return stage.extract_task(task, **kwargs)


def hang_on_first(task, **kwargs):
    if task.index == 0:
        time.sleep(60)
    return stage.extract_task(task, **kwargs)


def raise_on_first(task, **kwargs):
    if task.index == 0:
        raise OSError("disk full")
    return stage.extract_task(task, **kwargs)


def make_spec(pages: Path, out: Path, config, task_fn) -> DocumentStage:
    files, _ = discover([str(pages)])
    out.mkdir(parents=True, exist_ok=True)
    return DocumentStage(
        name="extract",
        output=out,
        tasks=plan_tasks(files, 2, 10**9),
        run_task=partial(task_fn, config=config.extract, output=out),
        on_failure=partial(stage.write_failed_task, output=out),
        config=config.extract.model_dump(),
        inputs=[f.to_json() for f in files],
        stats_type=ExtractStats,
    )


@pytest.mark.parametrize(
    "task_fn, reason", [(crash_on_first, "worker_crash"), (hang_on_first, "task_timeout")]
)
def test_dead_or_hung_worker_becomes_rejections(tmp_path, config, task_fn, reason):
    pages = many_pages(tmp_path / "pages", 4)
    out = tmp_path / "out"
    summary = run_stage(make_spec(pages, out, config, task_fn), pool(2, 3.0), show_progress=False)
    rejected = read_table(out, rejected=True).to_pylist()
    assert [row["reason"] for row in rejected] == [f"extract_error:{reason}"] * 2
    assert {Path(row["source"]).name for row in rejected} == {"p000.html", "p001.html"}
    assert summary.manifest["counts"] == {"documents": 2, "rejected": 2}
    assert len(summary.stats["input_errors"]) == 2


def test_task_error_fails_the_run_and_a_rerun_retries(tmp_path, config):
    pages = many_pages(tmp_path / "pages", 4)
    out = tmp_path / "out"
    with pytest.raises(
        StageError,
        match=r"1 of 2 tasks failed \(task 0 \(.*p000.html, .*p001.html\): OSError: disk full\)",
    ):
        run_stage(make_spec(pages, out, config, raise_on_first), pool(1, 60), show_progress=False)
    assert not (out / "_manifest.json").exists()
    assert json.loads((out / "_progress" / "task-00001.json").read_text())["index"] == 1
    summary = run_stage(
        make_spec(pages, out, config, stage.extract_task), pool(1, 60), show_progress=False
    )
    assert summary.tasks_run == 1
    assert summary.manifest["counts"] == {"documents": 4, "rejected": 0}
