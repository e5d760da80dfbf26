"""The global step in tasks over bucket partitions decides exactly as the one-process step."""

from __future__ import annotations

import numpy as np
import pytest

from llm_pretrain.pipeline.dedup.clusters import Decisions, Documents, cluster
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.dedup.nodes import NodeReader, sources
from llm_pretrain.pipeline.dedup.partitioned import GlobalStep, decide, partition_count
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.runner import StageRun
from tests.pipeline.dedup.synthetic import synthetic_documents, write_signature_files

PERM = 32
INDEX, BATCH = 1500, 2500


def on_two_workers(step: GlobalStep) -> StageRun:
    """A dedup run whose `_progress/` folder holds the global step's folder."""
    folder = step.folder.parent
    return StageRun("dedup", folder, ExecutorConfig(workers=2), show_progress=False)


def in_memory(reader: NodeReader, config: DedupConfig) -> Decisions:
    everything = reader.documents(np.arange(reader.total), signatures=True)
    n_index = reader.n_index
    index = Documents(everything.hashes[:n_index], everything.signatures[:n_index])
    batch = Documents(
        everything.hashes[n_index:],
        everything.signatures[n_index:],
        everything.lengths[n_index:],
        everything.dates[n_index:],
    )
    return cluster(index, batch, config)


def counts(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if not k.startswith("seconds") and k != "partitions"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """An index of 1,500 documents in 2 parts and a batch of 2,500 in 5 files, with
    duplicate families across both."""
    folder = tmp_path_factory.mktemp("signatures")
    columns = synthetic_documents(INDEX + BATCH, PERM, seed=7, duplicate_share=0.4)
    index = {name: values[:INDEX] for name, values in columns.items()}
    batch = {name: values[INDEX:] for name, values in columns.items()}
    index_files = write_signature_files(folder / "index", index, files=2, row_group_rows=300)
    batch_files = write_signature_files(folder / "batch", batch, files=5, row_group_rows=200)
    return sources(index_files, batch_files)


@pytest.mark.parametrize(
    ("keep", "verify", "exact"),
    [("first", "estimate", True), ("longest", "off", True), ("oldest", "estimate", False)],
)
def test_partitions_decide_as_one_process(tmp_path, corpus, keep, verify, exact):
    config = DedupConfig(keep=keep)
    config.minhash.num_perm, config.minhash.verify = PERM, verify
    config.exact.enabled = exact
    reader = NodeReader(corpus, PERM)
    expected = in_memory(reader, config)
    stats = expected.stats
    assert stats["near_duplicates"] > 100 and stats["duplicates_of_index"] > 100
    assert (stats["exact_duplicates"] > 50) == exact
    assert stats["largest_cluster"] > 3
    assert (stats["verified_pairs"] < stats["candidate_pairs"]) == (verify != "off")
    for partitions in (1, 4):
        step = GlobalStep(tmp_path / f"p{partitions}", corpus, partitions, config)
        got = decide(step, on_two_workers(step))
        assert np.array_equal(got.survivor, expected.survivor)
        assert np.array_equal(got.exact, expected.exact)
        assert np.array_equal(got.similarity, expected.similarity)
        assert np.array_equal(got.duplicates, expected.duplicates)
        assert counts(got.stats) == counts(expected.stats)


def test_a_killed_task_is_rerun_with_the_same_result(tmp_path, corpus):
    """Finished tasks keep their markers; removing some (as if killed) reruns only those."""
    config = DedupConfig()
    config.minhash.num_perm, config.minhash.verify = PERM, "estimate"
    step = GlobalStep(tmp_path / "global", corpus, 3, config)
    first = decide(step, on_two_workers(step))
    for marker in ("spread/task-00002.json", "exact/task-00001.json", "near/task-00000.json"):
        (tmp_path / "global" / marker).unlink()
    (tmp_path / "global" / "near" / "part-00002.arrow").write_bytes(b"torn")  # no marker: redone
    (tmp_path / "global" / "near" / "task-00002.json").unlink()
    again = decide(step, on_two_workers(step))
    assert np.array_equal(first.survivor, again.survivor)
    assert counts(first.stats) == counts(again.stats)


def test_partition_count():
    local, ray = ExecutorConfig(), ExecutorConfig(kind="ray")
    assert partition_count(None, local, 5_000_000) == 0
    assert partition_count(None, ray, 10) == 1
    assert partition_count(None, ray, 2_500_000) == 3
    assert partition_count(2, local, 10) == 2
    assert partition_count(0, ray, 10**9) == 0


def test_an_empty_batch_without_an_index(tmp_path):
    empty = {name: values[:0] for name, values in synthetic_documents(1, PERM, seed=1).items()}
    files = write_signature_files(tmp_path / "batch", empty, files=2)
    config = DedupConfig()
    config.minhash.num_perm = PERM
    step = GlobalStep(tmp_path / "global", sources([], files), 2, config)
    decisions = decide(step, on_two_workers(step))
    assert len(decisions.survivor) == 0 and decisions.stats["clusters"] == 0
