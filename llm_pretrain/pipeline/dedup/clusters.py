"""The global step of dedup: from hashes and signatures of every document to one survivor per
cluster of duplicates.

Nodes are the documents of the index (already kept by earlier runs) followed by the documents
of this batch in input order. Edges join exact duplicates (same normalised-text hash) and LSH
candidates (same key in some band) whose estimated Jaccard similarity reaches the threshold.
In each band a bucket's members are joined to its first member only (a star, not every pair):
enough for connected components, and linear in the bucket size. A member that fails the
similarity check against that first member gets its chance in the other bands. Clusters are
the connected components (scipy); each keeps one survivor: a document of the index if the
cluster has one, else the batch document the `keep` policy prefers, ties to the first seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.dedup.minhash import (
    EMPTY,
    band_keys,
    lsh_params,
    similarity,
    uncertainty,
)

# Candidate pairs compared at once: bounds the gathered signatures to ~256 MB at 128 perms.
_PAIR_BLOCK = 1 << 18
# The date of a document without one: after every date, so `keep: oldest` ranks it last.
UNDATED = np.iinfo(np.int64).max


@dataclass
class Documents:
    """Columns of the documents dedup compares (index or batch)."""

    hashes: np.ndarray  # (n,) bytes16 (numpy "V16"): normalised-text hashes
    signatures: np.ndarray  # (n, num_perm) uint32
    lengths: np.ndarray | None = None  # (n,) int64, characters: batch only
    dates: np.ndarray | None = None  # (n,) int64 µs since 1970 UTC, UNDATED: batch only

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def empty(cls, num_perm: int) -> Documents:
        return cls(
            np.empty(0, "V16"),
            np.empty((0, num_perm), np.uint32),
            np.empty(0, np.int64),
            np.empty(0, np.int64),
        )


@dataclass
class Decisions:
    """For every batch document: its survivor's node (itself when kept), and the rest."""

    survivor: np.ndarray  # (n_batch,) int64 node; node = n_index + batch position
    exact: np.ndarray  # (n_batch,) bool: removed as an exact duplicate of its survivor
    similarity: np.ndarray  # (n_batch,) float32: estimated Jaccard with its survivor
    duplicates: np.ndarray  # (n_batch,) int32: batch documents removed in its favour
    stats: dict[str, Any] = field(default_factory=dict)


def exact_edges(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges from every later copy to the first position with the same hash, and a mask of
    the first positions (the only ones near-dedup needs to look at). Positions must be in
    node order."""
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    target = first[inverse.ravel()]
    positions = np.arange(len(hashes))
    later = target != positions
    return target[later], positions[later], ~later


def bucket_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one band: an edge from each node to the first (lowest) node sharing its key."""
    order = np.lexsort((nodes, keys))
    sorted_keys, sorted_nodes = keys[order], nodes[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    heads = sorted_nodes[starts][np.cumsum(starts) - 1]
    members = ~starts
    return heads[members], sorted_nodes[members]


def unique_pairs(
    firsts: list[np.ndarray], seconds: list[np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (first, second) pairs of nodes below `n`, sorted."""
    first = np.concatenate(firsts).astype(np.int64) if firsts else np.empty(0, np.int64)
    second = np.concatenate(seconds).astype(np.int64) if seconds else np.empty(0, np.int64)
    pairs = np.unique(first * n + second)
    return pairs // n, pairs % n


def band_edges(
    bands: Iterable[tuple[np.ndarray, np.ndarray]], n_index: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unique LSH candidate pairs (first < second), at least one in the batch, from each
    band's (keys, nodes): every member of a bucket must be among them."""
    firsts, seconds = [], []
    for keys, nodes in bands:
        head, member = bucket_edges(keys, nodes)
        touches_batch = member >= n_index
        firsts.append(head[touches_batch])
        seconds.append(member[touches_batch])
    return unique_pairs(firsts, seconds, n)


def _candidate_edges(
    signatures: np.ndarray, nodes: np.ndarray, config: DedupConfig, n_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unique LSH candidate pairs (first < second) among `nodes`, at least one in the batch."""
    chosen = signatures if len(nodes) == len(signatures) else signatures[nodes]
    keys = band_keys(chosen, lsh_params(config.minhash))
    del chosen
    columns = ((keys[:, band], nodes) for band in range(keys.shape[1]))
    return band_edges(columns, n_index, len(signatures))


# Exact Jaccard similarities of pairs of batch positions (computed from stored shingle sets).
ExactJaccard = Callable[[np.ndarray, np.ndarray], np.ndarray]
# Signature rows of nodes.
SignatureRows = Callable[[np.ndarray], np.ndarray]


def _estimates(first: np.ndarray, second: np.ndarray, rows_of: SignatureRows) -> np.ndarray:
    result = np.empty(len(first), dtype=np.float64)
    for start in range(0, len(first), _PAIR_BLOCK):
        block = slice(start, start + _PAIR_BLOCK)
        result[block] = similarity(rows_of(first[block]), rows_of(second[block]))
    return result


def verify_pairs(
    first: np.ndarray,
    second: np.ndarray,
    rows_of: SignatureRows,
    config: DedupConfig,
    n_index: int,
    exact: ExactJaccard | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which candidate pairs reach the threshold, and which of them were compared exactly:
    by their estimate, or, near the threshold and with `exact`, by their shingle sets (pairs
    with an index document keep the estimate: the index stores no shingles)."""
    threshold = config.minhash.threshold
    estimates = _estimates(first, second, rows_of)
    keep = estimates >= threshold
    unsure = np.zeros(len(first), dtype=bool)
    if exact is not None:
        margin = uncertainty(threshold, config.minhash.num_perm)
        unsure = (np.abs(estimates - threshold) <= margin) & (first >= n_index)
        if unsure.any():
            true = exact(first[unsure] - n_index, second[unsure] - n_index)
            keep[unsure] = true >= threshold
    return keep, unsure


def _policy_key(batch: Documents, keep: str) -> np.ndarray:
    """Sort key among batch documents of one cluster: smaller survives."""
    if keep == "longest":
        return -batch.lengths.astype(np.int64)
    if keep == "oldest":
        return batch.dates.astype(np.int64)  # undated last: UNDATED is the largest
    return np.zeros(len(batch), dtype=np.int64)


def size_histogram(sizes: np.ndarray) -> dict[str, int]:
    """Clusters by size, in power-of-two buckets: "2", "3-4", "5-8", ..."""
    histogram: dict[str, int] = {}
    upper = 2
    while len(sizes):
        lower = upper // 2 + 1
        label = "2" if upper == 2 else f"{lower}-{upper}"
        inside = sizes <= upper
        if inside.any():
            histogram[label] = int(inside.sum())
        sizes = sizes[~inside]
        upper *= 2
    return histogram


class NodeColumns(Protocol):
    """Columns of chosen nodes (sorted, distinct): the last step reads them only for the
    documents that have a duplicate."""

    def documents(self, nodes: np.ndarray, signatures: bool) -> Documents:
        """Hashes (and signatures when asked) of `nodes`; lengths and dates of batch nodes."""
        ...


@dataclass
class InMemoryColumns:
    """NodeColumns of the index and the batch held in memory (the one-process global step)."""

    index: Documents
    batch: Documents
    hashes: np.ndarray
    signatures: np.ndarray

    def documents(self, nodes: np.ndarray, signatures: bool) -> Documents:
        in_batch = nodes[nodes >= len(self.index)] - len(self.index)
        lengths = np.zeros(len(nodes), np.int64)
        dates = np.full(len(nodes), UNDATED, dtype=np.int64)
        lengths[len(nodes) - len(in_batch) :] = self.batch.lengths[in_batch]
        dates[len(nodes) - len(in_batch) :] = self.batch.dates[in_batch]
        rows = self.signatures[nodes] if signatures else np.empty((len(nodes), 0), np.uint32)
        return Documents(self.hashes[nodes], rows, lengths, dates)


def _similarities(first: np.ndarray, second: np.ndarray, columns: NodeColumns) -> np.ndarray:
    """Estimated similarities of pairs of nodes, reading signatures a block of pairs at a time
    (they may be on disk)."""
    result = np.empty(len(first), dtype=np.float64)
    for start in range(0, len(first), _PAIR_BLOCK // 8):
        block = slice(start, start + _PAIR_BLOCK // 8)
        both = np.unique(np.concatenate([first[block], second[block]]))
        rows = columns.documents(both, signatures=True).signatures
        left, right = np.searchsorted(both, first[block]), np.searchsorted(both, second[block])
        result[block] = similarity(rows[left], rows[right])
    return result


def resolve(
    source: np.ndarray,
    target: np.ndarray,
    n_index: int,
    n_batch: int,
    columns: NodeColumns,
    config: DedupConfig,
) -> Decisions:
    """Clusters (connected components of the duplicate edges) and their survivors. Only the
    nodes an edge touches are looked at: every other document is alone and survives."""
    started = time.perf_counter()
    nodes = np.unique(np.concatenate([source, target]).astype(np.int64))
    m = len(nodes)
    graph = coo_matrix(
        (
            np.ones(len(source), dtype=np.int8),
            (np.searchsorted(nodes, source), np.searchsorted(nodes, target)),
        ),
        shape=(m, m),
    )
    _, labels = connected_components(graph, directed=False)
    touched = columns.documents(nodes, signatures=False)

    # Survivor of each cluster: index documents first, then the policy, then input order.
    in_batch = nodes >= n_index
    policy = np.zeros(m, dtype=np.int64)
    batch_part = Documents(
        touched.hashes[in_batch],
        touched.signatures,
        touched.lengths[in_batch],
        touched.dates[in_batch],
    )
    policy[in_batch] = _policy_key(batch_part, config.keep)
    order = np.lexsort((nodes, policy, in_batch, labels))
    heads = np.ones(m, dtype=bool)
    heads[1:] = labels[order][1:] != labels[order][:-1]
    survivor_of_label = np.empty(labels.max() + 1 if m else 0, dtype=np.int64)
    survivor_of_label[labels[order][heads]] = order[heads]
    survivor_at = survivor_of_label[labels]  # position in `nodes` of each node's survivor

    removed_at = np.flatnonzero(in_batch & (survivor_at != np.arange(m)))
    kept_at = survivor_at[removed_at]
    exact = touched.hashes[removed_at] == touched.hashes[kept_at]
    if not config.exact.enabled:
        exact[:] = False
    near_at = removed_at[~exact]
    near_sim = _similarities(nodes[near_at], nodes[survivor_at[near_at]], columns)

    positions = nodes[removed_at] - n_index
    survivor = np.arange(n_index, n_index + n_batch, dtype=np.int64)
    survivor[positions] = nodes[kept_at]
    exact_flags = np.zeros(n_batch, dtype=bool)
    exact_flags[positions] = exact
    sim = np.ones(n_batch, dtype=np.float32)
    sim[positions[~exact]] = near_sim
    kept_in_batch = nodes[kept_at][nodes[kept_at] >= n_index] - n_index
    duplicates = np.bincount(kept_in_batch, minlength=n_batch).astype(np.int32)

    sizes = np.bincount(labels)
    clusters = np.unique(labels[removed_at])
    stats = {
        "exact_duplicates": int(exact.sum()),
        "near_duplicates": int((~exact).sum()),
        "duplicates_of_index": int((nodes[kept_at] < n_index).sum()),
        "clusters": int(len(clusters)),
        "cluster_sizes": size_histogram(np.sort(sizes[clusters])),
        "largest_cluster": int(sizes[clusters].max()) if len(clusters) else 0,
        "seconds_clusters": round(time.perf_counter() - started, 3),
    }
    return Decisions(survivor, exact_flags, sim, duplicates, stats)


def cluster(
    index: Documents, batch: Documents, config: DedupConfig, exact: ExactJaccard | None = None
) -> Decisions:
    """Find the duplicates of the batch among themselves and against the index, in this
    process. `exact` gives exact similarities for `verify: exact` (without it, the estimate
    decides)."""
    started = time.perf_counter()
    n_index, n = len(index), len(index) + len(batch)
    # Without an index the batch's arrays serve as they are (a copy is 0.5 GB per million).
    hashes = np.concatenate([index.hashes, batch.hashes]) if n_index else batch.hashes
    signatures = (
        np.concatenate([index.signatures, batch.signatures]) if n_index else batch.signatures
    )
    sources, targets = [], []
    stats: dict[str, Any] = {}

    representatives = np.ones(n, dtype=bool)
    if config.exact.enabled:
        first, later, representatives = exact_edges(hashes)
        sources.append(first)
        targets.append(later)
    stats["seconds_exact"] = round(time.perf_counter() - started, 3)

    if config.minhash.enabled:
        started = time.perf_counter()
        has_shingles = ~(signatures == EMPTY).all(axis=1)
        nodes = np.flatnonzero(representatives & has_shingles)
        first, second = _candidate_edges(signatures, nodes, config, n_index)
        stats["candidate_pairs"] = int(len(first))
        if config.minhash.verify != "off" and len(first):
            check = exact if config.minhash.verify == "exact" else None
            keep, unsure = verify_pairs(
                first, second, signatures.__getitem__, config, n_index, check
            )
            if check is not None:
                stats["exactly_compared_pairs"] = int(unsure.sum())
            first, second = first[keep], second[keep]
        stats["verified_pairs"] = int(len(first))
        sources.append(first)
        targets.append(second)
        stats["seconds_lsh"] = round(time.perf_counter() - started, 3)

    source = np.concatenate(sources) if sources else np.empty(0, dtype=np.int64)
    target = np.concatenate(targets) if targets else np.empty(0, dtype=np.int64)
    columns = InMemoryColumns(index, batch, hashes, signatures)
    decisions = resolve(source, target, n_index, len(batch), columns, config)
    decisions.stats = {**stats, **decisions.stats}
    return decisions
