"""`llm-data refresh` and `status`: batches of new inputs, versions, the lock, kills."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.config import load_config
from llm_pretrain.corpus.lock import workdir_lock
from llm_pretrain.corpus.refresh import refresh
from llm_pretrain.corpus.status import corpus_status, format_status
from llm_pretrain.corpus.versions import seen_inputs
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.samples import article, build_sample
from llm_pretrain.train.data import open_token_data

SETTINGS = {
    "executor.workers": 1,
    "extract.min_chars": 20,
    "tokenizer.vocab_size": 300,
    "tokenize.seq_len": 32,
    "tokenize.val_fraction": 0.1,
}
SET_ARGS = [arg for key, value in SETTINGS.items() for arg in ("--set", f"{key}={value}")]


def write_pages(folder: Path, seed: int, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"page-{seed}-{index:03d}.html"
        path.write_text(article(index, seed).html, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def inbox(tmp_path) -> Path:
    """A watched folder with a first delivery: a WARC, pages and PDFs, and a junk 'PDF'."""
    folder = tmp_path / "inbox"
    build_sample(folder / "first", pages=12, pdfs=2, seed=1)
    (folder / "first" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF at all")
    return folder


def test_two_refreshes_the_second_sees_only_new_files(inbox, tmp_path):
    config = load_config(None, SETTINGS)
    corpus = tmp_path / "corpus"
    (inbox / "notes.docx").write_bytes(b"PK not read")
    first = refresh(corpus, config, [str(inbox)])
    assert first.outcome == "committed" and first.version == 1
    assert "1 files of an unsupported kind ignored" in first.line()
    assert first.batch["inputs"] == 10  # WARC + 6 pages + 2 PDFs + the broken one
    assert first.batch["extract"]["rejected"] >= 1  # the junk PDF: recorded, not blocking

    write_pages(inbox / "second", seed=2, count=4)
    shutil.copyfile(inbox / "first" / "pages" / "page-000.html", inbox / "renamed.html")
    second = refresh(corpus, config, [str(inbox)])
    assert second.version == 2 and second.batch["inputs"] == 4 and second.aliases == 1
    assert second.batch["extract"]["documents"] == 4

    other = load_config(None, {**SETTINGS, "tokenize.seq_len": 64})
    with pytest.raises(StageError, match="seq_len 32, the config asks for 64"):
        refresh(corpus, other, [str(inbox)])
    third = refresh(corpus, config, [str(inbox)])
    assert third.outcome == "nothing_new" and third.version == 2 and third.aliases == 0
    assert "nothing new" in third.line()

    tokens = open_token_data(corpus / "tokens")
    manifest = tokens.manifest
    assert manifest["corpus"]["version"] == 2
    assert manifest["counts"]["tokens"] == first.batch["tokens"] + second.batch["tokens"]
    assert tokens.rows("train") == sum(s["rows"] for s in manifest["splits"]["train"]["shards"])
    assert len(tokens.train) == tokens.rows("train")  # every shard of both batches reads
    assert (corpus / "tokens" / "tokenizer.json").is_file()


def test_a_changed_file_is_processed_again(inbox, tmp_path):
    config = load_config(None, SETTINGS)
    corpus = tmp_path / "corpus"
    refresh(corpus, config, [str(inbox)])
    page = inbox / "first" / "pages" / "page-001.html"
    page.write_text(article(99, seed=5).html, encoding="utf-8")
    changed = refresh(corpus, config, [str(inbox)])
    assert changed.outcome == "committed" and changed.batch["inputs"] == 1
    assert changed.batch["dedup"]["documents"] == 1  # new text: kept


def test_an_input_gone_when_its_batch_ran_is_not_taken_as_processed(tmp_path):
    record = {"inputs": [{"path": "a.html", "size": 1, "mtime_ns": 1, "sha256": "x"},
                         {"path": "b.html", "size": 1, "mtime_ns": 1, "sha256": "y"}]}  # fmt: skip
    (tmp_path / "batches" / "000001").mkdir(parents=True)
    (tmp_path / "batches" / "000001" / "batch.json").write_text(json.dumps(record))
    manifest = {"corpus": {"batches": [{"batch": 1, "missing": ["b.html"]}]}}
    assert [item["path"] for item in seen_inputs(tmp_path, manifest)] == ["a.html"]


def test_a_second_run_is_refused_with_75_and_a_dead_holder_frees_the_lock(inbox, tmp_path):
    corpus = tmp_path / "corpus"
    args = ["refresh", "--workdir", str(corpus), "--input", str(inbox), "-q", *SET_ARGS]
    with workdir_lock(corpus):
        refused = CliRunner().invoke(data, args)
    assert refused.exit_code == 75
    assert "is being refreshed by pid" in refused.output

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(corpus)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    assert CliRunner().invoke(data, args).exit_code == 75
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    done = CliRunner().invoke(data, args)  # the kernel dropped the dead process's lock
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"refresh {corpus}: committed v1:")


HOLD_LOCK = """
import sys, time
from pathlib import Path
from llm_pretrain.corpus.lock import workdir_lock
with workdir_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_status_and_the_log(inbox, tmp_path):
    corpus = tmp_path / "corpus"
    refresh(corpus, load_config(None, SETTINGS), [str(inbox)])
    write_pages(inbox / "second", seed=2, count=3)
    status = corpus_status(corpus)
    assert status["version"] == 1 and status["pending_inputs"] == 3
    assert status["locked_by"] is None and status["last_run"]["outcome"] == "committed"
    text = format_status(status)
    assert "3 new or changed files" in text and "last run" in text
    shown = CliRunner().invoke(data, ["status", str(corpus), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["version"] == 1
    log = (corpus / "refresh.log").read_text()
    assert "batch 000001: 10 new inputs" in log and "committed v1" in log

    failed = CliRunner().invoke(data, ["refresh", "--workdir", str(corpus), *SET_ARGS])
    assert failed.exit_code == 1 and "nothing to watch" in failed.output


# -- killed at any point ---------------------------------------------------------------------

# Files that appear in order during a batch: the drill kills a run as soon as the next appears.
MILESTONES = [
    "batches/{b}/batch.json",
    "batches/{b}/extracted/_progress",
    "batches/{b}/extracted/_manifest.json",
    "batches/{b}/filtered/_progress",
    "batches/{b}/filtered/_manifest.json",
    "batches/{b}/deduped/_progress",
    "batches/{b}/deduped/_manifest.json",
    "tokens/batches/{b}/_progress",
    "tokens/batches/{b}/_manifest.json",
    "versions/{b}.json",
]
# Times, and fingerprints (they hash the stage folders' paths, which differ between the two).
VOLATILE = {"created_at", "committed_at", "seconds", "wall_seconds", "finished_at", "fingerprint"}


def _stable(value: Any) -> Any:
    """`value` without the keys that differ between two identical corpora in two folders."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def corpus_digest(corpus: Path) -> dict[str, Any]:
    """What must be the same after any kills: the version, every stage's ids, the token bytes."""
    manifest = json.loads((corpus / "tokens" / "_manifest.json").read_text())
    ids = {}
    for folder in sorted((corpus / "batches").glob("*/*")):
        if folder.is_dir():
            kept = [pq.read_table(p, columns=["id"])["id"].to_pylist() for p in shard_paths(folder)]
            ids[str(folder.relative_to(corpus))] = sorted(i for part in kept for i in part)
    shards = {
        str(path.relative_to(corpus)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((corpus / "tokens").rglob("*.arrow"))
    }
    index = sorted((corpus / "dedup-index").glob("part-*.parquet"))
    return {
        "manifest": _stable(manifest),
        "ids": ids,
        "shards": shards,
        # Parts are named by a hash of their batch's input paths: compare them unordered.
        "index": sorted(sorted(pq.read_table(p)["id"].to_pylist()) for p in index),
    }


def _command(corpus: Path, inbox: Path) -> list[str]:
    return [sys.executable, "-m", "llm_pretrain", "refresh", "--workdir", str(corpus),
            "--input", str(inbox), "-q", *SET_ARGS]  # fmt: skip


def _run_killed_at(command: list[str], milestone: Path) -> bool:
    """Run until `milestone` exists, then SIGKILL; False when the run finished first."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not milestone.exists():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, f"{milestone} did not appear"
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return True


def test_a_refresh_killed_at_any_point_gives_the_corpus_of_an_uninterrupted_one(inbox, tmp_path):
    reference, drilled = tmp_path / "reference", tmp_path / "drilled"
    deliveries = [lambda: None, lambda: write_pages(inbox / "second", seed=2, count=5)]
    kills = 0
    for number, deliver in enumerate(deliveries, start=1):
        deliver()
        subprocess.run(_command(reference, inbox), check=True, capture_output=True)
        for milestone in MILESTONES:
            path = drilled / milestone.format(b=f"{number:06d}")
            if not path.exists():
                kills += _run_killed_at(_command(drilled, inbox), path)
            committed = (
                json.loads((drilled / "tokens" / "_manifest.json").read_text())
                if (drilled / "tokens" / "_manifest.json").exists()
                else None
            )
            # Until the commit, readers see the previous version, whole.
            if committed is not None and not (drilled / "versions" / f"{number:06d}.json").exists():
                assert committed["corpus"]["version"] == number - 1
        finished = subprocess.run(_command(drilled, inbox), capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr[-2000:]
        assert corpus_digest(drilled) == corpus_digest(reference), f"batch {number}"
    assert kills >= 12  # most milestones were reached and killed at
