"""MinHash signatures and LSH band keys, vectorised with numpy.

A signature is what datasketch's `MinHash(num_perm, seed, scheme="affine32")` holds after
`update_batch` over a document's shingle hashes: each shingle's 32-bit hash is mixed with the
MurmurHash3 finalizer, sent through `num_perm` permutations h -> a*h + b (mod 2^32) whose
(a, b) datasketch draws from the seed, and the minimum is kept per permutation. We take the
permutations from datasketch and compute the same numbers for a whole batch of documents in a
few numpy operations (tests check equality with datasketch), because datasketch hashes every
shingle with SHA-1 in a Python loop, which caps it near 1,000 documents/s.

Shingle hashes: each distinct word (or character) gets a 64-bit value once (BLAKE2b, or a mix
of the code point), an n-gram's hash is a fixed linear combination of its n values (mod 2^64),
mixed and cut to 32 bits. Two different shingles share a hash with probability ~2^-32, which
adds a bias of that order to the Jaccard estimate.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from llm_pretrain.pipeline.dedup.config import MinHashConfig
from llm_pretrain.pipeline.dedup.normalize import normalize
from llm_pretrain.pipeline.sorted_arrays import sorted_distinct

EMPTY = np.uint32(0xFFFFFFFF)  # the value of every row of a signature of no shingles
# Shingles hashed at once: bounds the (shingles x num_perm) work matrix to 32 MB at 128 perms.
_BLOCK = 1 << 16


def _splitmix64(count: int, seed: int) -> np.ndarray:
    """`count` odd 64-bit constants from the SplitMix64 generator (Steele et al. 2014): fixed
    forever, since stored signatures depend on them."""
    values, state, mask = [], seed, (1 << 64) - 1
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        values.append((z ^ (z >> 31)) | 1)
    return np.array(values, dtype=np.uint64)


# Coefficients of the n-gram combination, and of the band keys.
_NGRAM_COEFFICIENTS = _splitmix64(64, seed=0x5348494E474C45)
_BAND_COEFFICIENTS = _splitmix64(1024, seed=0x42414E44)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: every input bit affects every output bit."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, which datasketch's affine32 scheme applies first."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


class _WordValues(dict[str, int]):
    """word -> its 64-bit value, computed on first use (words repeat across documents)."""

    def __missing__(self, word: str) -> int:
        value = self[word] = int.from_bytes(
            hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little"
        )
        return value


_WORDS = _WordValues()
_WORDS_LIMIT = 1_000_000


def _ngram_hashes(values: np.ndarray, n: int) -> np.ndarray:
    """32-bit hashes of every n-gram of `values` (one hash of all of them if fewer than n)."""
    n = min(n, len(values))
    count = len(values) - n + 1
    combined = np.zeros(count, dtype=np.uint64)
    for j in range(n):
        combined += values[j : j + count] * _NGRAM_COEFFICIENTS[j]
    return (fmix64(combined) >> np.uint64(32)).astype(np.uint32)


def shingle_hashes(text: str, config: MinHashConfig) -> np.ndarray:
    """The 32-bit hashes of the shingles of `text` after normalisation (may repeat; empty
    when the normalised text is)."""
    text = normalize(text, config.normalize, words=config.shingle == "word")
    if not text or text.isspace():
        return np.empty(0, dtype=np.uint32)
    if config.shingle == "char":
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        return _ngram_hashes(fmix64(points + np.uint64(0x9E3779B97F4A7C15)), config.ngram)
    if len(_WORDS) > _WORDS_LIMIT:
        _WORDS.clear()
    words = text.split()
    values = np.fromiter(map(_WORDS.__getitem__, words), dtype=np.uint64, count=len(words))
    return _ngram_hashes(values, config.ngram)


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) parameters of datasketch's affine32 scheme (datasketch 2.x,
    `MinHash._init_permutations`): from numpy's RandomState(seed), an odd `a` (a bijection
    modulo 2^32) and any `b`. Computed here: importing datasketch costs each worker 0.25 s
    (it imports scipy); the tests check the signatures against datasketch's own."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _permuted(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(num_perm x shingles) permuted values. This orientation makes each document's minimum
    a reduction over contiguous memory, several times faster than the transpose."""
    permuted = a[:, None] * fmix32(hashes)[None, :]
    permuted += b[:, None]
    return permuted


def signatures(hash_lists: list[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    """One signature row (uint32) per document from its shingle hashes; EMPTY rows for
    documents without shingles. Documents are hashed in blocks of about `_BLOCK` shingles so
    that numpy does the work in few, large operations."""
    a, b = permutations(num_perm, seed)
    result = np.full((len(hash_lists), num_perm), EMPTY, dtype=np.uint32)
    start = 0
    while start < len(hash_lists):
        stop, total = start, 0
        while stop < len(hash_lists) and (stop == start or total + len(hash_lists[stop]) <= _BLOCK):
            total += len(hash_lists[stop])
            stop += 1
        rows = [i for i in range(start, stop) if len(hash_lists[i])]
        if len(rows) == 1 and total > _BLOCK:  # one long document, in pieces
            hashes = hash_lists[rows[0]]
            for first in range(0, len(hashes), _BLOCK):
                piece = _permuted(hashes[first : first + _BLOCK], a, b).min(axis=1)
                np.minimum(result[rows[0]], piece, out=result[rows[0]])
        elif rows:
            lengths = np.array([len(hash_lists[i]) for i in rows])
            offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
            permuted = _permuted(np.concatenate([hash_lists[i] for i in rows]), a, b)
            result[rows] = np.minimum.reduceat(permuted, offsets, axis=1).T
        start = stop
    return result


@dataclass(frozen=True)
class LshParams:
    bands: int
    rows: int


# With verification, LSH only has to find the pairs: at the threshold a pair must become a
# candidate with at least this probability (the verification removes the false candidates).
CANDIDATE_RECALL = 0.99


def candidate_probability(similarity: float, params: LshParams) -> float:
    """Chance that two documents of this Jaccard similarity share a key in some band."""
    return 1 - (1 - similarity**params.rows) ** params.bands


@lru_cache(maxsize=8)
def _balanced_bands(threshold: float, num_perm: int) -> LshParams:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return LshParams(lsh.b, lsh.r)


def _recall_bands(threshold: float, num_perm: int) -> LshParams:
    """The most rows per band (fewest false candidates) that still reach CANDIDATE_RECALL."""
    for rows in range(num_perm, 0, -1):
        params = LshParams(num_perm // rows, rows)
        if candidate_probability(threshold, params) >= CANDIDATE_RECALL:
            return params
    return LshParams(num_perm, 1)


def lsh_params(config: MinHashConfig) -> LshParams:
    """Bands x rows: as configured; with verification, the most rows per band that still make
    a pair at the threshold a candidate 99% of the time (21 x 6 for 0.8 and 128 permutations);
    without, datasketch's choice, which weighs false positives and false negatives equally
    (9 x 13: only 40% of pairs at exactly 0.8 are found, 93% at 0.9)."""
    if config.bands is not None and config.rows is not None:
        return LshParams(config.bands, config.rows)
    if config.verify != "off":
        return _recall_bands(config.threshold, config.num_perm)
    return _balanced_bands(config.threshold, config.num_perm)


def band_keys(signatures: np.ndarray, params: LshParams) -> np.ndarray:
    """(documents x bands) 64-bit keys: two documents share a key in band i when their
    signatures agree on all rows of that band (or, with chance ~2^-64, by collision)."""
    keys = np.zeros((len(signatures), params.bands), dtype=np.uint64)
    for band in range(params.bands):
        first = band * params.rows
        for k in range(params.rows):
            keys[:, band] += signatures[:, first + k].astype(np.uint64) * _BAND_COEFFICIENTS[k]
    return fmix64(keys)


def uncertainty(threshold: float, num_perm: int) -> float:
    """Four standard deviations of the similarity estimate at the threshold: an estimate
    further than this from the threshold is on the same side as the true similarity, but for
    a chance of about 3e-5."""
    return 4 * math.sqrt(threshold * (1 - threshold) / num_perm)


def shingle_set(hashes: np.ndarray) -> np.ndarray:
    """The sorted distinct shingle hashes: what exact verification compares."""
    return sorted_distinct(hashes)


def jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Jaccard similarity of two `shingle_set`s."""
    if not len(left) and not len(right):
        return 0.0
    common = len(np.intersect1d(left, right, assume_unique=True))
    return common / (len(left) + len(right) - common)


def similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of paired signature rows: the share of equal values."""
    return (left == right).mean(axis=-1)
