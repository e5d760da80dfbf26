"""Stages reading and writing an S3-compatible store (moto's server on 127.0.0.1): the same
shards as a local run, the manifest as the commit, and a killed run resumed from the staging
folder or, on a machine without it, from the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_test_warc

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

WARCS = 8


def llm_data(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "llm_pretrain", *args, "--workers", "1", "-q"]
    done = subprocess.run(command, capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def crawl(tmp_path: Path, s3, monkeypatch) -> tuple[Path, str]:
    """WARCs in a local folder and the same ones in the bucket; the staging folder in tmp."""
    fs, bucket = s3
    monkeypatch.setenv("LLM_PRETRAIN_STAGING", str(tmp_path / "staging"))
    folder = tmp_path / "crawl"
    folder.mkdir()
    for index in range(WARCS):
        write_test_warc(folder / f"c{index}.warc.gz", pages=6)
        fs.put_file(str(folder / f"c{index}.warc.gz"), f"{bucket}/crawl/c{index}.warc.gz")
    return folder, bucket


def shards(fs, url: str) -> dict[str, bytes]:
    """Every shard a finished dataset in the store lists, by name, as bytes."""
    root = url.removeprefix("s3://")
    manifest = json.loads(fs.cat_file(f"{root}/_manifest.json"))
    names = [s["file"] for s in manifest["shards"] + manifest["rejected_shards"]]
    return {name: fs.cat_file(f"{root}/{name}") for name in names}


def local_shards(folder: Path) -> dict[str, bytes]:
    manifest = json.loads((folder / "_manifest.json").read_text())
    names = [s["file"] for s in manifest["shards"] + manifest["rejected_shards"]]
    return {name: (folder / name).read_bytes() for name in names}


def test_extract_to_the_store_gives_the_local_runs_shards(crawl, s3, tmp_path):
    folder, bucket = crawl
    fs, _ = s3
    llm_data("extract", "-i", str(folder), "-o", str(tmp_path / "local"))
    llm_data("extract", "-i", str(folder), "-o", f"s3://{bucket}/from-local")
    assert shards(fs, f"s3://{bucket}/from-local") == local_shards(tmp_path / "local")
    # read from the store too: documents name their URL as their source, and nothing else
    # differs from reading the same bucket into a local folder
    llm_data("extract", "-i", f"s3://{bucket}/crawl/", "-o", f"s3://{bucket}/corpus/extracted")
    llm_data("extract", "-i", f"s3://{bucket}/crawl/", "-o", str(tmp_path / "from-s3"))
    published = shards(fs, f"s3://{bucket}/corpus/extracted")
    assert published == local_shards(tmp_path / "from-s3")
    assert len(published) == 2 * WARCS
    names = fs.find(f"{bucket}/corpus/extracted")
    assert not [name for name in names if "/_progress/" in name or ".tmp-" in name]
    assert not list((tmp_path / "staging").iterdir())  # published, then removed
    again = llm_data("extract", "-i", f"s3://{bucket}/crawl/", "-o",
                     f"s3://{bucket}/corpus/extracted", "--json")  # fmt: skip
    assert json.loads(again.stdout)["up_to_date"] is True


def test_filter_and_dedup_read_and_write_the_store(crawl, s3, tmp_path):
    folder, bucket = crawl
    fs, _ = s3
    base = f"s3://{bucket}/corpus"
    llm_data("extract", "-i", f"s3://{bucket}/crawl/", "filter", "dedup", "-o", base)
    llm_data("filter", "-i", f"{base}/extracted", "-o", str(tmp_path / "filtered"))
    llm_data("dedup", "-i", str(tmp_path / "filtered"), "-o", str(tmp_path / "deduped"))
    assert shards(fs, f"{base}/filtered") == local_shards(tmp_path / "filtered")
    assert shards(fs, f"{base}/deduped") == local_shards(tmp_path / "deduped")


def test_a_folder_without_a_manifest_is_not_a_dataset(crawl, s3):
    fs, bucket = s3
    fs.pipe_file(f"{bucket}/half/part-00000.parquet", b"PAR1")
    done = llm_data("filter", "-i", f"s3://{bucket}/half", "-o", f"s3://{bucket}/f", check=False)
    assert done.returncode == 1
    assert "is not a finished dataset (no _manifest.json)" in done.stderr


def test_overwrite_on_the_store_replaces_only_a_dataset(crawl, s3):
    folder, bucket = crawl
    fs, _ = s3
    fs.pipe_file(f"{bucket}/mine/notes.txt", b"keep me")
    refused = llm_data("extract", "-i", str(folder), "-o", f"s3://{bucket}/mine", "--overwrite",
                       check=False)  # fmt: skip
    assert refused.returncode == 1 and "not a dataset of llm-data (notes.txt" in refused.stderr
    llm_data("extract", "-i", str(folder), "-o", f"s3://{bucket}/mine")  # beside it: allowed
    other = llm_data("extract", "-i", str(folder / "c0.warc.gz"), "-o", f"s3://{bucket}/mine",
                     check=False)  # fmt: skip
    assert other.returncode == 1 and "made from other inputs or settings" in other.stderr
    llm_data("extract", "-i", str(folder / "c0.warc.gz"), "-o", f"s3://{bucket}/mine",
             "--overwrite")  # fmt: skip
    assert fs.cat_file(f"{bucket}/mine/notes.txt") == b"keep me"
    assert len(shards(fs, f"s3://{bucket}/mine")) == 2


@pytest.mark.parametrize("machine", ["same", "another"])
def test_a_killed_run_resumes_and_gives_the_same_shards(s3, tmp_path, machine, monkeypatch):
    """kill -9 after 3 tasks; rerun on this machine (its staging folder), or on another one
    (no staging folder: the store's done-markers and shards are downloaded)."""
    monkeypatch.setenv("LLM_PRETRAIN_STAGING", str(tmp_path / "staging"))
    fs, bucket = s3
    for index in range(10):  # slower tasks than `crawl`'s: about a second each
        path = tmp_path / f"big{index}.warc.gz"
        write_test_warc(path, pages=60)
        fs.put_file(str(path), f"{bucket}/big/big{index}.warc.gz")
    url = f"s3://{bucket}/out"
    args = ["extract", "-i", f"s3://{bucket}/big/", "--workers", "1", "-q"]
    llm_data(*args[:3], "-o", f"s3://{bucket}/clean")
    command = [sys.executable, "-m", "llm_pretrain", *args, "-o", url]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(fs.glob(f"{bucket}/out/_progress/task-*.json")) < 3:
        assert process.poll() is None, "run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
        fs.invalidate_cache()
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not fs.exists(f"{bucket}/out/_manifest.json")
    if machine == "another":
        subprocess.run(["rm", "-rf", str(tmp_path / "staging")], check=True)
    rerun = llm_data(*args[:3], "-o", url, "--json")
    assert json.loads(rerun.stdout)["tasks_run"] < 10  # resumed, not started again
    fs.invalidate_cache()
    assert shards(fs, url) == shards(fs, f"s3://{bucket}/clean")


def test_a_bucket_that_does_not_exist_fails_before_any_work(crawl, tmp_path):
    folder, _ = crawl
    done = llm_data("extract", "-i", str(folder), "-o", "s3://no-such-bucket-here/x",
                    check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        "the bucket no-such-bucket-here does not exist; create it first"
    )
    assert not list((tmp_path / "staging").glob("*/_progress"))
