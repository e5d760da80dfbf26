"""The global step on hand-made hashes and signatures: who survives, and why."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from llm_pretrain.pipeline.dedup.clusters import Documents, cluster, size_histogram
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.dedup.nodes import date_keys

PERM = 32


def documents(
    groups: list[int],
    hashes: list[int] | None = None,
    lengths: list[int] | None = None,
    dates: list[str] | None = None,
) -> Documents:
    """One document per entry; equal `groups` give equal signatures (a near-duplicate cluster),
    equal `hashes` equal texts; `dates` as text, "" for none."""
    rng = np.random.default_rng(0)
    bases = {g: rng.integers(0, 2**32, PERM, dtype=np.uint32) for g in set(groups)}
    rows = np.stack([bases[g] for g in groups])
    hash_values = hashes if hashes is not None else list(range(100, 100 + len(groups)))
    raw = b"".join(value.to_bytes(16, "little") for value in hash_values)
    n = len(groups)
    return Documents(
        np.frombuffer(raw, dtype="V16").copy(),
        rows,
        np.array(lengths or [100] * n, dtype=np.int64),
        date_keys(pa.array([date or None for date in dates or [""] * n], pa.string())),
    )


def config(**changes) -> DedupConfig:
    result = DedupConfig()
    result.minhash.num_perm = PERM
    for key, value in changes.items():
        setattr(result, key, value)
    return result


def test_first_seen_survives_and_reasons_point_to_it():
    batch = documents([1, 2, 1, 3, 1], hashes=[7, 8, 7, 9, 10])
    decisions = cluster(Documents.empty(PERM), batch, config())
    assert decisions.survivor.tolist() == [0, 1, 0, 3, 0]
    assert decisions.exact.tolist() == [False, False, True, False, False]
    assert decisions.duplicates.tolist() == [2, 0, 0, 0, 0]
    assert decisions.stats["exact_duplicates"] == 1 and decisions.stats["near_duplicates"] == 1
    assert decisions.stats["cluster_sizes"] == {"3-4": 1}


@pytest.mark.parametrize(
    ("keep", "survivor"),
    [("first", 0), ("longest", 2), ("oldest", 1)],
)
def test_keep_policy(keep, survivor):
    batch = documents([1, 1, 1], lengths=[10, 20, 30], dates=["2024-05-01", "2023-01-15", ""])
    decisions = cluster(Documents.empty(PERM), batch, config(keep=keep))
    assert decisions.survivor.tolist() == [survivor] * 3


def test_undated_documents_are_never_oldest():
    batch = documents([1, 1], dates=["", "2030-01-01"])
    assert cluster(Documents.empty(PERM), batch, config(keep="oldest")).survivor.tolist() == [1, 1]


def test_oldest_compares_instants_not_texts():
    dates = ["2024-03-15T08:00:00Z", "2024-03-15T12:00:00+05:00", "Tue, 15 Mar 2022 12:00:00 GMT"]
    batch = documents([1, 1, 1], dates=dates)
    assert cluster(Documents.empty(PERM), batch, config(keep="oldest")).survivor.tolist() == [2] * 3
    batch = documents([1, 1], dates=dates[:2])  # 08:00 UTC, 07:00 UTC
    assert cluster(Documents.empty(PERM), batch, config(keep="oldest")).survivor.tolist() == [1] * 2


def test_index_documents_always_win():
    index = documents([1, 5], hashes=[1, 2], lengths=[1, 1])
    batch = documents([5, 1, 6], hashes=[2, 3, 4], lengths=[999, 999, 999])
    decisions = cluster(index, batch, config(keep="longest"))
    # Nodes 0-1 are the index; batch document 0 is an exact copy of index document 1.
    assert decisions.survivor.tolist() == [1, 0, 4]
    assert decisions.exact.tolist() == [True, False, False]
    assert decisions.stats["duplicates_of_index"] == 2
    assert decisions.duplicates.tolist() == [0, 0, 0]


def test_verification_drops_candidates_below_the_threshold():
    batch = documents([1, 1])
    batch.signatures[1, : PERM // 2] += 1  # half the rows differ: similarity 0.5
    cfg = config()
    cfg.minhash.bands, cfg.minhash.rows = PERM // 2, 2  # the shared rows are candidates
    decisions = cluster(Documents.empty(PERM), batch, cfg)
    assert decisions.stats["candidate_pairs"] == 1 and decisions.stats["verified_pairs"] == 0
    assert decisions.survivor.tolist() == [0, 1]
    cfg.minhash.verify = "off"
    assert cluster(Documents.empty(PERM), batch, cfg).survivor.tolist() == [0, 0]


@pytest.mark.parametrize(("estimate_rows", "true", "same"), [(26, 0.85, True), (29, 0.7, False)])
def test_exact_verification_decides_near_the_threshold(estimate_rows, true, same):
    """An estimate within the margin of the threshold is checked against the shingle sets."""
    batch = documents([1, 1])
    batch.signatures[1, estimate_rows:] += 1  # estimate 26/32 = 0.81 or 29/32 = 0.91
    cfg = config()
    cfg.minhash.bands, cfg.minhash.rows = PERM // 2, 2

    def exact(first, second):
        assert first.tolist() == [0] and second.tolist() == [1]
        return np.array([true])

    decisions = cluster(Documents.empty(PERM), batch, cfg, exact)
    assert decisions.stats["exactly_compared_pairs"] == 1
    assert decisions.survivor.tolist() == ([0, 0] if same else [0, 1])
    cfg.minhash.verify = "estimate"  # the estimate alone: both are duplicates
    assert cluster(Documents.empty(PERM), batch, cfg, exact).survivor.tolist() == [0, 0]


def test_disabled_steps_find_nothing_of_their_kind():
    batch = documents([1, 1, 2], hashes=[5, 6, 5])
    exact_only = config()
    exact_only.minhash.enabled = False
    assert cluster(Documents.empty(PERM), batch, exact_only).survivor.tolist() == [0, 1, 0]
    near_only = config()
    near_only.exact.enabled = False
    decisions = cluster(Documents.empty(PERM), batch, near_only)
    assert decisions.survivor.tolist() == [0, 0, 2]
    assert not decisions.exact.any()


def test_empty_batch_and_documents_without_shingles():
    assert len(cluster(Documents.empty(PERM), Documents.empty(PERM), config()).survivor) == 0
    batch = documents([1, 2], hashes=[1, 2])
    batch.signatures[:] = np.uint32(0xFFFFFFFF)  # two texts without shingles are not similar
    assert cluster(Documents.empty(PERM), batch, config()).survivor.tolist() == [0, 1]


def test_size_histogram():
    assert size_histogram(np.array([2, 2, 3, 4, 5, 9, 17])) == {
        "2": 2,
        "3-4": 2,
        "5-8": 1,
        "9-16": 1,
        "17-32": 1,
    }
    assert size_histogram(np.array([], dtype=int)) == {}
