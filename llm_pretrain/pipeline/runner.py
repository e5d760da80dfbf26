"""The one runner of every stage: claim the output, resume or refuse, run the phases, commit.

A stage (the `Stage` protocol: extract, filter and dedup as `DocumentStage`s, tokenize) says
what names its run (config and inputs: the fingerprint), what it writes, and how its phases go;
the runner owns everything else. It holds the output's lock, refuses what it must not touch,
finds a finished run up to date, and resumes an unfinished one of the same fingerprint: every
task of a phase (`StageRun.map`) leaves a done-marker `_progress/[PHASE/]task-i.json` with its
result, every in-process step (`StageRun.once`) a `_progress/NAME.json`, and a rerun skips
what has a marker. Tasks are deterministic, so the result is the one an uninterrupted run
gives. Last it writes `_stats.json` and `_manifest.json`, the commit point, and removes
`_progress/`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq

from llm_pretrain import __version__
from llm_pretrain.errors import NotFound, StageError, must_exist
from llm_pretrain.pipeline.dataset import (
    HF_YAML,
    LEGACY_REJECTED_DIR,
    MANIFEST,
    README,
    REJECTED_DIR,
    SHARD_GLOB,
    STATS,
    card_is_ours,
    open_shard,
    read_manifest,
    write_cards,
)
from llm_pretrain.pipeline.documents import SCHEMA_VERSION
from llm_pretrain.pipeline.executor import TaskFailure, build_executor
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.pipeline.outputs import dangling_problem, foreign_entries, overlap_problem
from llm_pretrain.pipeline.progress import ProgressBar
from llm_pretrain.pipeline.stats import DocumentStats
from llm_pretrain.remote.folders import StoreFolder
from llm_pretrain.remote.stores import is_url, join
from llm_pretrain.storage import (
    atomic_write_json,
    read_json,
    remove_stale_temporaries,
    remove_tree,
)

log = logging.getLogger(__name__)
PROGRESS_DIR = "_progress"
OUTPUT_LOCK = ".lock"  # held by the run writing the folder (see pipeline/lock.py)


class Task(Protocol):
    """One unit of a phase: its place in the phase (names its done-marker), the bytes it reads
    (the progress bar), and what it reads in words (error messages)."""

    index: int
    input_bytes: int

    def describe(self) -> str: ...


@dataclass(frozen=True)
class ShardTask:
    """A task of a stage that reads a dataset: shard `index` of the input makes shard `index`
    of the output. `sha256` and `rows` are the manifest's, checked before the shard is read."""

    index: int
    shard: str
    input_bytes: int
    sha256: str | None = None
    rows: int | None = None

    def open(self) -> pq.ParquetFile:
        """The input shard, verified against its manifest (`DamagedShard` if it is not it)."""
        return open_shard(self.shard, self.input_bytes, self.sha256, self.rows)

    def describe(self) -> str:
        return self.shard


@dataclass(frozen=True)
class InputDataset:
    """A finished dataset a stage reads, as its manifest describes it."""

    path: Path | str  # a folder, or a store URL
    manifest: dict[str, Any]

    def tasks(self) -> list[ShardTask]:
        return [
            ShardTask(i, self.file(s["file"]), s["bytes"], s["sha256"], s["rows"])
            for i, s in enumerate(self.manifest["shards"])
        ]

    def file(self, name: str) -> str:
        return str(self.path / name) if isinstance(self.path, Path) else join(self.path, name)

    def identity(self) -> dict[str, Any]:
        """What the reading stage's manifest records (and fingerprints) of this input."""
        return {
            "path": str(self.path),
            "stage": self.manifest["stage"],
            "fingerprint": self.manifest["fingerprint"],
            "shards": [shard["sha256"] for shard in self.manifest["shards"]],
        }


def read_input_dataset(folder: Path | str) -> InputDataset:
    """A finished document dataset; every shard it lists is there with its size (the tasks
    check each one's sha256 and rows before reading it). `folder` may be a store URL."""
    if is_url(folder):
        store = StoreFolder(str(folder))
        sizes = store.files()
        manifest = store.read_json(MANIFEST) if MANIFEST in sizes else None
        if not sizes:
            raise NotFound(f"input dataset {folder} does not exist")
    else:
        must_exist(Path(folder), "input dataset")
        manifest = read_manifest(Path(folder))
        sizes = None
    if manifest is None:
        raise StageError(f"{folder} is not a finished dataset (no {MANIFEST})")
    if not isinstance(manifest, dict) or not _lists_shards(manifest):
        if isinstance(manifest, dict) and "shards" not in manifest:
            raise StageError(f"{folder} holds {manifest.get('stage')} output, not documents")
        raise StageError(f"{join(str(folder), MANIFEST)} is not a dataset manifest (edited?)")
    for shard in manifest["shards"]:
        if sizes is not None:
            size = sizes.get(shard["file"])
            path: Path | str = join(str(folder), shard["file"])
        else:
            path = Path(folder) / shard["file"]
            size = path.stat().st_size if path.is_file() else None
        if size != shard["bytes"]:
            found = "is missing" if size is None else f"is {size:,} bytes"
            raise StageError(
                f"{path} {found}, its manifest says {shard['bytes']:,}; it changed after its "
                "dataset was written; rebuild the dataset"
            )
    return InputDataset(folder if sizes is not None else Path(folder), manifest)


def _lists_shards(manifest: dict[str, Any]) -> bool:
    """Whether a manifest lists its shards as the stages write them."""
    keys = {"file": str, "bytes": int, "sha256": str, "rows": int}
    shards = manifest.get("shards")
    return isinstance(shards, list) and all(
        isinstance(shard, dict) and all(isinstance(shard.get(k), t) for k, t in keys.items())
        for shard in shards
    )


def shard_task_failed(task: ShardTask, failure: TaskFailure) -> TaskResult:
    """A shard whose worker died or hung would do the same on a rerun of the task: stop."""
    raise StageError(
        f"{task.shard}: {failure.message}; "
        "finished shards are kept, run the same command again to retry"
    )


@dataclass
class TaskResult:
    """What one finished task leaves behind: its two shards and its stats (a `DocumentStats`
    of its stage, as JSON)."""

    index: int
    shard: dict[str, Any]
    rejected_shard: dict[str, Any]
    stats: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "shard": self.shard,
            "rejected_shard": self.rejected_shard,
            "stats": self.stats,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        return cls(data["index"], data["shard"], data["rejected_shard"], data["stats"])


@dataclass(frozen=True)
class Retry:
    """What `on_failure` returns to run a task again in another form (the document its worker
    died on skipped): it goes into the next round of the pool."""

    task: Any


@dataclass
class Commit:
    """What a stage's run leaves for the runner to write: its part of the manifest (after the
    header every manifest has), its stats, whether the folder gets dataset cards, and how many
    of its tasks ran now (those its stats count)."""

    manifest: dict[str, Any]
    stats: dict[str, Any]
    tasks_run: int
    cards: bool = True


@dataclass
class StageRun:
    """One attempt at a stage, as the stage's phases see it: where to keep resumable state,
    where tasks run, and the two ways a phase runs."""

    name: str
    progress_dir: Path
    executor: ExecutorConfig
    show_progress: bool

    def map(
        self,
        tasks: Sequence[Task],
        run_task: Callable[[Any], Outcome],
        on_failure: Callable[[Any, TaskFailure], Outcome | Retry],
        phase: str = "",
    ) -> tuple[list[dict[str, Any]], int]:
        """Run a phase's tasks on the executor, resumably (markers under `_progress/PHASE/`);
        every task's result as JSON, in task order, and how many ran now."""
        done, ran = run_resumable(
            tasks,
            run_task,
            on_failure,
            self.progress_dir / phase if phase else self.progress_dir,
            description=f"{self.name} {phase.rsplit('/', 1)[-1]}" if phase else self.name,
            executor=self.executor,
            show_progress=self.show_progress,
        )
        return [done[task.index] for task in tasks], ran

    def once(self, name: str, step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """An in-process phase: its result, from `_progress/NAME.json` when an earlier attempt
        finished it."""
        marker = self.progress_dir / f"{name}.json"
        if not marker.exists():
            atomic_write_json(marker, step())
        return read_json(marker)


class Stage(Protocol):
    """What the runner needs of a stage (see the module's docstring)."""

    name: str
    output: Path
    config: dict[str, Any]  # the stage's effective config, as written into the manifest
    inputs: list[dict[str, Any]]  # input files or datasets, as written into the manifest
    data_glob: str  # its data files: ones of an unknown run are refused, never mixed in
    data_folders: tuple[str, ...]  # folders it writes files into (for stale temporaries)

    def clear(self, output: Path) -> None:
        """Remove what this stage writes into `output`, nothing else."""
        ...

    def run(self, run: StageRun) -> Commit:
        """Run the phases; what to commit."""
        ...


@dataclass
class DocumentStage:
    """A stage that writes a document dataset, one task per output shard (extract, filter,
    dedup): each task writes shard i of the kept and of the rejected folder and returns a
    `TaskResult`; `prepare` is a global step that runs first (dedup's signatures and clusters),
    whose stats are added to the tasks'."""

    name: str
    output: Path
    tasks: Sequence[Task]
    run_task: Callable[[Any], TaskResult]  # picklable; runs in a worker process
    on_failure: Callable[[Any, TaskFailure], TaskResult | Retry]  # runs in the parent
    config: dict[str, Any]
    inputs: list[dict[str, Any]]
    # What its tasks count: named by every stage, since a narrower type would drop the
    # counts it does not know (extract's input errors) from _stats.json without a word.
    stats_type: type[DocumentStats]
    extra_stats: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[StageRun], dict[str, Any]] | None = None
    data_glob: str = SHARD_GLOB
    data_folders: tuple[str, ...] = ("", REJECTED_DIR)
    publish_to: str | None = None  # the object-store URL `output` (a staging folder) goes to

    def clear(self, output: Path) -> None:
        clear_output(output)

    def run(self, run: StageRun) -> Commit:
        extra_stats = dict(self.extra_stats)
        if self.prepare is not None:
            merge_stats(extra_stats, self.prepare(run))
        tasks_started = time.monotonic()
        done, ran = run.map(self.tasks, self.run_task, self.on_failure)
        results = [TaskResult.from_json(result) for result in done]
        extra_stats["task_seconds"] = round(time.monotonic() - tasks_started, 3)  # this attempt's
        total = self.stats_type()
        for result in results:
            total.add(self.stats_type.from_json(result.stats))
        stats = merge_stats(total.to_json(), extra_stats)
        stats["tasks"] = len(results)
        shards = [result.shard for result in results]
        rejected = [result.rejected_shard for result in results]
        manifest = {
            "counts": {
                "documents": sum(shard["rows"] for shard in shards),
                "rejected": sum(shard["rows"] for shard in rejected),
            },
            "bytes": sum(shard["bytes"] for shard in shards),
            "shards": shards,
            "rejected_shards": rejected,
        }
        return Commit(manifest, stats, tasks_run=ran)


def fingerprints(stage: Stage) -> tuple[str, list[str]]:
    """The stage's fingerprint, and those earlier versions gave the same run."""
    return (
        stage_fingerprint(stage.name, stage.config, stage.inputs),
        earlier_fingerprints(stage.name, stage.config, stage.inputs),
    )


def stage_fingerprint(stage: str, config: dict[str, Any], inputs: list[dict[str, Any]]) -> str:
    """Names a run by what determines its output: a rerun with the same one resumes it or
    finds it done; another one must not mix with it. A dataset or a tokenizer given as input
    counts by its checksums, not by where it lies (`-i ex` and `-i /abs/ex`, a copied work
    folder); a file to extract counts by its path too (documents' ids hold it)."""
    return _sha256({"stage": stage, "config": config, "inputs": [_what(i) for i in inputs]})


@dataclass(frozen=True)
class AddedKey:
    """A config key added since fingerprints were first written. Fingerprints of the versions
    before `version` leave it out, so that their outputs stay up to date and their unfinished
    runs resume, as long as the key's value behaves as those versions did (`as_before`, given
    the key's value and the stage's whole config)."""

    stage: str
    path: tuple[str, ...]
    version: int
    as_before: Callable[[Any, dict[str, Any]], bool]


# Version 0: 0.1.0 up to issue 18 (input datasets by the path as typed); 1: issues 19-21;
# 2: issue 22 (decontamination, the HTML engine, the extract prefilter).
FINGERPRINT_VERSION = 2
ADDED_KEYS = [
    AddedKey("filter", ("pii", "mask_bare_digit_runs"), 1, lambda value, _: value is False),
    AddedKey("extract", ("html", "engine"), 2, lambda value, _: value == "trafilatura"),
    AddedKey(
        "extract",
        ("prefilter",),
        2,
        lambda value, _: not value.get("url_blocklist") and not value.get("language"),
    ),
    AddedKey(
        "filter",
        ("decontaminate",),
        2,
        lambda _, config: "decontaminate" not in config.get("steps", []),
    ),
]


def earlier_fingerprints(
    stage: str, config: dict[str, Any], inputs: list[dict[str, Any]]
) -> list[str]:
    """The fingerprints earlier versions gave this run, newest first, where they differ from
    today's: their outputs stay up to date and their unfinished runs are started again instead
    of refused."""
    current = stage_fingerprint(stage, config, inputs)
    result = []
    for version in range(FINGERPRINT_VERSION - 1, -1, -1):
        before = json.loads(json.dumps(config))
        for key in ADDED_KEYS:
            if key.stage != stage or key.version <= version:
                continue
            *parents, leaf = key.path
            node: Any = before
            for name in parents:
                node = node.get(name) if isinstance(node, dict) else None
            if isinstance(node, dict) and leaf in node and key.as_before(node[leaf], config):
                del node[leaf]
        named = inputs if version == 0 else [_what(i) for i in inputs]
        fingerprint = _sha256({"stage": stage, "config": before, "inputs": named})
        if fingerprint != current and fingerprint not in result:
            result.append(fingerprint)
    return result


def _what(identity: dict[str, Any]) -> dict[str, Any]:
    if "sha256" in identity or "shards" in identity:  # a dataset or a tokenizer
        return {key: value for key, value in identity.items() if key not in ("path", "tokenizer")}
    return identity


def _sha256(value: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


@dataclass
class RunSummary:
    manifest: dict[str, Any]
    stats: dict[str, Any]
    up_to_date: bool  # nothing was run: the output already held this exact dataset
    tasks_run: int


def merge_stats(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Add per-task stats: numbers add up, mappings merge recursively, lists concatenate."""
    for key, value in part.items():
        if isinstance(value, dict):
            merge_stats(total.setdefault(key, {}), value)
        elif isinstance(value, list):
            total.setdefault(key, []).extend(value)
        else:
            total[key] = total.get(key, 0) + value
    return total


def clear_output(output: Path) -> None:
    """Remove what a stage writes into `output` (and nothing else the user keeps there),
    the rejected folder of earlier versions included."""
    for name in (MANIFEST, STATS):
        (output / name).unlink(missing_ok=True)
    for name in (README, HF_YAML):
        if card_is_ours(output / name):
            (output / name).unlink(missing_ok=True)
    for shard in output.glob(SHARD_GLOB):
        shard.unlink()
    for folder in (REJECTED_DIR, LEGACY_REJECTED_DIR, PROGRESS_DIR):
        remove_tree(output / folder)


def check_dataset_output(output: Path, sources: Sequence[Path], source_name: str) -> None:
    """Refuse, before anything is touched, an output that is, contains or lies inside one of
    the folders the stage reads (with --overwrite it would be cleared first)."""
    problem = dangling_problem(output, "--output")
    problem = problem or overlap_problem(output, sources, "--output", source_name)
    if problem:
        raise StageError(problem)
    if output.exists() and not output.is_dir():
        raise StageError(f"--output {output} is a file, not a folder")


def holds_dataset(folder: Path) -> bool:
    """Whether `folder` holds a dataset of this tool, finished or not."""
    return (folder / MANIFEST).is_file() or (folder / PROGRESS_DIR).is_dir()


@contextmanager
def claimed_output(
    output: Path, overwrite: bool, clear: Callable[[Path], None] | None = None
) -> Iterator[None]:
    """Create `output` and hold its lock for the block (a second run into it exits with 75);
    with `overwrite`, first clear the dataset an earlier run left there (`clear`).

    `--overwrite` replaces only what this tool wrote: a folder holding other files and no
    dataset (no manifest, no `_progress/`) is refused.
    """
    if overwrite:  # refused before anything is created, and again once the folder is held
        _refuse_foreign(output)
    output.mkdir(parents=True, exist_ok=True)
    with folder_lock(output / OUTPUT_LOCK, "being written"):
        if overwrite:
            _refuse_foreign(output)
            (clear or clear_output)(output)
        yield


def _refuse_foreign(output: Path) -> None:
    foreign = foreign_entries(output, [OUTPUT_LOCK])
    if foreign and not holds_dataset(output):
        raise StageError(
            f"{output} holds files that are not a dataset of llm-data ({foreign[0]}, ...); "
            "--overwrite replaces only a dataset: choose another --output"
        )


def run_stage(
    stage: Stage,
    executor: ExecutorConfig,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    """Run `stage` into its output (see the module's docstring), and publish it to the object
    store its `publish_to` names, if any (pipeline/published.py)."""
    url = getattr(stage, "publish_to", None)
    if url is not None:
        from llm_pretrain.pipeline.published import run_published

        return run_published(stage, url, executor, show_progress, overwrite)
    with claimed_output(stage.output, overwrite, stage.clear):
        return run_claimed_stage(stage, executor, show_progress)


def run_claimed_stage(stage: Stage, executor: ExecutorConfig, show_progress: bool) -> RunSummary:
    """Run `stage` into its output, which the caller holds (`claimed_output`)."""
    output = stage.output
    fingerprint, earlier = fingerprints(stage)
    finished = finished_run(output, fingerprint, earlier)
    if finished is not None:
        return finished
    progress_dir = claim_progress_dir(
        output, stage.name, fingerprint, stage.data_glob, clear=stage.clear, earlier=earlier
    )
    for folder in stage.data_folders:
        remove_stale_temporaries(output / folder)
    started = time.monotonic()
    commit = stage.run(StageRun(stage.name, progress_dir, executor, show_progress))
    for folder in stage.data_folders:  # of attempts whose worker died mid-shard (Ray reran them)
        remove_stale_temporaries(output / folder)
    manifest, stats = _commit(stage, fingerprint, commit, time.monotonic() - started)
    remove_tree(progress_dir)
    return RunSummary(manifest, stats, up_to_date=False, tasks_run=commit.tasks_run)


def _commit(
    stage: Stage, fingerprint: str, commit: Commit, seconds: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write `_stats.json`, the cards and, last, `_manifest.json`: the commit point."""
    stats = {
        **commit.stats,
        "stage": stage.name,
        "wall_seconds": commit.stats.get("wall_seconds", round(seconds, 3)),
    }
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "stage": stage.name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "llm_pretrain_version": __version__,
        "fingerprint": fingerprint,
        "config": stage.config,
        "inputs": stage.inputs,
        **commit.manifest,
    }
    atomic_write_json(stage.output / STATS, stats)
    if commit.cards:
        write_cards(stage.output, manifest)
    atomic_write_json(stage.output / MANIFEST, manifest)
    return manifest, stats


class Outcome(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def run_resumable(
    tasks: Sequence[Task],
    run_task: Callable[[Any], Outcome],
    on_failure: Callable[[Any, TaskFailure], Outcome | Retry],
    marker_dir: Path,
    *,
    description: str,
    executor: ExecutorConfig,
    show_progress: bool,
) -> tuple[dict[int, dict[str, Any]], int]:
    """Run the tasks without a done-marker in `marker_dir` in the worker pool, writing each
    one's marker (its result as JSON) as it finishes; return every task's result, and how many
    ran now."""
    marker_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(marker_dir)
    done = {
        int(marker.stem.removeprefix("task-")): read_json(marker)
        for marker in marker_dir.glob("task-*.json")
    }
    pending = [task for task in tasks if task.index not in done]
    ran = len(pending)
    log.debug("%s: %d tasks finished before, %d to run", description, len(done), ran)
    errors: list[tuple[int, str]] = []  # (task index, message): reported in task order
    damaged: list[tuple[int, str]] = []  # tasks whose input is not what it should be
    if pending:
        total_bytes = sum(task.input_bytes for task in pending)
        label = f"{description} ({len(pending)} tasks)"
        pool = build_executor(executor)
        with ProgressBar(total_bytes, label, enabled=show_progress) as bar:
            while pending:  # rounds: a task whose worker died may come back as a Retry
                retries = []
                for task, outcome in pool.map(run_task, pending, bar.counters):
                    if isinstance(outcome, TaskFailure) and not outcome.retryable:
                        damaged.append((task.index, outcome.message))
                        continue
                    if isinstance(outcome, TaskFailure) and outcome.kind == "error":
                        message = f"task {task.index} ({task.describe()}): {outcome.message}"
                        errors.append((task.index, message))
                        continue
                    if isinstance(outcome, TaskFailure):
                        outcome = on_failure(task, outcome)
                    if isinstance(outcome, Retry):
                        log.debug("task %d (%s): its worker died; retrying", task.index,
                                  task.describe())  # fmt: skip
                        retries.append(outcome.task)
                        continue
                    result = outcome.to_json()
                    log.debug("task %d (%s) finished after %.1f s: %s documents", task.index,
                              task.describe(), bar.elapsed, f"{_documents(result):,}")  # fmt: skip
                    atomic_write_json(_marker(marker_dir, task.index), result)
                    done[task.index] = result
                    if pool.distributed:  # remote workers cannot reach the counters
                        bar.add(_documents(result), task.input_bytes)
                pending = retries
    if damaged:  # a rerun would fail the same way: no "run again" advice
        raise StageError(min(damaged)[1])
    if errors:
        first = min(errors)[1].splitlines()[0]
        raise StageError(
            f"{len(errors)} of {ran} tasks failed ({first}); "
            f"finished tasks are kept, run the same command again to retry the rest"
        )
    return done, ran


def _documents(result: dict[str, Any]) -> int:
    counts = result.get("stats", {}).get("documents", {})
    return sum(counts.values()) if isinstance(counts, dict) else 0


def _marker(progress_dir: Path, index: int) -> Path:
    return progress_dir / f"task-{index:05d}.json"


def listed_files(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The records (file, bytes...) of the shards the next stage reads: the kept documents,
    or the token shards of each split (rejected shards are a record, not the dataset)."""
    records = list(manifest.get("shards", []))
    for split in manifest.get("splits", {}).values():
        records += split.get("shards", [])
    return records


def finished_run(output: Path, fingerprint: str, earlier: Sequence[str] = ()) -> RunSummary | None:
    """The dataset in `output` when this same run (same fingerprint) made it; None when there
    is none yet; an error when another run made it."""
    manifest = read_manifest(output)
    if manifest is None:
        return None
    if manifest.get("fingerprint") in (fingerprint, *earlier):
        for shard in listed_files(manifest):
            path = output / shard["file"]
            if not path.is_file() or path.stat().st_size != shard.get("bytes", path.stat().st_size):
                raise StageError(
                    f"{output} was finished, but {shard['file']} is missing or changed since; "
                    "pass --overwrite to make it again"
                )
        return RunSummary(manifest, read_json(output / STATS), up_to_date=True, tasks_run=0)
    raise StageError(
        f"{output} already holds a dataset made from other inputs or settings; "
        "choose another --output or pass --overwrite"
    )


def claim_progress_dir(
    output: Path,
    stage: str,
    fingerprint: str,
    data_glob: str = SHARD_GLOB,
    *,
    clear: Callable[[Path], None],
    earlier: Sequence[str] = (),
) -> Path:
    """The output's `_progress/` folder for this run: a new one, or the unfinished one of the
    same run (same fingerprint) to resume; never one of another run or shards of unknown
    origin (files matching `data_glob`).

    The fingerprint names what the output holds, not how it is written: an unfinished run
    that an earlier version wrote (in another schema, as its `plan.json` says, or under one of
    the `earlier` fingerprints) is cleared (`clear`) and started again, so that no dataset
    mixes shards of two versions.
    """
    progress_dir = output / PROGRESS_DIR
    plan_path = progress_dir / "plan.json"
    if plan_path.exists():
        plan = read_json(plan_path)
        ours = plan.get("fingerprint") == fingerprint
        if ours and plan.get("schema_version", 1) == SCHEMA_VERSION:
            return progress_dir  # this run's own, to resume
        if not ours and plan.get("fingerprint") not in earlier:
            raise StageError(
                f"{output} holds an unfinished run with other inputs or settings; "
                "run that command again to finish it, or pass --overwrite"
            )
        log.warning("%s holds an unfinished run an earlier version wrote: started again", output)
        clear(output)
    if any(output.glob(data_glob)):
        raise StageError(
            f"{output} holds shards of an unknown run; choose another --output or pass --overwrite"
        )
    plan = {"fingerprint": fingerprint, "stage": stage, "schema_version": SCHEMA_VERSION}
    atomic_write_json(plan_path, plan)
    return progress_dir
