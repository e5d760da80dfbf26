"""Servers the remote tests talk to, on 127.0.0.1 only: a web server of fixture files that
answers range requests and fails on demand, and an S3-compatible store (moto's server)."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class WebFiles:
    """What the web server serves, and the faults it injects: for each path, a queue of faults
    used one per request ("503", "drop:N": the connection reset after N body bytes,
    "truncate:N": the body ended cleanly after N bytes although its length says more, and
    "ignore_range": a 200 with the whole body to a range request)."""

    files: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range)
    base: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"


class _Handler(BaseHTTPRequestHandler):
    web: WebFiles

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        path = self.path.split("?", 1)[0].lstrip("/")
        asked = self.headers.get("Range")
        self.web.requests.append((path, asked))
        data = self.web.files.get(path)
        if data is None:
            self.send_error(404)
            return
        faults = self.web.faults.get(path)
        fault = faults.pop(0) if faults else ""
        if fault == "503":
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if asked and asked.startswith("bytes=") and fault != "ignore_range":
            start = int(asked[6:].split("-", 1)[0])
        part = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(part)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if not body:
            return
        kind, _, count = fault.partition(":")
        if kind in ("drop", "truncate"):
            self.wfile.write(part[: int(count)])
            self.wfile.flush()
            if kind == "drop":  # a reset, as a peer that goes away mid-file
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True
            return
        self.wfile.write(part)


@contextmanager
def web_server() -> Iterator[WebFiles]:
    web = WebFiles()
    handler = type("Handler", (_Handler,), {"web": web})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    web.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield web
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
