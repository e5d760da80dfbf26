"""Hostile inputs to listing (remote/listing.py, extract/inputs.py): damaged path lists, signed
URLs with a query string, --paths-range edge cases, a path list of 100,000 lines."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_pretrain.pipeline.extract.inputs import discover, kind_of
from llm_pretrain.remote.listing import ListingError, parse_range, read_path_list

BASE = "https://data.commoncrawl.org/"


def llm_data(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "llm_pretrain", *args, "--workers", "1", "-q"]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd)


def damaged_gzip(tmp_path: Path) -> Path:
    """A path list whose deflate stream is damaged (its header and size are fine)."""
    good = bytearray(gzip.compress(b"".join(b"crawl-data/%d.warc.gz\n" % i for i in range(1000))))
    for at in range(20, 60):
        good[at] ^= 0x55
    path = tmp_path / "warc.paths.gz"
    path.write_bytes(bytes(good))
    return path


def test_a_damaged_gzip_path_list_is_a_listing_error(tmp_path):
    with pytest.raises(ListingError, match="cannot be read"):
        read_path_list(str(damaged_gzip(tmp_path)), BASE, None)


def test_a_damaged_gzip_path_list_is_a_one_line_usage_error(tmp_path):
    done = llm_data("extract", "-i", str(damaged_gzip(tmp_path)), "--base-url", BASE,
                    "-o", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.paths", b"crawl-data/caf\xe9.warc.gz\n", "cannot be read"),  # Latin-1, not UTF-8
        ("x.paths.gz", b"crawl-data/a.warc.gz\n", "Not a gzipped file"),  # named .gz only
        ("x.paths.gz", gzip.compress(b"crawl-data/a.warc.gz\n" * 100)[:30], "cannot be read"),
    ],
)
def test_a_path_list_that_cannot_be_read_is_a_listing_error(tmp_path, name, content, message):
    """These are one-line errors."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ListingError, match=message):
        read_path_list(str(path), BASE, None)


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.s3.amazonaws.com/crawl/a.warc.gz?X-Amz-Signature=abc&X-Amz-Expires=3600",
        "https://example.org/dump/docs.jsonl?download=1",
    ],
)
def test_a_web_url_with_a_query_string_is_known_by_its_path(url):
    assert kind_of(url) is not None  # not "unsupported" for its query string


@pytest.mark.parametrize(
    ("given", "picked"),
    [
        ("-3:", [7, 8, 9]),
        ("-3:-1", [7, 8]),
        (":", list(range(10))),
        (" : ", list(range(10))),
        (":2", [0, 1]),
        ("8:", [8, 9]),
    ],  # fmt: skip
)
def test_paths_range_is_a_python_slice(tmp_path, given, picked):
    """Guard: negative numbers and open ends, as the README says (a Python slice)."""
    listing = tmp_path / "warc.paths"
    listing.write_text("".join(f"crawl-data/{i}.warc.gz\n" for i in range(10)))
    urls = read_path_list(str(listing), BASE, given)
    assert urls == [f"{BASE}crawl-data/{i}.warc.gz" for i in picked]


@pytest.mark.parametrize("given", ["3", "::", "1:2:3", "a:b", "0:1e3", ""])
def test_a_paths_range_that_is_not_start_end_is_refused(given):
    from llm_pretrain.errors import UsageError

    with pytest.raises(UsageError, match="is not START:END"):
        parse_range(given)


def test_a_path_list_of_100k_lines_is_listed_quickly(tmp_path):
    """Guard: a crawl's full warc.paths.gz (~100k lines) is listed in well under a second or
    two (no request per line)."""
    listing = tmp_path / "warc.paths.gz"
    lines = (
        b"crawl-data/CC-MAIN-2026-49/segments/1700000000000.%d/warc/CC-MAIN-%05d.warc.gz\n" % (i, i)
        for i in range(100_000)
    )
    listing.write_bytes(gzip.compress(b"".join(lines)))
    start = time.monotonic()
    files, unsupported = discover([str(listing)], BASE, None)
    assert len(files) == 100_000 and not unsupported
    assert time.monotonic() - start < 10
