"""Line and paragraph dedup across documents: boilerplate that survives extraction (cookie
notices, footers, "Share this", menu lines) repeats over thousands of pages.

Two modes, as published:
- `keep_first`: a unit (line or paragraph) seen in an earlier document, of this batch in input
  order or of the index, is removed from the later ones. CCNet (Wenzek et al. 2019, section 3.1)
  and Dolma's paragraph dedup work this way, with a set of unit hashes grown document by
  document.
- `remove_repeated`: a unit found in more than one document is removed from all of them, as the
  exact line dedup of Stanford CS336's data assignment (which keeps only the lines whose count in
  the corpus is one). A unit already in the index counts as found in another document; documents
  of earlier batches are committed and keep theirs.

Only documents that survive document-level dedup take part: a removed duplicate neither loses
units nor marks them as seen. Units repeated within one document are left alone (Gopher's
repetition rules judge those). Units shorter than `min_chars` after normalisation are never
removed: blank lines, list bullets and the braces of code repeat for reasons other than
boilerplate.

Memory: exact 64-bit hashes, no Bloom filter. The index keeps each distinct unit once (8
bytes); the global step holds the batch's unit occurrences (document, position, hash) and sorts
them (`benchmarks/dedup_lines.py` measures it on a million documents). A 64-bit hash makes a
false match (one line wrongly removed) among a billion distinct units a ~3% event for the whole
corpus, against a Bloom filter's per-lookup rate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from llm_pretrain.pipeline.dedup.config import LinesConfig
from llm_pretrain.pipeline.dedup.normalize import normalize
from llm_pretrain.pipeline.sorted_arrays import in_sorted

UNIT_HASHES = "unit_hashes"  # phase 1's column: a hash per unit, 0 for units never removed
UNIT_CHARS = "unit_chars"  # phase 1's column: the characters of each unit, ends trimmed
REMOVED_UNITS = "removed_units"  # the decisions' column: positions of the units to remove
UNITS_REMOVED = "units_removed"  # output columns: how many, and their bytes (UTF-8)
UNIT_BYTES_REMOVED = "unit_bytes_removed"

# A unit's separator: a line's newline (CRLF whole); for paragraphs, a newline and one or more
# blank lines. The next unit's own indentation is not part of the separator.
_BLANK = r"[ \t\r\f\v]*\n"
_SEPARATORS = {
    "line": re.compile(r"(\r?\n)"),
    "paragraph": re.compile(rf"(\n{_BLANK}(?:{_BLANK})*)"),
}


# --- Per document -----------------------------------------------------------------------------


def split_units(text: str, unit: str) -> tuple[list[str], list[str]]:
    """The units of `text` and the separator after each ("" after the last): joined in turn,
    they give `text` back."""
    parts = _SEPARATORS[unit].split(text)
    return parts[0::2], [*parts[1::2], ""]


def unit_hash(unit: str, config: LinesConfig) -> int:
    """64-bit BLAKE2b of the normalised unit; 0 (never removed) when it is shorter than
    `min_chars`."""
    normal = normalize(unit, config.normalize)
    if len(normal) < config.min_chars:
        return 0
    value = int.from_bytes(hashlib.blake2b(normal.encode(), digest_size=8).digest(), "little")
    return value or 1


def unit_columns(texts: Sequence[str], config: LinesConfig) -> tuple[pa.Array, pa.Array]:
    """Phase 1's columns: the hash of every unit of every text, and its characters (ends
    trimmed: what a document has left is the sum over the units it keeps)."""
    hashes, chars = [], []
    for text in texts:
        units = split_units(text, config.unit)[0]
        hashes.append([unit_hash(unit, config) for unit in units])
        chars.append([len(unit.strip()) for unit in units])
    return pa.array(hashes, pa.list_(pa.uint64())), pa.array(chars, pa.list_(pa.int32()))


def remove_units(text: str, positions: Sequence[int], unit: str) -> tuple[str, int]:
    """`text` without the units at `positions` (and the separator after each; the last kept
    unit takes the text's own ending), and the UTF-8 bytes of the units removed."""
    units, separators = split_units(text, unit)
    dropped = set(positions)
    kept = [i for i in range(len(units)) if i not in dropped]
    pieces: list[str] = []
    for n, i in enumerate(kept):
        pieces.append(units[i])
        if n + 1 < len(kept):
            pieces.append(separators[i])
    removed_bytes = sum(len(units[i].encode()) for i in dropped if i < len(units))
    return "".join(pieces), removed_bytes


# --- The global step --------------------------------------------------------------------------


def removed_mask(
    documents: np.ndarray, hashes: np.ndarray, seen: np.ndarray, mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """Which unit occurrences go, and the batch's distinct hashes that `seen` lacks (sorted: the
    batch's part of the index). `documents`: each occurrence's document (batch position, in
    non-decreasing order); `hashes`: its unit hash; `seen`: the index's hashes, sorted.
    Measured on 18M occurrences: ~30 bytes per occurrence at the peak, 3-4 s."""
    count = len(hashes)
    order = np.argsort(hashes, kind="stable")  # documents already ascend: (hash, document) order
    sorted_hashes = hashes[order]
    starts = np.ones(count, dtype=bool)
    np.not_equal(sorted_hashes[1:], sorted_hashes[:-1], out=starts[1:])
    distinct = sorted_hashes[starts]
    del sorted_hashes
    sorted_documents = documents[order]
    run = np.cumsum(starts, dtype=np.int64 if count >= 2**31 else np.int32)
    run -= 1
    if mode == "keep_first":
        removed_sorted = sorted_documents > sorted_documents[starts][run]
    else:  # remove_repeated: a second document in the hash's run
        second = np.zeros(count, dtype=bool)
        np.not_equal(sorted_documents[1:], sorted_documents[:-1], out=second[1:])
        second &= ~starts
        repeated = np.zeros(len(distinct), dtype=bool)
        repeated[run[second]] = True
        removed_sorted = repeated[run]
    del sorted_documents
    indexed = in_sorted(seen, distinct)
    removed_sorted |= indexed[run]
    del run
    removed = np.empty(count, dtype=bool)
    removed[order] = removed_sorted
    return removed, distinct[~indexed]


def occurrences(column: pa.ChunkedArray | pa.ListArray) -> tuple[np.ndarray, ...]:
    """A phase-1 column as flat (document, position, hash) arrays of the units that may be
    removed (hash != 0); documents are row numbers of the column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = array.offsets.to_numpy()
    offsets = offsets - offsets[0]
    hashes = array.flatten().to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
    documents = np.repeat(np.arange(len(array), dtype=np.int64), np.diff(offsets))
    positions = (np.arange(len(hashes), dtype=np.int64) - offsets[documents]).astype(np.int32)
    eligible = hashes != 0
    return documents[eligible], positions[eligible], hashes[eligible]


def characters_left(
    chars: pa.ChunkedArray | pa.ListArray, documents: np.ndarray, positions: np.ndarray
) -> np.ndarray:
    """Per row of a phase-1 `unit_chars` column: the characters its units hold once the units
    at (`documents`, `positions`) are removed."""
    array = chars.combine_chunks() if isinstance(chars, pa.ChunkedArray) else chars
    offsets = array.offsets.to_numpy()
    offsets = offsets - offsets[0]
    flat = array.flatten().to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    owner = np.repeat(np.arange(len(array)), np.diff(offsets))
    total = np.bincount(owner, weights=flat, minlength=len(array))
    removed = flat[offsets[documents] + positions]
    return (total - np.bincount(documents, weights=removed, minlength=len(array))).astype(np.int64)


def positions_by_document(documents: np.ndarray, positions: np.ndarray, count: int) -> pa.ListArray:
    """A list<int32> column of `count` rows: the positions of each document's removed units
    (`documents` in non-decreasing order)."""
    bounds = np.searchsorted(documents, np.arange(count + 1)).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(bounds), pa.array(positions, pa.int32()))
