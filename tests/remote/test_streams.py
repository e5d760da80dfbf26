"""Reading a URL through failures: every fault the web server injects is survived by resuming
where the body stopped (a range request), and a file that keeps failing is one clear error."""

from __future__ import annotations

import os

import pytest

from llm_pretrain.remote import stores
from llm_pretrain.remote.config import StorageConfig
from llm_pretrain.remote.streams import RemoteReadError, open_url

DATA = os.urandom(3_000_000)


@pytest.fixture(autouse=True)
def quick_retries():
    stores.use(StorageConfig(retries=3, backoff_s=0.0, timeout_s=5))
    yield
    stores.use(StorageConfig())


def read_all(url: str) -> tuple[bytes, int]:
    with open_url(url) as stream:
        data = stream.read()
        return data, stream.raw.resumptions


@pytest.mark.parametrize(
    "faults",
    [
        ["drop:1000000"],
        ["truncate:5000"],
        ["503", "503"],
        ["drop:100", "503", "truncate:2000000"],
    ],
)
def test_a_failed_download_resumes_where_it_stopped(web, faults):
    web.files["crawl/a.warc.gz"] = DATA
    web.faults["crawl/a.warc.gz"] = list(faults)
    data, resumptions = read_all(web.url("crawl/a.warc.gz"))
    assert data == DATA
    assert resumptions == len(faults)
    ranges = [asked for path, asked in web.requests if path == "crawl/a.warc.gz"]
    assert ranges[0] is None
    kind, _, sent = faults[0].partition(":")
    if kind == "truncate":  # the next request starts where the body stopped
        assert ranges[1] == f"bytes={sent}-"
    if kind == "drop":  # ... or where what arrived before the reset ends
        assert 0 < int(ranges[1].removeprefix("bytes=").rstrip("-")) <= int(sent)


def test_a_server_that_ignores_ranges_is_read_up_to_the_offset_again(web):
    web.files["a.warc"] = DATA
    web.faults["a.warc"] = ["drop:700000", "ignore_range"]
    data, resumptions = read_all(web.url("a.warc"))
    assert data == DATA and resumptions == 1


def test_a_file_that_keeps_failing_is_one_error_after_its_retries(web):
    web.files["a.warc"] = DATA
    web.faults["a.warc"] = ["503"] * 10
    with pytest.raises(RemoteReadError, match=r"a\.warc: Transient: HTTP 503 .*after 3 retries"):
        read_all(web.url("a.warc"))
    assert len(web.requests) == 4


def test_a_missing_file_is_not_retried(web):
    with pytest.raises(RemoteReadError, match="HTTP 404"):
        read_all(web.url("nothing.warc"))
    assert len(web.requests) == 1


def test_seeking_reopens_the_stream_at_the_offset(web):
    web.files["a.parquet"] = DATA
    with open_url(web.url("a.parquet")) as stream:
        stream.seek(-10, os.SEEK_END)
        assert stream.read() == DATA[-10:]
        stream.seek(1234)
        assert stream.read(10) == DATA[1234:1244]
