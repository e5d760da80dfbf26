import io
from collections import Counter

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from llm_pretrain.pipeline.documents import Document, Rejected, Skipped
from llm_pretrain.pipeline.extract.inputs import discover
from llm_pretrain.pipeline.extract.stage import TaskCounts, _file_outcomes
from llm_pretrain.pipeline.extract.warc import read_warc
from tests.conftest import write_test_warc


def outcomes(path, config):
    [file], _ = discover([str(path)])
    counts = TaskCounts()
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
