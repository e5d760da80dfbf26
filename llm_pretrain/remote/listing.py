"""Input files named by URLs: a store prefix listed (recursively, hidden names left out, as a
local folder), a glob, one file, a web URL, or a Common Crawl path list (`warc.paths.gz`:
one path per line, joined to a base URL) cut to a range of its lines.
"""

from __future__ import annotations

import gzip
import io
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

from llm_pretrain.errors import UsageError
from llm_pretrain.remote import stores
from llm_pretrain.remote.streams import open_url

PATH_LIST_SUFFIXES = (".paths", ".paths.gz")


class ListingError(UsageError, ValueError):
    """A URL argument that names nothing readable."""


def is_path_list(argument: str) -> bool:
    return stores.name_part(argument).lower().endswith(PATH_LIST_SUFFIXES)


def named_files(
    argument: str, base_url: str | None, paths_range: str | None
) -> list[tuple[str, int, int]]:
    """(url, size, mtime_ns) of the files a URL or path-list argument names (0: not known)."""
    if is_path_list(argument):
        return [(url, 0, 0) for url in read_path_list(argument, base_url, paths_range)]
    return list_url(argument)


def list_url(argument: str) -> list[tuple[str, int, int]]:
    """(url, size, mtime_ns) of every file a URL names; a web URL is taken as one file whose
    size is not known until it is read."""
    stores.check_url(argument)
    scheme = stores.scheme_of(argument)
    if scheme in stores.WEB:
        return [(argument, 0, 0)]
    fs, path = stores.filesystem(argument)
    prefix = argument[: len(argument) - len(argument.split("://", 1)[1])]
    try:
        if any(char in path for char in "*?["):
            found = fs.glob(path, detail=True)
            infos = {}
            for name, info in found.items():
                infos.update(fs.find(name, detail=True) if info["type"] == "directory" else
                             {name: info})  # fmt: skip
        elif fs.isdir(path):
            infos = fs.find(path, detail=True)
        else:
            infos = {path: fs.info(path)}
    except FileNotFoundError:
        raise ListingError(f"input {argument} does not exist") from None
    except (*stores.network_errors(), ValueError) as exc:
        raise ListingError(f"input {argument} cannot be listed: {exc}") from None
    # hidden names are those below what the argument names (a glob: its folder before the
    # first wildcard), as a local glob or folder is read
    magic = [at for at in (path.find(char) for char in "*?[") if at >= 0]
    base = path[: min(magic)].rsplit("/", 1)[0] if magic else path
    files = []
    for name, info in sorted(infos.items()):
        relative = name[len(base) :] if name.startswith(base) else name
        if info.get("type") == "directory" or any(p.startswith(".") for p in relative.split("/")):
            continue
        files.append((prefix + name, int(info.get("size") or 0), _mtime_ns(info)))
    if not files:
        raise ListingError(f"input {argument!r} matches no file")
    return files


def _mtime_ns(info: dict[str, Any]) -> int:
    """The object's modification time in ns (each store names it its own way), 0 unknown."""
    value = info.get("LastModified") or info.get("mtime") or info.get("updated")
    value = value or info.get("last_modified")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000) * 1000
    if isinstance(value, (int, float)):
        return int(value * 1e9)
    return 0


def read_path_list(argument: str, base_url: str | None, paths_range: str | None) -> list[str]:
    """The URLs a path list names: each line (a path relative to `base_url`, or a URL), the
    lines `paths_range` (`START:END`, as a Python slice) selects."""
    try:
        if stores.is_url(argument):
            with open_url(argument) as handle:
                raw = handle.read()
        else:
            raw = Path(argument).read_bytes()
        if stores.name_part(argument).lower().endswith(".gz"):
            raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read()
        lines = raw.decode("utf-8").splitlines()
    except FileNotFoundError:
        raise ListingError(f"path list {argument} does not exist") from None
    except (*stores.network_errors(), EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise ListingError(f"path list {argument} cannot be read: {exc}") from None
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    selected = entries[parse_range(paths_range)] if paths_range else entries
    if not selected:
        where = f" in the range {paths_range}" if paths_range else ""
        raise ListingError(f"path list {argument} lists no path{where} ({len(entries)} in all)")
    urls = []
    for entry in selected:
        if stores.is_url(entry):
            urls.append(entry)
        elif base_url:
            urls.append(stores.join(base_url, entry))
        else:
            raise ListingError(
                f"path list {argument} holds relative paths ({entry}); give --base-url "
                "(https://data.commoncrawl.org/ or s3://commoncrawl/ for Common Crawl)"
            )
    for url in urls[:1]:
        stores.check_url(url)
    return urls


def parse_range(value: str) -> slice:
    """`START:END` (either may be left out) as a slice of a path list's lines."""
    start, colon, end = value.partition(":")
    try:
        if not colon:
            raise ValueError
        return slice(int(start) if start.strip() else None, int(end) if end.strip() else None)
    except ValueError:
        raise UsageError(f"--paths-range {value!r} is not START:END (for example 0:100)") from None
