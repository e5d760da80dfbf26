"""One bad file never blocks the rest (issue 18, case 7): a lone surrogate in a JSONL record, a
file name of non-UTF-8 bytes, a link to itself and a FIFO each become a rejected row (or an
escaped value) and everything else is committed; nothing hangs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.samples import article
from tests.corpus.test_refresh import SET_ARGS

TEXT = " ".join(article(1, seed=3).paragraphs)


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`llm-data ARGS` in its own process: a hang fails the test instead of stalling it."""
    command = [sys.executable, "-m", "llm_pretrain", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def hostile(tmp_path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "good.html").write_text(article(2, seed=3).html, encoding="utf-8")
    records = [
        '{"text": "' + TEXT + ' \\ud800 end", "url": "https://x.org/\\udfff"}',
        json.dumps({"text": TEXT + " plain", "note": "ok"}),
        '{"text": "' + TEXT + ' meta", "tag": "\\udc80"}',
    ]
    (folder / "records.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    latin1 = os.fsencode(folder) + b"/caf\xe9-page.html"  # not UTF-8
    with open(latin1, "wb") as handle:
        handle.write(article(4, seed=3).html.encode())
    os.symlink("loop.html", folder / "loop.html")
    os.mkfifo(folder / "pipe.html")
    return folder


def test_extract_records_each_hostile_input_and_keeps_the_rest(hostile, tmp_path):
    out = tmp_path / "out"
    done = run("extract", "-i", str(hostile), "-o", str(out), "--workers", "1", "--min-chars", "20")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    kept = read_table(out).to_pylist()
    by_source = {Path(row["source"]).name: row for row in kept}
    assert "good.html" in by_source
    assert "caf\\udce9-page.html" in by_source  # the non-UTF-8 byte, escaped
    records = [row for row in kept if row["source"].endswith("records.jsonl")]
    assert len(records) == 3  # the surrogates are escaped, not fatal
    assert any(r["text"].endswith("\\ud800 end") and r["url"] == "https://x.org/\\udfff"
               for r in records)  # fmt: skip
    assert any(json.loads(r["metadata"]).get("tag") == "\udc80" for r in records)  # JSON escape

    rejected = {Path(r["source"]).name: r for r in read_table(out, rejected=True).to_pylist()}
    assert rejected["loop.html"]["reason"] == "extract_error:unreadable"
    assert "symbolic links" in json.loads(rejected["loop.html"]["metadata"])["error"]
    assert rejected["pipe.html"]["reason"] == "extract_error:unreadable"
    assert "FIFO" in json.loads(rejected["pipe.html"]["metadata"])["error"]
    stats = json.loads((out / "_stats.json").read_text())
    assert {Path(e["path"]).name for e in stats["input_errors"]} == {"loop.html", "pipe.html"}
    manifest = json.loads((out / "_manifest.json").read_text())  # readable, escapes included
    assert any(i["path"].endswith("caf\udce9-page.html") for i in manifest["inputs"])
    for shard in manifest["shards"]:
        pq.read_table(out / shard["file"])  # valid UTF-8 throughout


def test_refresh_commits_the_batch_and_never_opens_the_fifo(hostile, tmp_path):
    corpus = tmp_path / "corpus"
    # Two documents pass the filter; the validation split is chosen by a hash of ids that hold
    # the temporary path, so a held-out share could leave the tokenizer nothing to learn from.
    args = ["refresh", "--workdir", str(corpus), "--input", str(hostile), "-q", *SET_ARGS,
            "--set", "tokenize.val_fraction=0"]  # fmt: skip
    first = run(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "committed v1: 5 new inputs" in first.stdout
    batch = json.loads((corpus / "batches" / "000001" / "batch.json").read_text())
    problems = {Path(i["path"]).name: i.get("problem") for i in batch["inputs"]}
    assert "FIFO" in problems["pipe.html"] and "symbolic links" in problems["loop.html"]
    again = run(*args)
    assert again.returncode == 0 and "nothing new" in again.stdout, again.stdout
    log = (corpus / "refresh.log").read_text(encoding="utf-8")
    assert "committed v1" in log and "Logging error" not in first.stderr


PEAK_OF_CHILDREN = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
print(done.stderr[-2000:], file=sys.stderr)
"""


def test_a_2_gib_line_in_a_small_gzip_is_rejected_in_bounded_memory(tmp_path):
    """Issue 18, case 8: the line is read through in chunks, never held."""
    folder = tmp_path / "in"
    folder.mkdir()
    chunk = b"a" * (1 << 24)
    with gzip.open(folder / "bomb.jsonl.gz", "wb", compresslevel=1) as handle:
        handle.write(json.dumps({"text": TEXT}).encode() + b"\n")
        handle.write(b'{"text": "')
        for _ in range(128):  # 2 GiB
            handle.write(chunk)
        handle.write(b'"}\n')
        handle.write(json.dumps({"text": TEXT + " after"}).encode() + b"\n")
    assert (folder / "bomb.jsonl.gz").stat().st_size < 20_000_000
    out = tmp_path / "out"
    extract = [sys.executable, "-m", "llm_pretrain", "extract", "-i", str(folder), "-o",
               str(out), "--workers", "1", "-q"]  # fmt: skip
    measured = subprocess.run(
        [sys.executable, "-c", PEAK_OF_CHILDREN, *extract], capture_output=True, text=True
    )
    code, peak_mb = map(int, measured.stdout.split())
    assert code == 0, measured.stderr
    assert peak_mb < 1024, f"peak {peak_mb} MB"  # 7.8 GB before the lines were bounded
    kept = read_table(out).column("text").to_pylist()
    assert kept == [TEXT, TEXT + " after"]
    [rejected] = read_table(out, rejected=True).to_pylist()
    assert rejected["reason"] == "extract_error:too_large"
    assert json.loads(rejected["metadata"])["record"] == 2


def test_a_folder_that_cannot_be_listed_is_recorded_not_skipped(tmp_path, monkeypatch):
    """os.walk skips a folder it cannot enter without a word; extract records it."""
    from llm_pretrain.pipeline.extract.inputs import discover

    (tmp_path / "in" / "locked").mkdir(parents=True)
    (tmp_path / "in" / "locked" / "page.html").write_text(article(1, seed=3).html)
    (tmp_path / "in" / "open.html").write_text(article(2, seed=3).html)
    real_scandir = os.scandir

    def no_entry(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", no_entry)
    files, _ = discover([str(tmp_path / "in")])
    by_name = {Path(f.path).name: f for f in files}
    assert "open.html" in by_name
    assert by_name["locked"].problem == "is a folder that cannot be listed: Permission denied"


def test_a_damaged_parquet_row_group_costs_only_its_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "in"
    folder.mkdir()
    texts = [" ".join(article(i, seed=5).paragraphs) for i in range(30)]
    pq.write_table(pa.table({"text": texts}), folder / "docs.parquet", row_group_size=10,
                   compression="zstd")  # fmt: skip
    meta = pq.ParquetFile(folder / "docs.parquet").metadata.row_group(1).column(0)
    raw = bytearray((folder / "docs.parquet").read_bytes())
    start = meta.dictionary_page_offset or meta.data_page_offset
    raw[start : start + 32] = bytes(32)  # the second group's first page header, zeroed
    (folder / "docs.parquet").write_bytes(bytes(raw))
    done = run("extract", "-i", str(folder), "-o", str(tmp_path / "out"), "--workers", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    kept = read_table(tmp_path / "out").column("text").to_pylist()
    assert kept == texts[:10] + texts[20:]
    [row] = read_table(tmp_path / "out", rejected=True).to_pylist()
    assert row["reason"] == "extract_error:damaged"
    assert json.loads(row["metadata"])["records"] == [11, 20]
