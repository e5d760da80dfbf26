"""A document that hangs where SIGALRM cannot reach (C code holding the GIL) or kills its worker
is rejected alone; the rest of its task is kept (issue 18, case 7)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.extract import convert
from llm_pretrain.samples import article
from llm_pretrain.stages import run_extract

real_extract_page = convert.extract_page


def hostile_extract_page(html, url, config):
    """Pages holding HANG block SIGALRM and stall, as a parser stuck in C would; pages holding
    CRASH kill their worker, as a segfault or the OOM killer would."""
    if "HANG" in html:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    if "CRASH" in html:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_extract_page(html, url, config)


@pytest.fixture
def pages(tmp_path) -> Path:
    folder = tmp_path / "pages"
    folder.mkdir()
    for index in range(8):
        html = article(index, seed=9).html
        if index in (2, 5):
            html = html.replace("</body>", "<p>HANG</p></body>")
        if index == 6:
            html = html.replace("</body>", "<p>CRASH</p></body>")
        (folder / f"p{index}.html").write_text(html, encoding="utf-8")
    return folder


def test_only_the_documents_that_stop_their_worker_are_lost(pages, tmp_path, config, monkeypatch):
    monkeypatch.setattr(convert, "extract_page", hostile_extract_page)
    config.extract.document_timeout_s = 0.5  # hard limit: 1 s without progress
    config.extract.task_max_files = 100  # one task holds all eight pages
    started = time.monotonic()
    summary = run_extract([str(pages)], tmp_path / "out", config, show_progress=False)
    assert time.monotonic() - started < 120
    kept = sorted(Path(row["source"]).name for row in read_table(tmp_path / "out").to_pylist())
    assert kept == ["p0.html", "p1.html", "p3.html", "p4.html", "p7.html"]
    rejected = {
        Path(row["source"]).name: row for row in read_table(tmp_path / "out", True).to_pylist()
    }
    assert {name: row["reason"] for name, row in rejected.items()} == {
        "p2.html": "extract_error:timeout",
        "p5.html": "extract_error:timeout",
        "p6.html": "extract_error:worker_crash",
    }
    error = json.loads(rejected["p2.html"]["metadata"])["error"]
    assert "no progress for 1 s" in error and "hostile_extract_page" in error  # where it hung
    assert summary.manifest["counts"] == {"documents": 5, "rejected": 3}
    assert summary.stats["tasks"] == 1


def hang_once(html, url, config):
    """Pages holding ONCE stall in the first attempt only: a suspended job, a stalled mount."""
    flag = Path(os.environ["WATCHDOG_TEST_FLAG"])
    if "ONCE" in html and not flag.exists():
        flag.touch()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    return real_extract_page(html, url, config)


def test_one_death_alone_costs_a_retry_not_a_document(tmp_path, config, monkeypatch):
    pages = tmp_path / "pages"
    pages.mkdir()
    for index in range(4):
        html = article(index, seed=9).html
        html = html.replace("</body>", "<p>ONCE</p></body>") if index == 1 else html
        (pages / f"p{index}.html").write_text(html, encoding="utf-8")
    monkeypatch.setenv("WATCHDOG_TEST_FLAG", str(tmp_path / "stalled"))
    monkeypatch.setattr(convert, "extract_page", hang_once)
    config.extract.document_timeout_s = 0.5
    config.extract.task_max_files = 100
    summary = run_extract([str(pages)], tmp_path / "out", config, show_progress=False)
    assert (tmp_path / "stalled").exists()  # the first attempt did stall
    assert summary.manifest["counts"] == {"documents": 4, "rejected": 0}


def test_a_file_that_stalls_while_read_keeps_what_was_read_before(tmp_path, config, monkeypatch):
    from llm_pretrain.pipeline.extract import warc
    from llm_pretrain.samples import write_warc

    write_warc(tmp_path / "in" / "crawl.warc.gz", [article(i, seed=4) for i in range(6)])
    real_read_record = warc._read_record
    records = iter(range(10**6))

    def stall_at_the_eighth_record(stream, config):  # records: request, response, ...
        if next(records) == 8:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(600)
        return real_read_record(stream, config)

    monkeypatch.setattr(warc, "_read_record", stall_at_the_eighth_record)
    config.extract.document_timeout_s = 0.5
    summary = run_extract([str(tmp_path / "in")], tmp_path / "out", config, show_progress=False)
    kept = read_table(tmp_path / "out").to_pylist()
    assert [row["url"] for row in kept] == [article(i, seed=4).url for i in range(4)]
    [row] = read_table(tmp_path / "out", True).to_pylist()
    assert row["reason"] == "extract_error:timeout"
    assert json.loads(row["metadata"])["records_read"] == 8
    assert summary.stats["input_errors"][0]["records"] == 8
