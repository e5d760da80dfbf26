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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Documents:
    """Columns of the documents dedup compares (index or batch)."""

    hashes: np.ndarray  # (n,) bytes16 (numpy "V16"): normalised-text hashes
    signatures: np.ndarray  # (n, num_perm) uint32
    lengths: np.ndarray | None = None  # (n,) int64, characters: batch only
    dates: np.ndarray | None = None  # (n,) str, "" when unknown: batch only

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def empty(cls, num_perm: int) -> Documents:
        return cls(
            np.empty(0, "V16"),
            np.empty((0, num_perm), np.uint32),
            np.empty(0, np.int64),
            np.empty(0, str),
        )


@dataclass
class Decisions:
    """For every batch document: its survivor's node (itself when kept), and the rest."""

    survivor: np.ndarray  # (n_batch,) int64 node; node = n_index + batch position
    exact: np.ndarray  # (n_batch,) bool: removed as an exact duplicate of its survivor
    similarity: np.ndarray  # (n_batch,) float32: estimated Jaccard with its survivor
    duplicates: np.ndarray  # (n_batch,) int32: batch documents removed in its favour
    stats: dict[str, Any] = field(default_factory=dict)


def _exact_edges(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges from every later copy to the first node with the same hash, and a mask of the
    first nodes (the only ones near-dedup needs to look at)."""
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    target = first[inverse.ravel()]
    nodes = np.arange(len(hashes))
    later = target != nodes
    return target[later], nodes[later], ~later


def _bucket_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one band: an edge from each node to the first (lowest) node sharing its key."""
    order = np.lexsort((nodes, keys))
    sorted_keys, sorted_nodes = keys[order], nodes[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    heads = sorted_nodes[starts][np.cumsum(starts) - 1]
    members = ~starts
    return heads[members], sorted_nodes[members]


def _candidate_edges(
    signatures: np.ndarray, nodes: np.ndarray, config: DedupConfig, n_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unique LSH candidate pairs (first < second) among `nodes`, at least one in the batch."""
    chosen = signatures if len(nodes) == len(signatures) else signatures[nodes]
    keys = band_keys(chosen, lsh_params(config.minhash))
    del chosen
    firsts, seconds = [], []
    for band in range(keys.shape[1]):
        head, member = _bucket_edges(keys[:, band], nodes)
        touches_batch = member >= n_index
        firsts.append(head[touches_batch])
        seconds.append(member[touches_batch])
    first = np.concatenate(firsts) if firsts else np.empty(0, dtype=np.int64)
    second = np.concatenate(seconds) if seconds else np.empty(0, dtype=np.int64)
    pairs = np.unique(first.astype(np.int64) * len(signatures) + second)
    return pairs // len(signatures), pairs % len(signatures)


# Exact Jaccard similarities of pairs of batch positions (computed from stored shingle sets).
ExactJaccard = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _estimates(first: np.ndarray, second: np.ndarray, signatures: np.ndarray) -> np.ndarray:
    result = np.empty(len(first), dtype=np.float64)
    for start in range(0, len(first), _PAIR_BLOCK):
        block = slice(start, start + _PAIR_BLOCK)
        result[block] = similarity(signatures[first[block]], signatures[second[block]])
    return result


def _verified(
    first: np.ndarray,
    second: np.ndarray,
    signatures: np.ndarray,
    config: DedupConfig,
    n_index: int,
    exact: ExactJaccard | None,
    stats: dict[str, Any],
) -> np.ndarray:
    """Which candidate pairs reach the threshold: by their estimate, or, near the threshold
    and with `exact`, by their shingle sets (pairs with an index document keep the estimate:
    the index stores no shingles)."""
    threshold = config.minhash.threshold
    estimates = _estimates(first, second, signatures)
    keep = estimates >= threshold
    if exact is not None:
        margin = uncertainty(threshold, config.minhash.num_perm)
        unsure = (np.abs(estimates - threshold) <= margin) & (first >= n_index)
        if unsure.any():
            true = exact(first[unsure] - n_index, second[unsure] - n_index)
            keep[unsure] = true >= threshold
        stats["exactly_compared_pairs"] = int(unsure.sum())
    return keep


def _policy_key(batch: Documents, keep: str) -> np.ndarray:
    """Sort key among batch documents of one cluster: smaller survives."""
    if keep == "longest":
        return -batch.lengths.astype(np.int64)
    if keep == "oldest":
        dates = np.where(batch.dates == "", "\U0010ffff", batch.dates)  # undated last
        return np.unique(dates, return_inverse=True)[1].ravel().astype(np.int64)
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


def cluster(
    index: Documents, batch: Documents, config: DedupConfig, exact: ExactJaccard | None = None
) -> Decisions:
    """Find the duplicates of the batch among themselves and against the index. `exact`
    gives exact similarities for `verify: exact` (without it, the estimate decides)."""
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
        first, later, representatives = _exact_edges(hashes)
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
            if config.minhash.verify != "exact":
                exact = None
            keep = _verified(first, second, signatures, config, n_index, exact, stats)
            first, second = first[keep], second[keep]
        stats["verified_pairs"] = int(len(first))
        sources.append(first)
        targets.append(second)
        stats["seconds_lsh"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    source = np.concatenate(sources) if sources else np.empty(0, dtype=np.int64)
    target = np.concatenate(targets) if targets else np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(source), dtype=np.int8), (source, target)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)

    # Survivor of each cluster: index documents first, then the policy, then input order.
    in_batch = np.arange(n) >= n_index
    policy = np.concatenate([np.zeros(n_index, dtype=np.int64), _policy_key(batch, config.keep)])
    order = np.lexsort((np.arange(n), policy, in_batch, labels))
    heads = np.ones(n, dtype=bool)
    heads[1:] = labels[order][1:] != labels[order][:-1]
    survivor_of_label = np.empty(labels.max() + 1 if n else 0, dtype=np.int64)
    survivor_of_label[labels[order][heads]] = order[heads]

    survivor = survivor_of_label[labels[n_index:]]
    removed = survivor != np.arange(n_index, n)
    exact = removed & (hashes[n_index:] == hashes[survivor])
    if not config.exact.enabled:
        exact[:] = False
    sim = np.ones(len(batch), dtype=np.float32)
    near = removed & ~exact
    sim[near] = similarity(batch.signatures[near], signatures[survivor[near]])
    kept_batch_survivors = survivor[removed][survivor[removed] >= n_index] - n_index
    duplicates = np.bincount(kept_batch_survivors, minlength=len(batch)).astype(np.int32)

    sizes = np.bincount(labels)
    touched = np.unique(labels[n_index:][removed]) if removed.any() else np.empty(0, int)
    stats.update(
        {
            "exact_duplicates": int(exact.sum()),
            "near_duplicates": int(near.sum()),
            "duplicates_of_index": int((removed & (survivor < n_index)).sum()),
            "clusters": int(len(touched)),
            "cluster_sizes": size_histogram(np.sort(sizes[touched])),
            "largest_cluster": int(sizes[touched].max()) if len(touched) else 0,
            "seconds_clusters": round(time.perf_counter() - started, 3),
        }
    )
    return Decisions(survivor, exact, sim, duplicates, stats)
