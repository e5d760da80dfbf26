"""A document dataset folder read by common tools gives its kept documents and nothing else, and
datasets that earlier versions wrote (schema 1: `rejected/`, a text `date`) still work."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llm_pretrain.pipeline import runner
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.stages import run_dedup, run_extract, run_filter
from llm_pretrain.storage import file_sha256
from tests.pipeline.dedup.corpus import original
from tests.pipeline.helpers import shard_checksums

# name -> (text, date as the input writes it). Each cluster's oldest document is not its first,
# and its date would not sort first as text.
DOCUMENTS = {
    "a-late": (original(1), "2024-03-15T12:00:00Z"),
    "a-early": (original(1), "Tue, 15 Mar 2022 12:00:00 GMT"),
    "b-late": (original(2), "2024-03-15T08:00:00Z"),
    "b-early": (original(2), "2024-03-15T12:00:00+05:00"),  # 07:00 UTC
    "c-undated": (original(3), None),
    "c-garbage": (original(3), "the day after tomorrow"),
    "c-year": (original(3), "2020"),
    "unique": (original(4), "2021-06-01"),
    "short": ("Too short.", "2021-06-02"),  # rejected by extract
}
SURVIVORS = {"a-early", "b-early", "c-year", "unique"}


def write_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, (text, date) in DOCUMENTS.items():
        row = {"text": text, "url": f"https://example.org/{name}"}
        if date is not None:
            row["date"] = date
        lines.append(json.dumps(row) + "\n")
    (folder / "docs.jsonl").write_text("".join(lines[:5]))
    (folder / "more.jsonl").write_text("".join(lines[5:]))
    return folder


@pytest.fixture
def extracted(tmp_path, config):
    config.extract.task_max_files = 1  # two shards
    inputs = write_inputs(tmp_path / "in")
    run_extract([str(inputs)], tmp_path / "extracted", config, show_progress=False)
    return tmp_path / "extracted"


def names(table: pa.Table | pd.DataFrame) -> list[str]:
    urls = table["url"].to_pylist() if isinstance(table, pa.Table) else list(table["url"])
    return sorted(url.rsplit("/", 1)[1] for url in urls)


def as_schema_1(folder: Path) -> None:
    """Rewrite a finished dataset as versions before schema 2 wrote it: rejected shards under
    `rejected/`, `date` the input's text (and not in `metadata`), no cards."""
    manifest = json.loads((folder / "_manifest.json").read_text())
    (folder / "_rejected").rename(folder / "rejected")
    for name in (".huggingface.yaml", "_README.md"):
        (folder / name).unlink()
    for shard in manifest["shards"] + manifest["rejected_shards"]:
        shard["file"] = shard["file"].replace("_rejected/", "rejected/")
        path = folder / shard["file"]
        table = pq.read_table(path)
        metadata = [json.loads(text) for text in table["metadata"].to_pylist()]
        dates = [values.pop("date", None) for values in metadata]
        texts = [json.dumps(values, sort_keys=True) for values in metadata]
        at, meta_at = table.schema.get_field_index("date"), table.schema.get_field_index("metadata")
        table = table.set_column(at, pa.field("date", pa.string()), pa.array(dates, pa.string()))
        table = table.set_column(meta_at, table.schema.field(meta_at), pa.array(texts, pa.string()))
        pq.write_table(table, path, compression="zstd")
        shard["bytes"], shard["sha256"] = path.stat().st_size, file_sha256(path)
    manifest["schema_version"] = 1
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def test_a_new_dataset_reads_as_its_kept_documents_alone(extracted, config, tmp_path):
    deduped = tmp_path / "deduped"
    config.dedup.keep = "oldest"
    run_dedup(extracted, deduped, config, show_progress=False)
    for folder, kept, rejected in (
        (extracted, set(DOCUMENTS) - {"short"}, 1),
        (deduped, SURVIVORS, 4),
    ):
        assert (folder / "_rejected").is_dir() and not (folder / "rejected").exists()
        assert read_table(folder, rejected=True).num_rows == rejected
        assert names(read_table(folder)) == sorted(kept)
        assert names(pq.read_table(folder)) == sorted(kept)
        assert names(pd.read_parquet(folder)) == sorted(kept)


def test_datasets_loads_the_kept_documents(extracted, tmp_path, monkeypatch):
    home = tmp_path / "hf"
    for name, value in (("HF_HOME", home), ("HF_DATASETS_OFFLINE", 1), ("HF_HUB_OFFLINE", 1)):
        monkeypatch.setenv(name, str(value))
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # if imported before
    cache = str(home / "datasets")
    kept = names(read_table(extracted))
    whole = datasets.load_dataset(str(extracted), cache_dir=cache)
    assert list(whole) == ["train"] and names(whole["train"].to_pandas()) == kept
    # The folder's _ files and _rejected/ are not Parquet data: name the shards.
    parquet = datasets.load_dataset(
        "parquet", data_dir=str(extracted), data_files="part-*.parquet", cache_dir=cache
    )
    assert names(parquet["train"].to_pandas()) == kept
    assert whole["train"].features["date"] == datasets.Value("timestamp[us, tz=UTC]")
    card = (extracted / "_README.md").read_text()
    assert "`llm-data extract`" in card and "8 documents in 2 Parquet shards" in card
    assert "1 rejected document," in card


def test_the_date_column_is_a_timestamp_with_its_text_in_metadata(extracted):
    rows = {row["url"].rsplit("/", 1)[1]: row for row in read_table(extracted).to_pylist()}
    assert rows["b-early"]["date"] == datetime(2024, 3, 15, 7, tzinfo=timezone.utc)
    assert rows["a-early"]["date"] == datetime(2022, 3, 15, 12, tzinfo=timezone.utc)
    assert rows["c-garbage"]["date"] is None and rows["c-undated"]["date"] is None
    for name, row in rows.items():
        assert json.loads(row["metadata"]).get("date") == DOCUMENTS[name][1]


def test_keep_oldest_keeps_the_oldest_document(extracted, config, tmp_path):
    config.dedup.keep = "oldest"
    run_dedup(extracted, tmp_path / "deduped", config, show_progress=False)
    assert names(read_table(tmp_path / "deduped")) == sorted(SURVIVORS)


def test_a_dataset_of_schema_1_is_read_by_the_later_stages(extracted, config, tmp_path):
    as_schema_1(extracted)
    assert names(read_table(extracted, rejected=True)) == ["short"]
    assert read_table(extracted).schema.field("date").type == pa.string()
    filtered = tmp_path / "filtered"
    config.filter.steps = []  # every document passes
    run_filter(extracted, filtered, config, show_progress=False)
    upgraded = read_table(filtered)
    assert upgraded.schema.field("date").type == pa.timestamp("us", tz="UTC")
    for row in upgraded.to_pylist():  # the text back in `metadata`, where extract puts it now
        name = row["url"].rsplit("/", 1)[1]
        assert json.loads(row["metadata"]).get("date") == DOCUMENTS[name][1]
    config.dedup.keep = "oldest"
    for source in (extracted, filtered):  # schema 1 or 2, the oldest survive
        deduped = tmp_path / f"deduped-{source.name}"
        run_dedup(source, deduped, config, show_progress=False)
        assert names(read_table(deduped)) == sorted(SURVIVORS)
        assert read_table(deduped).schema.field("date").type == pa.timestamp("us", tz="UTC")


def test_a_dataset_of_schema_1_is_found_done_or_overwritten_whole(extracted, config, tmp_path):
    as_schema_1(extracted)
    again = run_extract([str(tmp_path / "in")], extracted, config, show_progress=False)
    assert again.up_to_date and (extracted / "rejected").is_dir()
    (extracted / "notes.txt").write_text("kept beside the dataset")
    config.extract.min_chars = 5  # another run: "short" is kept now
    run_extract([str(tmp_path / "in")], extracted, config, show_progress=False, overwrite=True)
    assert not (extracted / "rejected").exists() and (extracted / "_rejected").is_dir()
    assert (extracted / "notes.txt").read_text() == "kept beside the dataset"
    assert names(read_table(extracted)) == sorted(DOCUMENTS)
    assert (extracted / "_README.md").is_file() and (extracted / ".huggingface.yaml").is_file()


def test_an_unfinished_run_of_schema_1_is_started_again(tmp_path, config, monkeypatch):
    config.extract.task_max_files = 1
    inputs = [str(write_inputs(tmp_path / "in"))]
    clean, out = tmp_path / "clean", tmp_path / "out"
    run_extract(inputs, clean, config, show_progress=False)

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # killed after the tasks, before the commit

    monkeypatch.setattr(runner, "_commit", die)
    with pytest.raises(KeyboardInterrupt):
        run_extract(inputs, out, config, show_progress=False)
    monkeypatch.undo()
    # What an earlier version leaves: its shards under rejected/, a plan without a schema.
    (out / "_rejected").rename(out / "rejected")
    plan = json.loads((out / "_progress" / "plan.json").read_text())
    del plan["schema_version"]
    (out / "_progress" / "plan.json").write_text(json.dumps(plan))

    resumed = run_extract(inputs, out, config, show_progress=False)
    assert resumed.tasks_run == 2  # every task again: none of the old shards is kept
    assert not (out / "rejected").exists()
    assert shard_checksums(out) == shard_checksums(clean)


def test_a_note_of_the_users_under_a_card_name_is_never_replaced(extracted, config, tmp_path):
    """A `_README.md` the user wrote into a dataset folder survives the run and --overwrite."""
    note = extracted / "_README.md"
    note.write_text("my notes on this crawl\n")
    config.extract.min_chars = config.extract.min_chars + 1  # another dataset: replaced whole
    run_extract([str(tmp_path / "in")], extracted, config, show_progress=False, overwrite=True)
    assert note.read_text() == "my notes on this crawl\n"
    assert (extracted / ".huggingface.yaml").read_bytes().startswith(b"# Written by llm-data")
