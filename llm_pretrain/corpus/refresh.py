"""`llm-data refresh`: process what is new under the watched inputs as one batch, and commit
it as the corpus's next version.

A run holds the work folder's lock, finishes a batch a killed run left uncommitted or starts a
new one from the inputs not processed before, runs extract -> filter -> dedup (against the
index of everything kept) -> tokenize (with the corpus's tokenizer; the first batch trains it)
into the batch's folders, and commits. Every stage resumes where a killed run stopped and
gives the output an uninterrupted run would have given, so a batch lands exactly once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_pretrain.config import PipelineConfig
from llm_pretrain.corpus.inputs import Scan, scan_inputs
from llm_pretrain.corpus.lock import workdir_lock
from llm_pretrain.corpus.pending import extract_finished, recorded_files, stale_reason
from llm_pretrain.corpus.versions import (
    BATCH_FILE,
    BATCHES,
    INDEX,
    LAST_RUN,
    LOG_FILE,
    TOKENS,
    add_aliases,
    batch_dir,
    batch_name,
    commit,
    committed,
    foreign_workdir_problem,
    merge,
    seen_inputs,
    version_of,
)
from llm_pretrain.pipeline.dataset import LEGACY_REJECTED_DIR, README, REJECTED_DIR
from llm_pretrain.pipeline.outputs import input_patterns_problem, protected_problem
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.remote import stores
from llm_pretrain.remote.stores import is_url
from llm_pretrain.stages import (
    DOCUMENT_STAGES,
    STAGE_FOLDERS,
    extract_files,
    run_dedup,
    run_filter,
    run_tokenize,
)
from llm_pretrain.storage import atomic_write_json, read_json, remove_tree

log = logging.getLogger(__name__)
# Files a refresh writes in its work folder, for telling whether a watched glob would read them.
WORKDIR_FILES = (
    "batches/000001/extracted/part-00000.parquet",
    f"batches/000001/extracted/{REJECTED_DIR}/part-00000.parquet",
    f"batches/000001/extracted/{LEGACY_REJECTED_DIR}/part-00000.parquet",  # earlier batches
    f"batches/000001/extracted/{README}",
    "batches/000001/batch.json",
    "dedup-index/part-0000000000000000.parquet",
    "tokens/batches/000001/train/shard-00000.arrow",
    "tokens/tokenizer.json",
    "refresh.log",
)


@dataclass
class RefreshResult:
    workdir: Path
    outcome: str  # "committed" or "nothing_new"
    version: int
    counts: dict[str, int]
    batch: dict[str, Any] | None = None
    unmatched: list[str] = field(default_factory=list)
    aliases: int = 0  # files skipped: their content was processed under another name
    unsupported: int = 0  # files of a kind extract does not read
    seconds: float = 0.0
    executor: str = "local"  # where the stages' tasks ran: "local" or "ray"

    def line(self) -> str:
        """One line for cron mail."""
        corpus = (
            f"corpus v{self.version}: {self.counts.get('documents', 0):,} documents, "
            f"{self.counts.get('tokens', 0):,} tokens"
        )
        warning = f"; no file matches {', '.join(self.unmatched)}" if self.unmatched else ""
        if self.aliases:
            warning += f"; {self.aliases} files skipped as copies of processed ones"
        if self.unsupported:
            warning += f"; {self.unsupported} files of an unsupported kind ignored"
        if self.batch is None:
            return f"refresh {self.workdir}: nothing new ({corpus}){warning}"
        batch = self.batch
        return (
            f"refresh {self.workdir}: committed v{self.version}: {batch['inputs']:,} new inputs, "
            f"{batch['extract']['documents']:,} documents extracted, "
            f"{batch['filter']['documents']:,} kept by filter, "
            f"{batch['dedup']['documents']:,} after dedup, {batch['tokens']:,} tokens "
            f"({corpus}) in {self.seconds:.1f} s{warning}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "workdir": str(self.workdir),
            "outcome": self.outcome,
            "version": self.version,
            "counts": self.counts,
            "batch": self.batch,
            "unmatched": self.unmatched,
            "aliases": self.aliases,
            "unsupported": self.unsupported,
            "seconds": round(self.seconds, 3),
            "executor": self.executor,
        }


@contextmanager
def logging_to(path: Path) -> Iterator[None]:
    """Also write this run's log lines (all levels from INFO) to `path`."""
    handler = logging.FileHandler(path, encoding="utf-8", errors="backslashreplace")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    # The console keeps its level (--quiet) while the root lets INFO through to the file.
    console = [(h, h.level) for h in root.handlers]
    for existing, _ in console:
        existing.setLevel(max(existing.level, level))
        existing.addFilter(_not_file_only)
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for existing, before in console:
            existing.setLevel(before)
            existing.removeFilter(_not_file_only)
        handler.close()


def _not_file_only(record: logging.LogRecord) -> bool:
    """Console handlers skip records meant for refresh.log alone (an error the command also
    prints as its one `Error:` line)."""
    return not getattr(record, "file_only", False)


def refresh(
    workdir: Path,
    config: PipelineConfig,
    inputs: list[str] | None = None,
    show_progress: bool = False,
) -> RefreshResult:
    """One refresh; raises `Locked` when another run holds `workdir`."""
    patterns = list(inputs or config.refresh.inputs)
    if not patterns:
        raise StageError("nothing to watch: give --input or set refresh.inputs in the config")
    # A work folder inside a watched folder would ingest its own shards on every run.
    problem = input_patterns_problem(workdir, patterns, WORKDIR_FILES, "--workdir")
    problem = problem or protected_problem(workdir, "--workdir") or foreign_workdir_problem(workdir)
    if problem:
        raise StageError(problem)
    started = time.perf_counter()
    # logging applies `..` before links (os.path.abspath): give it the path the kernel uses.
    log_file = Path(os.path.realpath(workdir / LOG_FILE))
    with workdir_lock(workdir), logging_to(log_file):
        log.info("refresh of %s started (inputs: %s)", workdir, ", ".join(patterns))
        try:
            stores.use(config.storage)
            result = _refresh(workdir, config, patterns, show_progress)
        except BaseException as exc:
            log.error("refresh failed: %s", exc, extra={"file_only": True})
            _record(workdir, {"outcome": "error", "error": str(exc) or type(exc).__name__})
            raise
        result.seconds = time.perf_counter() - started
        result.executor = config.executor.kind
        log.info("%s", result.line())
        _record(workdir, {"outcome": result.outcome, "line": result.line()})
        return result


def _record(workdir: Path, outcome: dict[str, Any]) -> None:
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(workdir / LAST_RUN, {"finished_at": finished, **outcome})


def _refresh(
    workdir: Path, config: PipelineConfig, patterns: list[str], show_progress: bool
) -> RefreshResult:
    manifest = committed(workdir)
    if manifest is not None and manifest["seq_len"] != config.tokenize.seq_len:
        raise StageError(
            f"{workdir} holds rows of seq_len {manifest['seq_len']}, the config asks for "
            f"{config.tokenize.seq_len}; a corpus keeps one (start another work folder)"
        )
    number = version_of(manifest) + 1
    folder = batch_dir(workdir, number)
    scan = Scan()  # a batch left unfinished is finished without a scan
    record = read_json(folder / BATCH_FILE) if (folder / BATCH_FILE).is_file() else None
    if record is not None and (why := stale_reason(folder, record)) is not None:
        log.warning(
            "batch %s, which a stopped run did not commit, is made again from the files as "
            "they are now: %s",
            batch_name(number),
            why,
        )
        remove_tree(folder)  # the batch's own folder; nothing downstream of extract exists yet
        record = None
    if record is not None:
        log.info("finishing batch %s, which a stopped run did not commit", batch_name(number))
    else:
        scan = scan_inputs(
            patterns,
            seen_inputs(workdir, manifest),
            workdir=workdir,
            base_url=config.extract.base_url,
            paths_range=config.extract.paths_range,
        )
        if scan.own:
            log.warning(
                "%d files of the work folder itself are reachable from the watched inputs "
                "(through a link?): not read, e.g. %s",
                len(scan.own),
                scan.own[0],
            )
        for pattern in scan.unmatched:
            log.warning("no file matches %s", pattern)
        for alias in scan.aliases:
            log.info("%s is a copy of %s: skipped", alias["path"], alias["same_as"])
        for path in scan.unsupported:
            log.info("%s is of a kind extract does not read: ignored", path)
        if scan.aliases:
            add_aliases(workdir, scan.aliases)
        if not scan.new:
            counts = manifest["counts"] if manifest else {"documents": 0, "tokens": 0}
            return _result(workdir, "nothing_new", number - 1, counts, None, scan)
        record = {
            "batch": number,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "patterns": patterns,
            "inputs": scan.new,
            "unsupported": scan.unsupported,
        }
        atomic_write_json(folder / BATCH_FILE, record)
        log.info("batch %s: %d new inputs", batch_name(number), len(scan.new))
    summary, tokens_dir, tokens = _run_batch(workdir, number, record, config, show_progress)
    merged = merge(manifest, number, tokens, summary)
    commit(workdir, merged, tokens_dir)
    return _result(workdir, "committed", number, merged["counts"], summary, scan)


def _result(
    workdir: Path,
    outcome: str,
    version: int,
    counts: dict[str, int],
    batch: dict[str, Any] | None,
    scan: Scan,
) -> RefreshResult:
    return RefreshResult(
        workdir,
        outcome,
        version,
        counts,
        batch,
        unmatched=scan.unmatched,
        aliases=len(scan.aliases),
        unsupported=len(scan.unsupported),
    )


def _run_batch(
    workdir: Path,
    number: int,
    record: dict[str, Any],
    config: PipelineConfig,
    show_progress: bool,
) -> tuple[dict[str, Any], Path, dict[str, Any]]:
    """The four stages on the batch's inputs; each resumes or finds its output done."""
    folder = batch_dir(workdir, number)
    files = recorded_files(record)
    done = extract_finished(folder)
    if done is not None:  # the inputs it read, whatever the files are now
        given = {item["path"] for item in done["inputs"]}
        present = [file for file in files if file.path in given]
    else:
        present = [file for file in files if is_url(file.path) or os.path.lexists(file.path)]
    missing = [file.path for file in files if file not in present]
    for path in missing:
        log.warning("%s is gone; batch %s goes on without it", path, batch_name(number))
    extracted, filtered, deduped = (folder / STAGE_FOLDERS[s] for s in DOCUMENT_STAGES)
    tokens_dir = workdir / TOKENS / BATCHES / batch_name(number)
    runs = {
        "extract": lambda: extract_files(present, extracted, config, show_progress),
        "filter": lambda: run_filter(extracted, filtered, config, show_progress),
        "dedup": lambda: run_dedup(filtered, deduped, config, workdir / INDEX, show_progress),
        "tokenize": lambda: run_tokenize(
            deduped,
            tokens_dir,
            config,
            workdir / TOKENS if number > 1 else None,  # the first batch trains the tokenizer
            show_progress,
        ),
    }
    summary: dict[str, Any] = {
        "batch": number,
        "inputs": len(present),
        "missing": missing,
    }
    manifest: dict[str, Any] = {}
    for stage, run in runs.items():
        result = run()
        manifest = result.manifest
        summary[stage] = manifest["counts"]
        log.info(
            "%s: %s%s",
            stage,
            ", ".join(f"{v:,} {k}" for k, v in manifest["counts"].items()),
            " (done before)" if result.up_to_date else "",
        )
    summary["tokens"] = manifest["counts"]["tokens"]
    summary["committed_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return summary, tokens_dir, manifest
