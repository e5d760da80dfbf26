"""Sets of 64-bit (or 32-bit) hashes as sorted numpy arrays: line dedup's units, MinHash's
shingle sets, decontamination's n-grams.

Sort-and-mask, not `np.unique`: since numpy 2.3, `np.unique` without extra outputs uses a hash
table, about 20x slower on millions of uint64 values and several times on small arrays.
"""

from __future__ import annotations

import numpy as np


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """`values` sorted, each once."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def in_sorted(seen: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Which `queries` are in the sorted `seen`. Sorted queries keep the binary searches in
    cache: 30x faster than random ones on millions."""
    if not len(seen):
        return np.zeros(len(queries), dtype=bool)
    at = np.searchsorted(seen, queries)
    at[at == len(seen)] = 0
    return seen[at] == queries
