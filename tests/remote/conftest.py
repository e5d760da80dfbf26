"""Fixtures of the remote tests: the loopback servers (servers.py), with the AWS variables of
this process (and of the commands it starts) pointing at the S3 one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.remote.servers import WebFiles, s3_server, web_server


@pytest.fixture
def web() -> Iterator[WebFiles]:
    with web_server() as files:
        yield files


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh bucket on the loopback S3 server; an s3fs filesystem on it and its name."""
    import s3fs

    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    bucket = f"bucket-{uuid.uuid4().hex[:16]}"
    fs.mkdir(bucket)
    return fs, bucket
