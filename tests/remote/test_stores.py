"""Which URLs the stores take, and how their settings reach the workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from llm_pretrain.remote import stores
from llm_pretrain.remote.config import StorageConfig
from llm_pretrain.remote.listing import parse_range


def test_a_store_whose_package_is_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # `import gcsfs` raises ImportError
    stores.filesystem_class.cache_clear()
    try:
        with pytest.raises(stores.StoreError, match=r"pip install 'llm-pretrain\[gcs\]'"):
            stores.check_url("gs://bucket/crawl")
    finally:
        stores.filesystem_class.cache_clear()


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("s3://b/corpus", "s3://b/corpus/", True),
        ("s3://b/corpus/out", "s3://b/corpus", True),
        ("s3://b/corpus", "s3://b/corpus/crawl/x.warc.gz", True),
        ("s3://b/corpus2", "s3://b/corpus", False),
        ("s3://b/out", "s3://b/crawl/*.warc.gz", False),
        ("s3://b/crawl/out", "s3://b/crawl/*.warc.gz", True),
    ],
)
def test_urls_overlap_when_one_lies_inside_the_other(a, b, overlap):
    assert stores.overlap(a, b) is overlap


def test_paths_ranges_are_python_slices():
    lines = list(range(10))
    assert lines[parse_range("0:3")] == [0, 1, 2]
    assert lines[parse_range("8:")] == [8, 9]
    assert lines[parse_range(":-8")] == [0, 1]
    assert lines[parse_range(":")] == lines
    for bad in ("3", "a:b", "1:2:3"):
        with pytest.raises(Exception, match="is not START:END"):
            parse_range(bad)


def test_the_settings_reach_a_worker_process_through_the_environment():
    stores.use(StorageConfig(retries=2, options={"s3": {"anon": True}}))
    try:
        code = "from llm_pretrain.remote import stores; print(stores.settings().model_dump_json())"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert StorageConfig.model_validate_json(done.stdout) == stores.settings()
    finally:
        stores.use(StorageConfig())
    assert stores.STORAGE_ENV not in os.environ


def test_a_stage_reading_urls_runs_at_most_max_connections_workers():
    from llm_pretrain.pipeline.executor_config import ExecutorConfig
    from llm_pretrain.pipeline.extract.input_file import InputFile
    from llm_pretrain.pipeline.extract.stage import polite

    web = [InputFile("https://x.org/a.warc.gz", "warc", 0, 0)]
    local = [InputFile("a.warc.gz", "warc", 10, 1)]
    storage = StorageConfig(max_connections=3)
    assert polite(ExecutorConfig(workers=16), web, storage).workers == 3
    assert polite(ExecutorConfig(workers=2), web, storage).workers == 2
    assert polite(ExecutorConfig(workers=16), local, storage).workers == 16
    assert polite(ExecutorConfig(kind="ray", workers=16), web, storage).workers == 16
