"""Common Crawl by its path lists: WARCs listed in a `warc.paths.gz`, joined to a base URL and
read from a web server on 127.0.0.1 that drops connections, answers 503 and cuts bodies short.
The dataset is the one a run without faults gives; a file that keeps failing is one recorded
input error, and the run goes on."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from llm_pretrain.config import load_config
from llm_pretrain.corpus.refresh import refresh
from tests.conftest import write_test_warc

FILES = 4
QUICK = ["--set", "storage.backoff_s=0", "--set", "storage.retries=3"]


def llm_data(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "llm_pretrain", *args, "--workers", "1", "-q", *QUICK]
    done = subprocess.run(command, capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def crawl(web, tmp_path: Path) -> Path:
    """FILES WARCs on the web server under crawl-data/, and their path list (gzipped)."""
    paths = []
    for index in range(FILES):
        local = tmp_path / f"CC-{index}.warc.gz"
        write_test_warc(local, pages=8)
        path = f"crawl-data/CC-MAIN-2026-49/segments/{index}/warc/CC-{index}.warc.gz"
        web.files[path] = local.read_bytes()
        paths.append(path)
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress("".join(f"{p}\n" for p in paths).encode()))
    return listing


def documents(folder: Path) -> list[dict]:
    manifest = json.loads((folder / "_manifest.json").read_text())
    rows = []
    for shard in manifest["shards"] + manifest["rejected_shards"]:
        rows += pq.read_table(folder / shard["file"]).to_pylist()
    return rows


def shard_bytes(folder: Path) -> list[bytes]:
    manifest = json.loads((folder / "_manifest.json").read_text())
    files = [s["file"] for s in manifest["shards"] + manifest["rejected_shards"]]
    return [(folder / name).read_bytes() for name in files]


def test_faults_on_the_way_change_nothing_in_the_dataset(web, crawl, tmp_path):
    base = ["extract", "-i", str(crawl), "--base-url", web.base]
    llm_data(*base, "-o", str(tmp_path / "clean"))
    requests = len(web.requests)
    names = sorted(web.files)
    web.faults[names[0]] = ["drop:3000"]
    web.faults[names[1]] = ["503", "503"]
    web.faults[names[2]] = ["truncate:9000", "ignore_range"]
    llm_data(*base, "-o", str(tmp_path / "faulty"))
    assert shard_bytes(tmp_path / "faulty") == shard_bytes(tmp_path / "clean")
    assert len(web.requests) - requests == FILES + 4  # one request per failure more
    resumed = [asked for _, asked in web.requests[requests:] if asked]
    assert "bytes=9000-" in resumed
    rows = documents(tmp_path / "clean")
    assert {row["source"] for row in rows} == {web.url(name) for name in names}
    assert all(row["reason"] is None for row in rows if "reason" in row)


def test_the_same_documents_as_the_local_files_but_named_by_url(web, crawl, tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    for name, data in web.files.items():
        (local / name.rsplit("/", 1)[1]).write_bytes(data)
    llm_data("extract", "-i", str(crawl), "--base-url", web.base, "-o", str(tmp_path / "url"))
    llm_data("extract", "-i", str(local), "-o", str(tmp_path / "files"))
    by_url, by_file = documents(tmp_path / "url"), documents(tmp_path / "files")
    assert len(by_url) == len(by_file) == FILES * 8
    assert [{**r, "source": None} for r in by_url] == [{**r, "source": None} for r in by_file]


def test_a_file_that_keeps_failing_is_an_input_error_and_the_run_goes_on(web, crawl, tmp_path):
    names = sorted(web.files)
    web.faults[names[1]] = ["503"] * 50
    del web.files[names[3]]  # listed, but 404: not retried
    done = llm_data("extract", "-i", str(crawl), "--base-url", web.base, "-o", str(tmp_path / "o"))
    stats = json.loads((tmp_path / "o" / "_stats.json").read_text())
    errors = {error["path"]: error["error"] for error in stats["input_errors"]}
    assert set(errors) == {web.url(names[1]), web.url(names[3])}
    assert "HTTP 503" in errors[web.url(names[1])]
    assert "after 3 retries" in errors[web.url(names[1])]
    assert "HTTP 404" in errors[web.url(names[3])]
    assert stats["documents"]["kept"] == 2 * 8
    assert "input errors                 2" in done.stdout or done.returncode == 0


def test_a_range_of_the_list_and_a_list_read_from_the_server(web, crawl, tmp_path):
    web.files["warc.paths.gz"] = crawl.read_bytes()
    llm_data("extract", "-i", web.url("warc.paths.gz"), "--base-url", web.base + "/",
             "--paths-range", "1:3", "-o", str(tmp_path / "o"))  # fmt: skip
    read = {path for path, _ in web.requests if path.endswith(".warc.gz")}
    assert read == set(sorted(p for p in web.files if p.startswith("crawl-data"))[1:3])
    assert len(documents(tmp_path / "o")) == 2 * 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "holds relative paths (crawl-data/"),
        (["--base-url", "http://x", "--paths-range", "9:"], "lists no path in the range 9:"),
        (["--base-url", "http://x", "--paths-range", "3"], "--paths-range '3' is not START:END"),
        (["--base-url", "ftp://x"], "ftp:// is not a supported store"),
    ],
)
def test_a_path_list_that_names_nothing_readable_is_one_line(crawl, tmp_path, args, message):
    done = llm_data("extract", "-i", str(crawl), *args, "-o", str(tmp_path / "o"), check=False)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_refresh_reads_new_lines_of_a_path_list(web, crawl, tmp_path):
    settings = {
        "executor.workers": 1,
        "extract.min_chars": 20,
        "extract.base_url": web.base,
        "tokenizer.vocab_size": 300,
        "tokenize.seq_len": 32,
        "tokenize.val_fraction": 0.1,
        "storage.backoff_s": 0.0,
    }
    corpus = tmp_path / "corpus"
    lines = gzip.decompress(crawl.read_bytes()).decode().splitlines()
    listing = tmp_path / "feed.paths"
    listing.write_text("\n".join(lines[:2]) + "\n")
    first = refresh(corpus, load_config(None, settings), [str(listing)], show_progress=False)
    assert first.outcome == "committed" and first.batch["inputs"] == 2
    listing.write_text("\n".join(lines) + "\n")
    web.faults[lines[3]] = ["drop:5000"]
    second = refresh(corpus, load_config(None, settings), [str(listing)], show_progress=False)
    assert second.version == 2 and second.batch["inputs"] == 2
    assert second.batch["extract"]["documents"] == 2 * 8
    third = refresh(corpus, load_config(None, settings), [str(listing)], show_progress=False)
    assert third.outcome == "nothing_new"
