"""The runner's own contract, on a stage written for the test (not one of the pipeline's): a
stage is one class, and the runner alone claims the output, resumes, refuses and commits."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from llm_pretrain.errors import StageError
from llm_pretrain.pipeline.executor import TaskFailure
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.runner import Commit, StageRun, run_stage
from llm_pretrain.storage import atomic_write_bytes

ONE_WORKER = ExecutorConfig(workers=1)


@dataclass(frozen=True)
class Square:
    index: int
    value: int
    input_bytes: int = 1

    def describe(self) -> str:
        return f"square of {self.value}"


@dataclass(frozen=True)
class Result:
    index: int
    square: int

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "square": self.square}


def square(task: Square, output: Path, fail_on: int | None = None) -> Result:
    """Worker side: write part-i.txt; a task told to fail raises (a task error)."""
    if task.index == fail_on:
        raise OSError("disk full")
    atomic_write_bytes(output / f"part-{task.index}.txt", str(task.value**2).encode())
    return Result(task.index, task.value**2)


def square_failed(task: Square, failure: TaskFailure) -> Result:
    raise StageError(f"task {task.index}: {failure.message}")


def count_attempt(folder: Path) -> dict[str, Any]:
    """An in-process phase that leaves a trace of each time it really runs."""
    (folder / "once-ran").mkdir(exist_ok=True)
    attempts = len(list((folder / "once-ran").iterdir()))
    (folder / "once-ran" / str(attempts)).touch()
    return {"attempt": attempts}


@dataclass
class Squares:
    """A stage of two phases: `once` then the tasks; it commits their sum."""

    output: Path
    values: list[int]
    fail_on: int | None = None
    trace: Path | None = None
    name: str = "squares"
    data_glob: str = "part-*.txt"
    data_folders: tuple[str, ...] = ("",)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def config(self) -> dict[str, Any]:
        return {"values": self.values}

    def clear(self, output: Path) -> None:
        for path in output.glob(self.data_glob):
            path.unlink()
        for name in ("_manifest.json", "_stats.json"):
            (output / name).unlink(missing_ok=True)
        shutil.rmtree(output / "_progress", ignore_errors=True)

    def run(self, run: StageRun) -> Commit:
        prepared = run.once("prepare", lambda: count_attempt(self.trace or run.progress_dir))
        tasks = [Square(i, v) for i, v in enumerate(self.values)]
        task = partial(square, output=self.output, fail_on=self.fail_on)
        results, ran = run.map(tasks, task, square_failed, phase="squares")
        total = sum(result["square"] for result in results)
        return Commit({"total": total}, {"total": total, "prepared": prepared}, ran, cards=False)


def test_a_stage_runs_commits_and_is_then_up_to_date(tmp_path):
    out = tmp_path / "out"
    first = run_stage(Squares(out, [1, 2, 3]), ONE_WORKER, show_progress=False)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["stage"] == "squares" and manifest["total"] == 14
    assert manifest["config"] == {"values": [1, 2, 3]} and manifest["fingerprint"]
    stats = json.loads((out / "_stats.json").read_text())
    assert stats["stage"] == "squares" and stats["total"] == 14 and "wall_seconds" in stats
    assert first.tasks_run == 3 and not (out / "_progress").exists()
    again = run_stage(Squares(out, [1, 2, 3]), ONE_WORKER, show_progress=False)
    assert again.up_to_date and again.tasks_run == 0 and again.manifest == manifest


def test_a_failed_run_resumes_with_the_tasks_and_phases_left(tmp_path):
    out, trace = tmp_path / "out", tmp_path / "trace"
    trace.mkdir()
    with pytest.raises(StageError, match=r"1 of 4 tasks failed .*disk full"):
        run_stage(Squares(out, [1, 2, 3, 4], fail_on=2, trace=trace), ONE_WORKER, False)
    assert not (out / "_manifest.json").exists()
    markers = sorted(p.name for p in (out / "_progress" / "squares").glob("task-*.json"))
    assert markers == ["task-00000.json", "task-00001.json", "task-00003.json"]
    resumed = run_stage(Squares(out, [1, 2, 3, 4], trace=trace), ONE_WORKER, False)
    assert resumed.tasks_run == 1 and resumed.manifest["total"] == 30
    assert resumed.stats["prepared"] == {"attempt": 0}  # `once` ran in the first attempt only
    assert len(list((trace / "once-ran").iterdir())) == 1


def test_other_settings_are_refused_and_overwrite_clears_only_the_stages_files(tmp_path):
    out = tmp_path / "out"
    run_stage(Squares(out, [1, 2]), ONE_WORKER, show_progress=False)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(StageError, match="made from other inputs or settings"):
        run_stage(Squares(out, [5]), ONE_WORKER, show_progress=False)
    summary = run_stage(Squares(out, [5]), ONE_WORKER, show_progress=False, overwrite=True)
    assert summary.manifest["total"] == 25
    assert sorted(p.name for p in out.glob("part-*.txt")) == ["part-0.txt"]
    assert (out / "notes.txt").read_text() == "mine"


def test_an_unfinished_run_of_other_settings_and_unknown_shards_are_refused(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(StageError):
        run_stage(Squares(out, [1, 2], fail_on=0), ONE_WORKER, show_progress=False)
    with pytest.raises(StageError, match="unfinished run with other inputs or settings"):
        run_stage(Squares(out, [7]), ONE_WORKER, show_progress=False)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "part-9.txt").write_text("?")
    with pytest.raises(StageError, match="shards of an unknown run"):
        run_stage(Squares(stray, [1]), ONE_WORKER, show_progress=False)


def test_overwrite_refuses_a_folder_that_holds_no_dataset(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(StageError, match="holds files that are not a dataset"):
        run_stage(Squares(out, [1]), ONE_WORKER, show_progress=False, overwrite=True)
    assert (out / "holiday.jpg").read_bytes() == b"\xff\xd8"
