"""Dates as inputs write them, read into the `date` column; what cannot be read is null, and the
text stays in `metadata`."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.dates import DATE_TYPE, date_array, parse_date
from llm_pretrain.pipeline.documents import DOCUMENT_SCHEMA, Document, upgrade_table
from llm_pretrain.stages import run_extract
from tests.conftest import write_test_warc


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2024-03-15T12:00:00Z", utc(2024, 3, 15, 12)),  # WARC-Date
        ("2024-03-15T12:00:00.123456Z", utc(2024, 3, 15, 12, 0, 0, 123456)),  # WARC/1.1
        ("2024-03-15T12:00:00+02:00", utc(2024, 3, 15, 10)),
        ("2024-03-15 12:00:00-05:30", utc(2024, 3, 15, 17, 30)),
        ("2024-03-15T12:00:00", utc(2024, 3, 15, 12)),  # no zone: UTC
        ("2024-03-15", utc(2024, 3, 15)),  # trafilatura's, a PDF's
        ("2024-03", utc(2024, 3, 1)),
        ("2024", utc(2024, 1, 1)),
        ("  2024-03-15\n", utc(2024, 3, 15)),
        ("Fri, 15 Mar 2024 12:00:00 GMT", utc(2024, 3, 15, 12)),  # HTTP
        ("Fri, 15 Mar 2024 12:00:00 +0100", utc(2024, 3, 15, 11)),  # e-mail
    ],
)
def test_dates_that_can_be_read(text, instant):
    assert parse_date(text) == instant


@pytest.mark.parametrize(
    "text",
    [None, "", "   ", "garbage", "last Tuesday", "2024-13-01", "2024-02-30", "1700000000",
     "0001-01-01T00:00:00+01:00", "99999", "20240115", "2024-W03-1", ".1234Z"],
)  # fmt: skip
def test_dates_that_cannot_be_read_are_none(text):
    assert parse_date(text) is None


def test_a_date_that_cannot_be_read_is_null_and_its_text_kept():
    rows = [
        Document(id="a", text="t", source="s", format="text", date="garbage").to_row(),
        Document(id="b", text="t", source="s", format="text", date="2024-03-15T12:00:00Z").to_row(),
        Document(id="c", text="t", source="s", format="text").to_row(),
    ]
    table = pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
    assert table.column("date").to_pylist() == [None, utc(2024, 3, 15, 12), None]
    metadata = [json.loads(text) for text in table.column("metadata").to_pylist()]
    assert metadata == [{"date": "garbage"}, {"date": "2024-03-15T12:00:00Z"}, {}]


def test_date_array_converts_every_kind_of_column():
    texts = pa.chunked_array([pa.array(["2024-03-15", None, "nope"])])
    assert date_array(texts).to_pylist() == [utc(2024, 3, 15), None, None]
    naive = pa.array([datetime(2024, 3, 15, 12)], pa.timestamp("ns"))
    assert date_array(naive).to_pylist() == [utc(2024, 3, 15, 12)]
    assert date_array(pa.nulls(2)).type == DATE_TYPE


def test_a_table_of_schema_1_is_upgraded_keeping_the_text():
    """`date` was text: parsed, and the text put where extract now keeps it (an existing
    "date" in metadata wins)."""
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "date": ["2024-03-15T12:00:00Z", "garbage", None],
            "metadata": ['{"record": 1}', '{"date": "from the input", "record": 2}', "{}"],
        }
    )
    upgraded = upgrade_table(table)
    assert upgraded.schema.field("date").type == DATE_TYPE
    assert upgraded.column("date").to_pylist() == [utc(2024, 3, 15, 12), None, None]
    assert [json.loads(text) for text in upgraded.column("metadata").to_pylist()] == [
        {"date": "2024-03-15T12:00:00Z", "record": 1},
        {"date": "from the input", "record": 2},
        {},
    ]
    assert upgrade_table(upgraded) is upgraded  # schema 2: as it is


def test_warc_dates_become_the_date_column(tmp_path, config):
    write_test_warc(tmp_path / "in.warc.gz", pages=2)
    run_extract([str(tmp_path / "in.warc.gz")], tmp_path / "out", config, show_progress=False)
    rows = read_table(tmp_path / "out").to_pylist()
    assert len(rows) == 2
    for row in rows:
        text = json.loads(row["metadata"])["date"]  # the record's WARC-Date
        assert text.endswith("Z") and row["date"] is not None and row["date"] == parse_date(text)
