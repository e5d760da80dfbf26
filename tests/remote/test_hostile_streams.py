"""The resuming web reader (remote/streams.py) against servers that misbehave in ways
the fixture server of servers.py does not: a 206 at the wrong offset, a file replaced between
two requests, a bogus 416, a slow but steady body, redirects, URLs with spaces or non-ASCII
characters, a body that stalls forever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from llm_pretrain.remote import stores
from llm_pretrain.remote.config import StorageConfig
from llm_pretrain.remote.streams import RemoteReadError, open_url

DATA = bytes(range(256)) * 4000  # 1,024,000 bytes
NEW = bytes(reversed(range(256))) * 5000  # what replaces DATA on the server


@pytest.fixture(autouse=True)
def quick_retries():
    stores.use(StorageConfig(retries=2, backoff_s=0.0, timeout_s=3))
    yield
    stores.use(StorageConfig())


@contextmanager
def serving(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    handler = type(
        "Handler",
        (BaseHTTPRequestHandler,),
        {"protocol_version": "HTTP/1.1", "do_GET": answer, "log_message": lambda *a: None},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def cut_first_answer(h: BaseHTTPRequestHandler, data: bytes = DATA) -> None:
    """A 200 whose length says all of `data`, closed after 5,000 bytes."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data[:5000])
    h.wfile.flush()
    h.close_connection = True


def read(url: str) -> bytes:
    with open_url(url) as stream:
        return stream.read()


def test_a_206_that_starts_at_the_wrong_offset_is_not_spliced_in():
    def answer(h):
        if h.headers.get("Range") is None:
            return cut_first_answer(h)
        h.send_response(206)  # the whole file again, although bytes=5000- was asked for
        h.send_header("Content-Length", str(len(DATA)))
        h.send_header("Content-Range", f"bytes 0-{len(DATA) - 1}/{len(DATA)}")
        h.end_headers()
        h.wfile.write(DATA)

    with serving(answer) as base:
        try:
            data = read(base + "/a.jsonl")
        except RemoteReadError:
            return  # refused: fine
        assert data == DATA  # not the first 5,000 bytes twice


def test_a_file_replaced_between_two_requests_is_not_mixed():
    def answer(h):
        asked = h.headers.get("Range")
        if asked is None:
            return cut_first_answer(h)
        start = int(asked[6:].split("-")[0])
        h.send_response(206)
        h.send_header("Content-Length", str(len(NEW) - start))
        h.send_header("Content-Range", f"bytes {start}-{len(NEW) - 1}/{len(NEW)}")
        h.end_headers()
        h.wfile.write(NEW[start:])

    with serving(answer) as base:
        try:
            data = read(base + "/a.jsonl")
        except RemoteReadError:
            return
        assert data in (DATA, NEW)  # never the old head and the new tail


def test_a_bogus_416_in_the_middle_of_a_file_is_not_its_end():
    def answer(h):
        if h.headers.get("Range") is None:
            return cut_first_answer(h)
        h.send_response(416)
        h.send_header("Content-Length", "0")
        h.end_headers()

    with serving(answer) as base, pytest.raises(RemoteReadError):
        read(base + "/a.jsonl")  # not 5,000 bytes and no error


def test_a_slow_but_steady_body_keeps_the_watchdog_fed():
    """8 KB every 0.2 s (40 KB/s) for 2 s: the watchdog (keep_alive) must hear of it before
    the 1 MB buffer is full, or a worker reading a slow server is ended as hung
    (extract: 'no progress for 60 s: its worker was ended' below ~17 KB/s)."""
    stores.use(StorageConfig(retries=0, backoff_s=0.0, timeout_s=3))
    body = b"x" * 3_000_000

    def answer(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            for _ in range(10):
                h.wfile.write(body[:8192])
                h.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass
        h.close_connection = True

    heard: list[float] = []
    with serving(answer) as base:
        start = time.monotonic()
        with open_url(base + "/a.jsonl", keep_alive=lambda: heard.append(time.monotonic())) as s:
            s.read(10)
            first_bytes = time.monotonic() - start
            with pytest.raises(RemoteReadError):  # then the body ends short: right
                s.read()
    assert heard and heard[0] - start < 1.0, f"first keep_alive after {heard[0] - start:.1f} s"
    assert first_bytes < 1.0


@pytest.mark.parametrize("name", ["a b.jsonl", "café.jsonl"])
def test_a_url_with_a_space_or_non_ascii_is_read(name):
    def answer(h):
        if unquote(h.path).lstrip("/") != name:
            h.send_error(404)
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(DATA)))
        h.end_headers()
        h.wfile.write(DATA)

    with serving(answer) as base:
        assert read(f"{base}/{name}") == DATA  # percent-encoded


def test_a_redirect_is_followed_and_a_cut_body_resumed_at_the_target():
    """Guard: 302 to another path; the target cuts the body; the resume keeps its Range."""
    asked: list[tuple[str, str | None]] = []

    def answer(h):
        asked.append((h.path, h.headers.get("Range")))
        if h.path == "/old/a.jsonl":
            h.send_response(302)
            h.send_header("Location", "/new/a.jsonl")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        rng = h.headers.get("Range")
        if rng is None:
            return cut_first_answer(h)
        start = int(rng[6:].split("-")[0])
        h.send_response(206)
        h.send_header("Content-Length", str(len(DATA) - start))
        h.send_header("Content-Range", f"bytes {start}-{len(DATA) - 1}/{len(DATA)}")
        h.end_headers()
        h.wfile.write(DATA[start:])

    with serving(answer) as base:
        assert read(base + "/old/a.jsonl") == DATA
    assert ("/new/a.jsonl", "bytes=5000-") in asked


def test_a_body_that_stalls_forever_is_one_error_after_its_retries():
    """Guard: no hang: the socket timeout turns a silent server into a retried failure."""
    stores.use(StorageConfig(retries=1, backoff_s=0.0, timeout_s=1))
    release = threading.Event()

    def answer(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(DATA)))
        h.end_headers()
        h.wfile.write(DATA[:1000])
        h.wfile.flush()
        release.wait(30)

    with serving(answer) as base:
        start = time.monotonic()
        with pytest.raises(RemoteReadError, match="timed out.*after 1 retries"):
            read(base + "/a.jsonl")
        release.set()
    assert time.monotonic() - start < 10
