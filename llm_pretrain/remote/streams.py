"""Reading a URL as a stream that survives the network: retries with backoff, and a dropped or
cut-short download resumed where it stopped (an HTTP range request, or a seek in the store's
file) instead of read again from the start. A file that keeps failing raises `RemoteReadError`,
which the extract stage records as the file's input error.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import IO, Any

from llm_pretrain import __version__
from llm_pretrain.remote import stores

log = logging.getLogger(__name__)
USER_AGENT = f"llm-pretrain/{__version__}"
MAX_BACKOFF_S = 60.0
BUFFER = 1 << 20


class RemoteReadError(OSError):
    """A URL that could not be read, after its retries (or at once, for a 404 or a 403)."""


class Transient(Exception):
    """A failure worth retrying (a 5xx or 429 answer), with the server's Retry-After."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# What a dropped connection or a cut-short body raises (urllib wraps socket errors in URLError,
# an OSError; http.client raises IncompleteRead, RemoteDisconnected...).
_RETRYABLE = (Transient, OSError, http.client.HTTPException, EOFError)
_FINAL = (RemoteReadError, FileNotFoundError, PermissionError, IsADirectoryError)


class ResumingReader(io.RawIOBase):
    """A read-only, seekable stream over `open_at(offset)`: when a read fails, or the body ends
    before `size` bytes, the stream is opened again at the offset reached."""

    def __init__(
        self,
        name: str,
        open_at: Callable[[int], tuple[IO[bytes], int | None]],
        retries: int,
        backoff_s: float,
        keep_alive: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._open_at = open_at
        self._retries = retries
        self._backoff_s = backoff_s
        self._keep_alive = keep_alive or (lambda: None)
        self._stream: IO[bytes] | None = None
        self._position = 0
        self.size: int | None = None
        self.resumptions = 0  # how many times the stream was opened again after a failure

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += self._require_size()
        if offset != self._position:
            self._drop()
            self._position = max(offset, 0)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self.size is not None and self._position >= self.size:
            return 0
        failures = 0
        while True:
            try:
                if self._stream is None:
                    self._stream, size = self._open_at(self._position)
                    if size is not None and self.size is not None and size != self.size:
                        raise RemoteReadError(
                            f"its size changed from {self.size:,} to {size:,} bytes while it "
                            "was read"
                        )
                    self.size = self.size if size is None else size
                    self._keep_alive()  # connected: the watchdog hears of it before the body
                # at most one read of the connection: the watchdog is fed as bytes arrive,
                # not once per full buffer (a slow but steady server is no hang)
                read = getattr(self._stream, "readinto1", None) or self._stream.readinto
                count = read(buffer)  # type: ignore[attr-defined]
                if not count and self.size is not None and self._position < self.size:
                    raise EOFError(f"the body ended at byte {self._position:,} of {self.size:,}")
                self._position += count or 0
                self._keep_alive()
                return count or 0
            except _FINAL as exc:
                raise RemoteReadError(f"{self.name}: {exc}") from None
            except (*_RETRYABLE, *stores.network_errors()) as exc:
                self._drop()
                failures += 1
                if failures > self._retries:
                    raise RemoteReadError(
                        f"{self.name}: {_describe(exc)} (after {self._retries} retries)"
                    ) from None
                self.resumptions += 1
                wait = min(self._backoff_s * 2 ** (failures - 1), MAX_BACKOFF_S)
                if isinstance(exc, Transient) and exc.retry_after is not None:
                    wait = min(exc.retry_after, MAX_BACKOFF_S)
                log.info("%s: %s; retrying at byte %d in %.1f s", self.name, _describe(exc),
                         self._position, wait)  # fmt: skip
                self._wait(wait)

    def _wait(self, seconds: float) -> None:
        """Sleep, telling the caller's watchdog (pipeline/watchdog.py) that this is no hang."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._keep_alive()
            time.sleep(min(left, 1.0))

    def close(self) -> None:
        self._drop()
        super().close()

    def _drop(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                self._stream.close()
            self._stream = None

    def _require_size(self) -> int:
        if self.size is None:
            stream, size = self._open_at(self._position)
            stream.close()
            if size is None:
                raise OSError(f"{self.name}: its size is unknown, so it cannot be read backwards")
            self.size = size
        return self.size


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def open_url(url: str, keep_alive: Callable[[], None] | None = None) -> io.BufferedReader:
    """A buffered, resuming stream of a URL (http(s) or a store), with the process's storage
    settings (remote/stores.py); `keep_alive` is called as bytes arrive and while waiting."""
    settings = stores.settings()
    scheme = stores.scheme_of(url)
    web = scheme in stores.WEB
    opener = _web_opener(url, settings.timeout_s) if web else _store_opener(url)
    raw = ResumingReader(url, opener, settings.retries, settings.backoff_s, keep_alive)
    return io.BufferedReader(raw, BUFFER)


def _web_opener(url: str, timeout_s: float) -> Callable[[int], tuple[IO[bytes], int | None]]:
    # spaces and non-ASCII characters percent-encoded (http.client refuses them); what is
    # already encoded stays as it is
    quoted = urllib.parse.quote(url, safe=":/?#[]@!$&'()*+,;=%~")

    def open_at(offset: int) -> tuple[IO[bytes], int | None]:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(quoted, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=timeout_s)  # noqa: S310 (http(s) only)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 410):
                raise FileNotFoundError(f"HTTP {exc.code} {exc.reason}") from None
            if exc.code in (401, 403):
                raise PermissionError(f"HTTP {exc.code} {exc.reason}") from None
            if exc.code == 416:  # the range starts past the end: nothing more to read
                total = (exc.headers.get("Content-Range") or "").rpartition("/")[2]
                return io.BytesIO(b""), int(total) if total.isdigit() else None
            if exc.code == 429 or exc.code >= 500:
                raise Transient(f"HTTP {exc.code} {exc.reason}", _retry_after(exc)) from None
            raise RemoteReadError(f"HTTP {exc.code} {exc.reason}") from None
        return _positioned(response, offset)

    return open_at


def _positioned(response: Any, offset: int) -> tuple[IO[bytes], int | None]:
    """The response's body from `offset` on, and the file's whole size when the answer says."""
    length = response.headers.get("Content-Length")
    if response.status == 206:
        given = response.headers.get("Content-Range", "")
        match = _CONTENT_RANGE.fullmatch(given.strip())
        if match is None or int(match[1]) != offset:
            response.close()
            raise RemoteReadError(
                f"asked for the bytes from {offset:,} on, the server sent {given or 'no range'!r}"
            )
        return response, int(match[3]) if match[3] != "*" else None
    size = int(length) if length and length.isdigit() else None
    skipped = 0
    while skipped < offset:  # a server that ignores ranges: read up to the offset again
        chunk = response.read(min(BUFFER, offset - skipped))
        if not chunk:
            raise EOFError(f"the body ended at byte {skipped:,}, before byte {offset:,}")
        skipped += len(chunk)
    return response, size


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


def _store_opener(url: str) -> Callable[[int], tuple[IO[bytes], int | None]]:
    fs, path = stores.filesystem(url)

    def open_at(offset: int) -> tuple[IO[bytes], int | None]:
        handle = fs.open(path, "rb", block_size=8 << 20)
        if offset:
            handle.seek(offset)
        return handle, getattr(handle, "size", None)

    return open_at
