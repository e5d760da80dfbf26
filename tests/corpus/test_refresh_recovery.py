"""A refresh killed mid-batch never leaves the corpus stuck, whatever happens to its inputs
before the next run (issue 18, cases 9 and 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.config import load_config
from llm_pretrain.corpus.refresh import refresh
from llm_pretrain.corpus.status import corpus_status, format_status
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.samples import article
from tests.corpus.test_refresh import SET_ARGS, SETTINGS, _run_killed_at


def write_jsonl(path: Path, seed: int, count: int, start: int = 0) -> None:
    """`count` documents of prose the default filter keeps."""
    rows = [
        {"text": "\n\n".join(article(start + n, seed).paragraphs), "url": f"https://x.org/{n}"}
        for n in range(count)
    ]
    with open(path, "a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)


def make_inbox(folder: Path) -> Path:
    folder.mkdir()
    for seed, name in enumerate(["a", "b", "c"]):
        write_jsonl(folder / f"{name}.jsonl", seed, 15)
    return folder


@pytest.fixture
def inbox(tmp_path) -> Path:
    return make_inbox(tmp_path / "inbox")


def touch(inbox: Path) -> None:
    stat = os.stat(inbox / "b.jsonl")
    os.utime(inbox / "b.jsonl", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))


def append(inbox: Path) -> None:
    write_jsonl(inbox / "b.jsonl", 1, 4, start=15)


def delete(inbox: Path) -> None:
    (inbox / "b.jsonl").unlink()


CHANGES = {"touch": touch, "append": append, "delete": delete}
# Where the first run is killed: extract not finished, extract finished, tokenize running.
KILLED_AT = {
    "extracting": "batches/000001/extracted/_progress",
    "filtering": "batches/000001/filtered/_progress",
    "tokenizing": "tokens/batches/000001/_progress",
}


def kept_documents(corpus: Path) -> list[tuple[str, str]]:
    """(url, text) of every document the corpus kept, over all committed batches (ids name
    the input path, which differs between the corpora compared here)."""
    manifest = json.loads((corpus / "tokens" / "_manifest.json").read_text())
    kept = []
    for batch in manifest["corpus"]["batches"]:
        for path in shard_paths(corpus / "batches" / f"{batch['batch']:06d}" / "deduped"):
            table = pq.read_table(path, columns=["url", "text"])
            kept += zip(table["url"].to_pylist(), table["text"].to_pylist(), strict=True)
    return sorted(kept)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, list[tuple[str, str]]]:
    """The documents an uninterrupted refresh keeps of the inputs as first delivered
    ("before") and after each change."""
    root = tmp_path_factory.mktemp("clean")
    config = load_config(None, SETTINGS)
    documents = {}
    for name, change in [("before", None), *CHANGES.items()]:
        inbox = make_inbox(root / f"inbox-{name}")
        if change is not None:
            change(inbox)
        refresh(root / f"corpus-{name}", config, [str(inbox)])
        documents[name] = kept_documents(root / f"corpus-{name}")
    return documents


def command(corpus: Path, inbox: Path) -> list[str]:
    return [sys.executable, "-m", "llm_pretrain", "refresh", "--workdir", str(corpus),
            "--input", str(inbox), "-q", *SET_ARGS]  # fmt: skip


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("killed_at", list(KILLED_AT))
def test_a_killed_refresh_is_finished_or_made_again_whatever_its_inputs_did(
    inbox, tmp_path, clean, killed_at, change
):
    corpus = tmp_path / "corpus"
    assert _run_killed_at(command(corpus, inbox), corpus / KILLED_AT[killed_at])
    CHANGES[change](inbox)

    status = format_status(corpus_status(corpus))
    extract_done = killed_at != "extracting"
    expected = "finishes it" if extract_done or change == "touch" else "makes it again"
    assert expected in status, status

    # The uncommitted batch, then what is new after it (an appended file), then nothing.
    for _ in range(3):
        run = subprocess.run(command(corpus, inbox), capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        if "nothing new" in run.stdout:
            break
    assert "nothing new" in run.stdout, run.stdout

    if not extract_done or change != "delete":
        # The corpus holds exactly the documents of the final inputs.
        assert kept_documents(corpus) == clean[change]
    else:
        # A file deleted after its batch read it stays in that batch, as if the run had not
        # been stopped (README: "What happens when things go wrong").
        assert kept_documents(corpus) == clean["before"]
        assert set(clean["delete"]) < set(clean["before"])


def test_a_workdir_inside_a_watched_folder_is_refused(inbox, tmp_path):
    corpus = inbox / "corpus"
    args = ["refresh", "--workdir", str(corpus), "--input", str(inbox), "-q", *SET_ARGS]
    result = CliRunner().invoke(data, args)
    assert result.exit_code == 1 and "lies inside the input" in result.output
    assert not corpus.exists()
    # An input inside the work folder, or a glob that would read the work folder's shards.
    for pattern in (str(tmp_path / "w" / "in"), f"{tmp_path}/**/*.parquet"):
        args = ["refresh", "--workdir", str(tmp_path / "w"), "--input", pattern, *SET_ARGS]
        assert CliRunner().invoke(data, args).exit_code == 1
    # A glob that cannot match what refresh writes may have its work folder beside the inputs.
    fine = CliRunner().invoke(
        data, ["refresh", "-w", str(inbox / "corpus"), "-i", f"{inbox}/*.jsonl", "-q", *SET_ARGS]
    )
    assert fine.exit_code == 0, fine.output
    again = CliRunner().invoke(
        data, ["refresh", "-w", str(inbox / "corpus"), "-i", f"{inbox}/*.jsonl", "-q", *SET_ARGS]
    )
    assert "nothing new" in again.output


def test_the_work_folder_reached_through_a_link_is_never_read(inbox, tmp_path):
    corpus = tmp_path / "corpus"
    (inbox / "link").symlink_to(corpus)  # a watched folder that leads back to the work folder
    args = ["refresh", "-w", str(corpus), "-i", f"{inbox}/*", "-q", *SET_ARGS]
    first = CliRunner().invoke(data, args)
    assert first.exit_code == 0 and "committed v1: 3 new inputs" in first.output, first.output
    again = CliRunner().invoke(data, args)
    assert "nothing new" in again.output, again.output  # not its own shards, through the link
    assert "not read" in (corpus / "refresh.log").read_text()
