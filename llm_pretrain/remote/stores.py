"""Which URLs name data, and the filesystem (fsspec) that reaches each store.

`s3://`, `gs://` and `az://` go through fsspec's filesystems (s3fs, gcsfs, adlfs: the extras
`llm-pretrain[s3]`, `[gcs]`, `[azure]`); `http://` and `https://` are read with the standard
library alone (remote/streams.py), for reading only. The settings of the `storage` section
reach worker processes through `use()`, called by every task that reads or writes a URL.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from functools import cache
from typing import Any

from llm_pretrain.errors import UsageError
from llm_pretrain.remote.config import StorageConfig

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# scheme -> (fsspec protocol, the module it needs, the extra that installs it)
STORES = {
    "s3": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gcs"),
    "gcs": ("gcs", "gcsfs", "gcs"),
    "az": ("az", "adlfs", "azure"),
    "abfs": ("abfs", "adlfs", "azure"),
}
WEB = ("http", "https")


class StoreError(UsageError):
    """A URL this installation cannot read or write (an unknown scheme, a missing extra)."""


def scheme_of(value: str) -> str | None:
    """The URL scheme of `value` in lower case, or None for a local path."""
    match = _URL.match(value)
    return match.group(1).lower() if match else None


def is_url(value: object) -> bool:
    return isinstance(value, str) and scheme_of(value) is not None


def check_url(value: str, writing: bool = False) -> None:
    """Refuse, in one line, a URL of an unknown scheme, a web URL to write to, or a store whose
    filesystem package is not installed."""
    scheme = scheme_of(value) or ""
    if scheme in WEB:
        if writing:
            raise StoreError(f"{value}: http(s) URLs can be read, not written; write to s3://, "
                             "gs://, az:// or a local folder")  # fmt: skip
        return
    if scheme not in STORES:
        known = ", ".join(f"{name}://" for name in (*STORES, *WEB))
        raise StoreError(f"{value}: {scheme}:// is not a supported store ({known})")
    if not strip_scheme(value).strip("/"):
        raise StoreError(f"{value}: name a bucket (and a prefix): {scheme}://bucket/prefix")
    filesystem_class(scheme)


@cache
def filesystem_class(scheme: str) -> Any:
    protocol, module, extra = STORES[scheme]
    try:
        __import__(module)
        import fsspec

        return fsspec.get_filesystem_class(protocol)
    except ImportError:
        raise StoreError(
            f"{scheme}:// paths need the {module} package: pip install 'llm-pretrain[{extra}]'"
        ) from None


# The settings travel to worker processes in the environment (local workers inherit it; the
# Ray executor hands it to its workers), so that no task function has to carry them.
STORAGE_ENV = "LLM_PRETRAIN_STORAGE"
_settings: StorageConfig | None = None


def use(settings: StorageConfig) -> None:
    """Make `settings` the storage settings of this process and of the workers it starts."""
    global _settings
    if settings == StorageConfig():
        os.environ.pop(STORAGE_ENV, None)
    else:
        os.environ[STORAGE_ENV] = settings.model_dump_json()
    if settings != _settings:
        _settings = settings
        _filesystem.cache_clear()


def settings() -> StorageConfig:
    global _settings
    if _settings is None:
        given = os.environ.get(STORAGE_ENV)
        _settings = StorageConfig.model_validate_json(given) if given else StorageConfig()
    return _settings


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of a store URL and the path within it (bucket/key, no scheme)."""
    scheme = scheme_of(url) or ""
    check_url(url)
    if scheme in WEB:
        raise StoreError(f"{url}: a web URL is read as a stream, not listed")
    return _filesystem(scheme), strip_scheme(url)


@cache
def _filesystem(scheme: str) -> Any:
    # skip_instance_cache: a filesystem made before a fork holds the parent's event loop
    options = {"skip_instance_cache": True, **settings().for_scheme(scheme)}
    try:
        fs = filesystem_class(scheme)(**options)
        if scheme == "s3":  # s3fs makes its client (and reads its options) on first use
            fs.connect()
        return fs
    except (TypeError, ValueError) as exc:  # an option the filesystem does not take
        raise StoreError(f"storage.options.{scheme} is not accepted: {exc}") from None


# A filesystem made before a fork holds the parent's event loop thread, absent in the child.
os.register_at_fork(after_in_child=_filesystem.cache_clear)


def strip_scheme(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/")


def join(base: str, *names: str) -> str:
    """`base/name/...` for a URL or a path string."""
    parts = [base.rstrip("/"), *(name.strip("/") for name in names)]
    return "/".join(part for part in parts if part)


def overlap(a: str, b: str) -> bool:
    """Whether two URLs (or globs) are the same folder or one lies inside the other (a
    scheme is compared in lower case, and by the store it names: gs:// is gcs://)."""
    a, b = _folder_of(canonical(a)), _folder_of(canonical(b))
    return a.startswith(b) or b.startswith(a)


_SAME_STORE = {"gcs": "gs", "abfs": "az"}


def canonical(url: str) -> str:
    """`url` with its scheme in lower case, and named as its store's first scheme."""
    scheme = scheme_of(url)
    if scheme is None:
        return url
    return f"{_SAME_STORE.get(scheme, scheme)}://{url.split('://', 1)[1]}"


def name_part(path: str) -> str:
    """What a file's name is read from: a web URL without its query and fragment (a signed
    URL's `?X-Amz-Signature=...`), anything else as it is."""
    if scheme_of(path) in WEB:
        return urllib.parse.urlsplit(path).path
    return path


def _folder_of(url: str) -> str:
    """A URL with a trailing slash; a glob cut to the folder before its first wildcard."""
    magic = [at for at in (url.find(c) for c in "*?[") if at >= 0]
    if magic:
        url = url[: min(magic)].rsplit("/", 1)[0]
    return url.rstrip("/") + "/"


@cache
def network_errors() -> tuple[type[BaseException], ...]:
    """What the stores' clients raise for a failed request, beside OSError: botocore's
    connection errors (s3fs lets them through) and aiohttp's, where installed."""
    found: list[type[BaseException]] = [OSError]
    for module, names in (
        ("botocore.exceptions", ("BotoCoreError", "ClientError")),
        ("aiohttp", ("ClientError",)),
    ):
        try:
            imported = __import__(module, fromlist=list(names))
        except ImportError:
            continue
        found += [getattr(imported, name) for name in names if hasattr(imported, name)]
    return tuple(found)
