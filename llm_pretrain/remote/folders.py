"""A folder of an object store, as the stages use it: list, read, download, upload, delete.

An object store has no rename and no append: an object appears whole when its upload
completes, or not at all. So a stage writing to a store builds its output in a local staging
folder (the same code as a local run, byte for byte) and publishes it here file by file,
`_manifest.json` last: the manifest is the commit (pipeline/published.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm_pretrain.errors import StageError
from llm_pretrain.remote import stores
from llm_pretrain.storage import atomic_path

log = logging.getLogger(__name__)


class StoreFolder:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = stores.filesystem(self.url)

    def _key(self, name: str) -> str:
        return f"{self.root}/{name}"

    def check_bucket(self) -> None:
        """Fail before any work when the bucket (or container) is not there."""
        bucket = self.root.split("/", 1)[0]
        try:
            found = self.fs.exists(bucket)
        except stores.network_errors() as exc:
            raise StageError(f"{self.url} cannot be reached: {exc}") from None
        if not found:
            raise StageError(f"{self.url}: the bucket {bucket} does not exist; create it first")

    def files(self) -> dict[str, int]:
        """Every object under the folder: its name relative to the folder, and its size."""
        try:
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return {}
        except stores.network_errors() as exc:
            raise StageError(f"{self.url} cannot be listed: {exc}") from None
        prefix = self.root + "/"
        return {
            name[len(prefix) :]: int(info.get("size") or 0)
            for name, info in found.items()
            if name.startswith(prefix) and info.get("type") != "directory"
        }

    def read_bytes(self, name: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._key(name))
        except FileNotFoundError:
            return None
        except stores.network_errors() as exc:
            raise StageError(f"{self.url}/{name} cannot be read: {exc}") from None

    def read_json(self, name: str) -> Any:
        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise StageError(f"{self.url}/{name} is not readable JSON; it was edited") from None

    def download(self, name: str, path: Path) -> None:
        """Copy an object to a local file, atomically (the file appears whole or not)."""
        with atomic_path(path) as tmp:
            try:
                self.fs.get_file(self._key(name), str(tmp))
            except stores.network_errors() as exc:
                raise StageError(f"{self.url}/{name} cannot be downloaded: {exc}") from None

    def upload(self, path: Path, name: str) -> None:
        try:
            self.fs.put_file(str(path), self._key(name))
        except stores.network_errors() as exc:
            raise StageError(f"{path} cannot be uploaded to {self.url}/{name}: {exc}") from None

    def delete(self, names: Sequence[str]) -> None:
        if names:
            try:
                self.fs.rm([self._key(name) for name in names])
            except FileNotFoundError:
                pass
            except stores.network_errors() as exc:
                raise StageError(f"{self.url}: files cannot be deleted: {exc}") from None


class Publisher:
    """Uploads what a local folder gains, in the order that keeps the store resumable: data
    files before the done-markers (`progress_dir`) that name them, and `last` (the commit
    files) only in the final pass. `skip` names what is never uploaded (locks, temporaries,
    a worker's cursor)."""

    def __init__(
        self,
        folder: StoreFolder,
        local: Path,
        progress_dir: str,
        last: Sequence[str],
        skip: Callable[[str], bool],
    ) -> None:
        self.folder, self.local = folder, local
        self.progress_dir, self.last, self.skip = progress_dir, tuple(last), skip
        self.uploaded: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def known(self, remote: dict[str, int]) -> None:
        """Files already in the store as the local ones (pulled from it): not sent again."""
        for name, size in remote.items():
            path = self.local / name
            if path.is_file() and path.stat().st_size == size:
                self.uploaded[name] = _signature(path)

    def publish(self, final: bool = False) -> int:
        """One pass: upload what is new or changed; with `final`, the commit files last."""
        with self._lock:
            progress = self.progress_dir + "/"
            # The done-markers are listed before the files they name: a task's shard is in
            # place before its marker is written, so every marker listed here has its shard
            # in the listing that follows (one walk could see a marker and miss its shard).
            markers = sorted(n for n in self._local_files(self.progress_dir) if n not in self.last)
            names = sorted(
                n for n in self._local_files() if not n.startswith(progress) and n not in self.last
            )
            names += markers
            if final:
                names += [name for name in self.last if (self.local / name).is_file()]
            sent = 0
            for name in names:
                path = self.local / name
                try:
                    signature = _signature(path)
                except FileNotFoundError:
                    continue  # replaced or removed meanwhile: the next pass sees it
                if self.uploaded.get(name) == signature:
                    continue
                self.folder.upload(path, name)
                self.uploaded[name] = signature
                sent += 1
            return sent

    def _local_files(self, under: str = "") -> list[str]:
        names = []
        for root, _, files in os.walk(self.local / under):
            for file in files:
                name = os.path.relpath(os.path.join(root, file), self.local).replace(os.sep, "/")
                if not self.skip(name):
                    names.append(name)
        return names

    @contextmanager
    def in_background(self, interval_s: float = 1.0) -> Iterator[None]:
        """Publish every `interval_s` while the block runs, so that a run killed on this machine
        can be resumed from the store on another."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval_s):
                try:
                    self.publish()
                except Exception as exc:  # the final pass reports what still fails
                    log.warning("uploading to %s: %s (tried again)", self.folder.url, exc)

        thread = threading.Thread(target=loop, name="publisher", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _signature(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns
