import json
import time
from collections import Counter
from datetime import datetime, timezone

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.extract.convert import guarded
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.stages import run_extract


def test_every_input_document_is_kept_or_rejected(mixed_inputs, config, tmp_path):
    out = tmp_path / "out"
    summary = run_extract([str(mixed_inputs["root"])], out, config, show_progress=False)
    kept, rejected = read_table(out), read_table(out, rejected=True)
    reasons = Counter(rejected.column("reason").to_pylist())
    assert reasons == {
        "pdf_encrypted": 1,
        "pdf_corrupt": 1,
        "pdf_no_text": 1,
        "extract_error:binary": 1,
    }
    assert Counter(kept.column("format").to_pylist()) == {"html": 5, "pdf": 1}
    # Every input file shows up somewhere, by source.
    sources = set(kept.column("source").to_pylist()) | set(rejected.column("source").to_pylist())
    inputs = {str(p) for p in mixed_inputs["root"].rglob("*") if p.is_file()}
    assert sources == inputs
    stats = json.loads((out / "_stats.json").read_text())
    assert stats["skipped"] == {"warc_request": 1, "http_404": 1, "not_html": 1}
    assert stats["documents"] == {"kept": 6, "rejected": 4}
    manifest = summary.manifest
    assert manifest["counts"] == {"documents": 6, "rejected": 4}
    assert manifest["config"]["min_chars"] == 20
    assert {shard["file"] for shard in manifest["shards"]} == {
        p.name for p in out.glob("part-*.parquet")
    }
    assert len(set(kept.column("id").to_pylist())) == kept.num_rows
    assert not list(out.rglob(".*tmp*")) and not (out / "_progress").exists()


def test_common_readers_open_the_output(mixed_inputs, config, tmp_path):
    out = tmp_path / "out"
    run_extract([str(mixed_inputs["root"])], out, config, show_progress=False)
    glob = str(out / "*.parquet")
    assert ds.dataset(sorted(out.glob("*.parquet"))).count_rows() == 6
    assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall() == [(6,)]
    assert pl.read_parquet(glob).height == 6
    schema = pq.read_schema(next(out.glob("*.parquet")))
    assert schema.names[:9] == [
        "id",
        "text",
        "url",
        "source",
        "format",
        "date",
        "language",
        "language_score",
        "metadata",
    ]


def test_jsonl_and_parquet_pass_through(tmp_path, config):
    (tmp_path / "in").mkdir()
    lines = [
        json.dumps(
            {"text": "A passage that is long enough to keep it.", "url": "u1", "lang": "en"}
        ),
        "{not json",
        json.dumps({"body": "no text field here"}),
        "",
        json.dumps(["a", "list"]),
        json.dumps({"text": "short", "id": 7}),
    ]
    (tmp_path / "in" / "d.jsonl").write_text("\n".join(lines) + "\n")
    pl.DataFrame(
        {"content": ["Parquet passage that is long enough to keep."], "date": ["2024"]}
    ).write_parquet(tmp_path / "in" / "e.parquet")
    pl.DataFrame({"other": [1]}).write_parquet(tmp_path / "in" / "f.parquet")
    out = tmp_path / "out"
    jsonl_config = config.model_copy(deep=True)
    run_extract([str(tmp_path / "in" / "d.jsonl")], out, jsonl_config, show_progress=False)
    kept, rejected = read_table(out).to_pylist(), read_table(out, rejected=True).to_pylist()
    assert [row["url"] for row in kept] == ["u1"]
    assert json.loads(kept[0]["metadata"]) == {"lang": "en", "record": 1}
    assert [row["reason"] for row in rejected] == [
        "extract_error:bad_record",
        "extract_error:bad_record",
        "extract_error:bad_record",
        "too_short",
    ]
    parquet_config = config.model_copy(deep=True)
    parquet_config.extract.text_field = "content"
    out2 = tmp_path / "out2"
    run_extract([str(tmp_path / "in" / "*.parquet")], out2, parquet_config, show_progress=False)
    kept = read_table(out2).to_pylist()
    first_of_2024 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert [(row["text"][:7], row["date"]) for row in kept] == [("Parquet", first_of_2024)]
    assert json.loads(kept[0]["metadata"])["date"] == "2024"  # as the input wrote it
    [missing] = read_table(out2, rejected=True).to_pylist()
    assert missing["reason"] == "extract_error:unreadable"
    assert "no column 'content'" in json.loads(missing["metadata"])["error"]


def test_document_time_limit(config):
    doc = Document(id="x", text="", source="s", format="html")

    def slow(target: Document) -> None:
        time.sleep(5)

    limited = config.extract.model_copy(update={"document_timeout_s": 0.2})
    started = time.monotonic()
    outcome = guarded(doc, 10, limited, slow)
    assert time.monotonic() - started < 3
    assert outcome.reason == "extract_error:timeout"


def test_library_exception_becomes_a_rejection(config):
    def broken(target: Document) -> None:
        raise RecursionError("deep tree")

    outcome = guarded(
        Document(id="x", text="", source="s", format="html"), 1, config.extract, broken
    )
    assert outcome.reason == "extract_error:failed"
    assert "RecursionError" in outcome.document.metadata["error"]


def test_rerun_is_up_to_date_and_other_settings_need_overwrite(mixed_inputs, config, tmp_path):
    out = tmp_path / "out"
    first = run_extract([str(mixed_inputs["pages"])], out, config, show_progress=False)
    again = run_extract([str(mixed_inputs["pages"])], out, config, show_progress=False)
    assert not first.up_to_date and again.up_to_date and again.tasks_run == 0
    other = config.model_copy(deep=True)
    other.extract.min_chars = 5
    with pytest.raises(StageError, match="--overwrite"):
        run_extract([str(mixed_inputs["pages"])], out, other, show_progress=False)
    replaced = run_extract(
        [str(mixed_inputs["pages"])], out, other, show_progress=False, overwrite=True
    )
    assert not replaced.up_to_date and replaced.manifest["config"]["min_chars"] == 5


def test_worker_count_does_not_change_the_output(mixed_inputs, config, tmp_path):
    config.extract.task_max_files = 1
    one, two = tmp_path / "one", tmp_path / "two"
    run_extract([str(mixed_inputs["root"])], one, config, show_progress=False)
    config.executor.workers = 2
    run_extract([str(mixed_inputs["root"])], two, config, show_progress=False)
    assert read_table(one).equals(read_table(two))
    assert read_table(one, rejected=True).equals(read_table(two, rejected=True))


def test_time_limit_applies_inside_worker_processes(tmp_path, config):
    """The limit uses SIGALRM, which needs the worker's main thread: check it fires there."""
    from llm_pretrain.samples import article

    (tmp_path / "big.html").write_text(article(1, paragraphs=400).html)
    config.extract.document_timeout_s = 0.001
    out = tmp_path / "out"
    run_extract([str(tmp_path / "big.html")], out, config, show_progress=False)
    [row] = read_table(out, rejected=True).to_pylist()
    assert row["reason"] == "extract_error:timeout"


def test_progress_is_logged_when_stderr_is_not_a_terminal(tmp_path, config, monkeypatch, caplog):
    from llm_pretrain.pipeline import progress
    from llm_pretrain.samples import article

    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.01)
    pages = tmp_path / "pages"
    pages.mkdir()
    for index in range(30):
        (pages / f"p{index}.html").write_text(article(index, paragraphs=40).html)
    config.extract.task_max_files = 1
    with caplog.at_level("INFO", logger="llm_pretrain.pipeline.progress"):
        run_extract([str(pages)], tmp_path / "out", config, show_progress=True)
    lines = [r.getMessage() for r in caplog.records if "docs/s" in r.getMessage()]
    assert lines and "MB read" in lines[-1]


def test_a_reader_that_cannot_be_imported_fails_before_anything_is_written(
    tmp_path, config, monkeypatch
):
    """A broken library (pymupdf missing its shared object) must not let the run start and
    record every file as a failed task: the readers are loaded in the parent first."""
    from llm_pretrain.pipeline.extract import formats

    def broken() -> None:
        raise ImportError("libmupdf.so: cannot open shared object file")

    monkeypatch.setattr(formats.FORMATS["pdf"], "reader", broken)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "page.html").write_text("<html><body><p>text</p></body></html>")
    with pytest.raises(ImportError, match="libmupdf"):
        run_extract([str(tmp_path / "in")], tmp_path / "out", config, show_progress=False)
    assert not (tmp_path / "out").exists()
