import gzip
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.documents import Document, Rejected, Skipped, document_id
from llm_pretrain.pipeline.extract.inputs import discover
from llm_pretrain.pipeline.extract.stage import _file_outcomes
from llm_pretrain.pipeline.extract.warc import read_warc
from llm_pretrain.pipeline.stats import ExtractStats
from llm_pretrain.samples import article, warc_record_spans
from llm_pretrain.stages import run_extract
from tests.conftest import http_response, write_test_warc


def outcomes(path, config):
    [file], _ = discover([str(path)])
    counts = ExtractStats()
    return list(_file_outcomes(file, config.extract, counts)), counts


def test_plain_and_gzip_warc_give_the_same_documents(tmp_path, config):
    urls = write_test_warc(tmp_path / "a.warc", gzip=False)
    write_test_warc(tmp_path / "b.warc.gz", gzip=True)
    plain, _ = outcomes(tmp_path / "a.warc", config)
    gzipped, _ = outcomes(tmp_path / "b.warc.gz", config)
    docs = [o for o in plain if isinstance(o, Document)]
    assert [d.url for d in docs] == urls
    assert [d.text for d in docs] == [o.text for o in gzipped if isinstance(o, Document)]
    skipped = Counter(o.reason for o in plain if isinstance(o, Skipped))
    assert skipped == {"warc_request": 1, "http_404": 1, "not_html": 1}
    doc = docs[0]
    assert doc.format == "html" and doc.source.endswith("a.warc")
    assert doc.date and doc.date.startswith("20")
    assert doc.metadata["title"] and doc.metadata["warc_record_id"].startswith("<urn:uuid:")
    assert "Privacy policy" not in doc.text


def test_ids_are_stable_and_unique(tmp_path, config):
    write_test_warc(tmp_path / "a.warc.gz")
    first, _ = outcomes(tmp_path / "a.warc.gz", config)
    second, _ = outcomes(tmp_path / "a.warc.gz", config)
    ids = [o.id for o in first if isinstance(o, Document)]
    assert ids == [o.id for o in second if isinstance(o, Document)]
    assert len(set(ids)) == len(ids)


def test_truncated_warc_keeps_what_was_read(tmp_path, config):
    write_test_warc(tmp_path / "full.warc.gz", pages=6)
    data = (tmp_path / "full.warc.gz").read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(data[: int(len(data) * 0.6)])
    results, counts = outcomes(tmp_path / "cut.warc.gz", config)
    kept = [o for o in results if isinstance(o, Document)]
    assert 0 < len(kept) < 6
    last = results[-1]
    assert isinstance(last, Rejected) and last.reason == "extract_error:truncated"
    assert counts.input_errors and counts.input_errors[0]["path"].endswith("cut.warc.gz")


def test_wet_conversion_records_pass_through(tmp_path, config):
    path = tmp_path / "x.warc.wet.gz"
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for index, text in enumerate(["A plain text record that is long enough to keep.", "tiny"]):
            record = writer.create_warc_record(
                f"https://x.org/{index}",
                "conversion",
                payload=io.BytesIO(text.encode()),
                warc_headers_dict={"WARC-Identified-Content-Language": "eng"},
            )
            writer.write_record(record)
    [file], _ = discover([str(path)])
    results = list(read_warc(file, config.extract))
    assert isinstance(results[0], Document) and results[0].format == "text"
    assert results[0].text.startswith("A plain text record")
    assert results[0].metadata["cc_languages"] == "eng"
    assert isinstance(results[1], Rejected) and results[1].reason == "too_short"


def test_oversized_record_is_rejected_unread(tmp_path, config):
    write_test_warc(tmp_path / "a.warc.gz", pages=1)
    small = config.model_copy(deep=True)
    small.extract.max_document_bytes = 100
    results, _ = outcomes(tmp_path / "a.warc.gz", small)
    rejected = [o for o in results if isinstance(o, Rejected)]
    assert [r.reason for r in rejected] == ["extract_error:too_large"]


def record_boundaries(path) -> set[int]:
    """Offsets where whole records end: a file cut exactly there is a valid, shorter WARC."""
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream)
        ends = set()
        for record in records:
            records.read_to_end(record)
            ends.add(records.get_record_offset() + records.get_record_length())
    return ends


def test_every_cut_is_noticed(tmp_path, config):
    """warcio ends quietly at most cuts (inside headers, payloads or gzip trailers); we don't."""
    write_test_warc(tmp_path / "full.warc.gz", pages=6)
    write_test_warc(tmp_path / "full.warc", pages=6, gzip=False)
    for name in ("full.warc.gz", "full.warc"):
        data = (tmp_path / name).read_bytes()
        boundaries = record_boundaries(tmp_path / name)
        sizes = sorted({len(data) * i // 40 for i in range(1, 40)} - boundaries)
        for size in sizes:
            cut = tmp_path / f"cut-{size}-{name}"
            cut.write_bytes(data[:size])
            results, counts = outcomes(cut, config)
            assert isinstance(results[-1], Rejected), (name, size)
            assert results[-1].reason == "extract_error:truncated"
            assert counts.input_errors
        complete, counts = outcomes(tmp_path / name, config)
        assert not counts.input_errors and len(sizes) >= 35


def test_non_utf8_pages_decode_from_header_or_meta(tmp_path, config):
    russian = "Съешь же ещё этих мягких французских булок, да выпей же чаю. " * 4
    german = "Grüße aus Köln: Die Straßenbahn fährt über die Brücke am Rhein. " * 4
    path = tmp_path / "legacy.warc.gz"
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        pages = [
            (
                f"<html><body><article><p>{russian}</p></article></body></html>",
                "windows-1251",
                "text/html; charset=windows-1251",
            ),
            (
                '<html><head><meta http-equiv="Content-Type" content="text/html; '
                f'charset=iso-8859-1"></head><body><article><p>{german}</p></article></body></html>',
                "latin-1",
                "text/html",
            ),
        ]
        for index, (page, encoding, ctype) in enumerate(pages):
            payload = page.encode(encoding)
            writer.write_record(
                writer.create_warc_record(
                    f"https://x.org/{index}",
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=StatusAndHeaders("200 OK", [("Content-Type", ctype)], "HTTP/1.1"),
                )
            )
    results, _ = outcomes(path, config)
    assert [o.text.strip() for o in results] == [russian.strip(), german.strip()]
    assert [o.metadata["charset"] for o in results] == ["cp1251", "iso8859-1"]


def write_crawl(path: Path, pages: int, gzip: bool = True) -> None:
    """Per page a request record, then the HTML response: 2 * `pages` records."""
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gzip)
        for index in range(pages):
            page = article(index, seed=11)
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "x.org")], is_http_request=True)
            writer.write_record(
                writer.create_warc_record(
                    page.url, "request", payload=io.BytesIO(b""), http_headers=request
                )
            )
            payload = page.html.encode()
            writer.write_record(
                writer.create_warc_record(
                    page.url,
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=http_response(payload, "text/html; charset=utf-8"),
                )
            )


def flipped(data: bytes, *spots: tuple[int, int]) -> bytes:
    """`data` with `count` bytes inverted at each (offset, count)."""
    damaged = bytearray(data)
    for offset, count in spots:
        for at in range(offset, offset + count):
            damaged[at] ^= 0xFF
    return bytes(damaged)


def by_id(results: list) -> dict[str, dict]:
    """Kept documents as rows without `source` (the damaged copy has another path)."""
    rows = {o.id: o.to_row() for o in results if isinstance(o, Document)}
    return {key: {k: v for k, v in row.items() if k != "source"} for key, row in rows.items()}


def without_record_at(rows: dict[str, dict], offset: int) -> dict[str, dict]:
    return {
        key: row
        for key, row in rows.items()
        if json.loads(row["metadata"])["warc_offset"] != offset
    }


def damaged_rows(results: list) -> list[Rejected]:
    return [o for o in results if isinstance(o, Rejected) and o.reason == "extract_error:damaged"]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    """140 pages, 280 gzip members: member 2i is page i's request, 2i + 1 its response."""
    path = tmp_path_factory.mktemp("crawl") / "crawl.warc.gz"
    write_crawl(path, pages=140)
    return path


def damage(crawl: Path, tmp_path: Path, *spots: tuple[int, int]) -> Path:
    path = tmp_path / "damaged.warc.gz"
    path.write_bytes(flipped(crawl.read_bytes(), *spots))
    return path


def check_damaged_row(row: Rejected, path: Path, damaged_at: int, resumed_at: int | None) -> None:
    doc = row.document
    assert doc.id == document_id(str(path), "#damaged", str(damaged_at))
    assert (doc.source, doc.format, doc.text) == (str(path), "warc", "")
    assert doc.metadata["damaged_at"] == damaged_at
    assert doc.metadata["resumed_at"] == resumed_at
    error = doc.metadata["error"]
    assert error.isascii() and error.isprintable() and 0 < len(error) < 300


def test_flipped_bytes_in_a_gzip_member_lose_only_its_record(crawl, tmp_path, config):
    spans = warc_record_spans(crawl)
    assert len(spans) == 280
    intact, _ = outcomes(crawl, config)
    offset, length = spans[141]  # page 70's response, mid-file
    path = damage(crawl, tmp_path, (offset + length // 2, 20))
    results, counts = outcomes(path, config)
    assert by_id(results) == without_record_at(by_id(intact), offset)
    assert len(by_id(results)) == 139
    [row] = damaged_rows(results)
    check_damaged_row(row, path, offset, spans[142][0])
    assert "while decompressing" in row.document.metadata["error"]
    assert not counts.input_errors
    assert Counter(o.reason for o in results if isinstance(o, Skipped)) == {"warc_request": 140}


def test_a_bad_crc_rejects_its_record(crawl, tmp_path, config):
    """The record inflates whole; only the trailer shows that its content is not what was
    written, so it is rejected, not kept."""
    spans = warc_record_spans(crawl)
    offset, length = spans[5]  # page 2's response; its CRC is the trailer's first 4 bytes
    path = damage(crawl, tmp_path, (offset + length - 8, 1))
    results, counts = outcomes(path, config)
    docs = by_id(results)
    assert len(docs) == 139 and without_record_at(docs, offset) == docs
    [row] = damaged_rows(results)
    check_damaged_row(row, path, offset, spans[6][0])
    assert "incorrect data check" in row.document.metadata["error"]
    assert not counts.input_errors


def test_damaged_last_member_ends_the_file_without_a_truncation(crawl, tmp_path, config):
    spans = warc_record_spans(crawl)
    offset, length = spans[-1]
    path = damage(crawl, tmp_path, (offset + length // 2, 20))
    results, counts = outcomes(path, config)
    assert len(by_id(results)) == 139
    [row] = damaged_rows(results)
    assert results[-1] is row and not counts.input_errors
    check_damaged_row(row, path, offset, None)
    assert row.document.metadata["skipped_bytes"] == length


def test_two_damaged_members_give_two_rows(crawl, tmp_path, config):
    spans = warc_record_spans(crawl)
    (first, first_length), (second, _) = spans[61], spans[201]
    path = damage(crawl, tmp_path, (first + first_length // 2, 20), (second + 40, 5))
    results, _ = outcomes(path, config)
    assert len(by_id(results)) == 138
    rows = damaged_rows(results)
    assert [r.document.metadata["damaged_at"] for r in rows] == [first, second]
    assert [r.document.metadata["resumed_at"] for r in rows] == [spans[62][0], spans[202][0]]


def test_garbage_over_a_plain_warc_record_resyncs_at_the_next_one(tmp_path, config):
    write_crawl(tmp_path / "intact.warc", pages=20, gzip=False)
    spans = warc_record_spans(tmp_path / "intact.warc")
    data = bytearray((tmp_path / "intact.warc").read_bytes())
    offset, length = spans[21]  # page 10's response: its header and half its block
    garbage = (b"\x00\xff\x1b[31m binary junk \r\n" * length)[: length // 2]
    data[offset + 3 : offset + 3 + len(garbage)] = garbage
    path = tmp_path / "damaged.warc"
    path.write_bytes(bytes(data))
    intact, _ = outcomes(tmp_path / "intact.warc", config)
    results, counts = outcomes(path, config)
    expected = by_id(intact)
    assert len(expected) == 20
    assert by_id(results) == without_record_at(expected, offset)
    [row] = damaged_rows(results)
    check_damaged_row(row, path, offset, spans[22][0])
    assert "\\x1b" in row.document.metadata["error"] and not counts.input_errors


def test_a_cut_with_whole_members_after_it_is_damage(tmp_path, config):
    write_test_warc(tmp_path / "a.warc.gz", pages=3)
    data = (tmp_path / "a.warc.gz").read_bytes()
    (tmp_path / "b.warc.gz").write_bytes(data[: len(data) // 2] + data)
    results, counts = outcomes(tmp_path / "b.warc.gz", config)
    [row] = damaged_rows(results)
    assert row.document.metadata["resumed_at"] == len(data) // 2
    assert len([o for o in results if isinstance(o, Document)]) > 3 and not counts.input_errors


def test_one_gzip_stream_for_the_whole_file(tmp_path, config):
    """`gzip crawl.warc` makes one member for all records: warcio's iterator refuses it."""
    write_test_warc(tmp_path / "a.warc", gzip=False)
    (tmp_path / "a.warc.gz").write_bytes(gzip.compress((tmp_path / "a.warc").read_bytes()))
    plain, _ = outcomes(tmp_path / "a.warc", config)
    whole, counts = outcomes(tmp_path / "a.warc.gz", config)
    assert [o.id for o in whole if isinstance(o, Document)] == [
        o.id for o in plain if isinstance(o, Document)
    ]
    assert len(whole) == len(plain) == 8 and not counts.input_errors


def test_extract_stage_accounts_for_every_record_of_a_damaged_warc(crawl, tmp_path, config):
    spans = warc_record_spans(crawl)
    (tmp_path / "in").mkdir()
    offset, length = spans[141]
    damaged = tmp_path / "in" / "crawl.warc.gz"
    damaged.write_bytes(flipped(crawl.read_bytes(), (offset + length // 2, 20)))
    out = tmp_path / "out"
    run_extract([str(tmp_path / "in")], out, config, show_progress=False)
    kept, rejected = read_table(out), read_table(out, rejected=True)
    stats = json.loads((out / "_stats.json").read_text())
    reasons = Counter(rejected.column("reason").to_pylist())
    assert reasons["extract_error:damaged"] == 1 and not stats["input_errors"]
    # One damaged row per record skipped (here one member): kept + rejected + skipped = all.
    assert kept.num_rows + rejected.num_rows + sum(stats["skipped"].values()) == len(spans)
    assert kept.num_rows == 139 and stats["skipped"] == {"warc_request": 140}


def test_a_record_of_endless_header_lines_is_damage_in_bounded_memory(tmp_path, config):
    """Five million short header lines took warcio 1.1 GB; lines past 1 MiB are damage."""
    path = tmp_path / "bomb.warc.gz"
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for index in range(3):
            payload = article(index, seed=8).html.encode()
            headers = [("Content-Type", "text/html")]
            if index == 1:
                headers += [(f"X-{n}", "y") for n in range(200_000)]
            writer.write_record(
                writer.create_warc_record(
                    f"https://x.org/{index}",
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1"),
                )
            )
    results, _ = outcomes(path, config)
    assert [o.url for o in results if isinstance(o, Document)] == [
        "https://x.org/0",
        "https://x.org/2",
    ]
    [row] = damaged_rows(results)
    assert "header lines" in row.document.metadata["error"]
