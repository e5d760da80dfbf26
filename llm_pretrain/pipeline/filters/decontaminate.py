"""`decontaminate`: keep evaluation sets out of the corpus.

Benchmarks leak into crawls; a model trained on its test questions scores what it memorised.
GPT-3 (Brown et al. 2020, appendix C) removed training documents that share a 13-gram with an
evaluation set; Dolma/OLMo and DCLM remove documents (or spans) by long n-gram overlap too. Here:

- words are the `\\w+` runs of the text, each NFKC-normalised and lower-cased (punctuation and
  spacing ignored, as GPT-3's lower-cased, punctuation-stripped words);
- every `ngram` consecutive words of every eval text go into a set of 64-bit hashes (a word's
  code points as a polynomial, mixed by MurmurHash3's finalizer; a word run's hashes combined
  by a polynomial: the same on every machine and run); a text shorter than `ngram` words
  cannot be matched and is counted as such;
- `reject`: a document with any eval n-gram is rejected as `decontaminate:<name>`, the name of
  the first eval set (in config order) it overlaps;
- `remove_spans`: as GPT-3 did to its training documents, each matched stretch is cut out with
  `margin_chars` (200) on either side, the pieces left shorter than `min_piece_chars` (200) are
  dropped, and a document with more than `max_spans` (10) stretches, or nothing left, is
  rejected as above.

A document is checked with a few numpy passes: over its characters (an ASCII text's word hashes
from prefix sums; other texts word by word, through a per-process cache), over its n-grams,
and a bitmap lookup per n-gram that sends the few candidates on to a sorted-array search.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from llm_pretrain.errors import UsageError
from llm_pretrain.pipeline.dedup.minhash import fmix64
from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig
from llm_pretrain.pipeline.sorted_arrays import in_sorted, sorted_distinct
from llm_pretrain.pipeline.text_sets import TextSetError, read_text_set, set_files
from llm_pretrain.storage import file_sha256

_WORD = re.compile(r"\w+")
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: odd, spreads the bits
REMOVED_COLUMN = "eval_chars_removed"


class DecontaminateError(UsageError, ValueError):
    """An eval set that cannot be used: a config error, found before any worker starts."""


class DecontaminateConfig(StepConfig):
    eval_files: list[str] = Field(
        [],
        description="eval sets: .txt/.md (one text each), .jsonl (a text per line, from "
        "text_field), .parquet (a text per row), a folder of those, or a dataset folder; each "
        "set is named by its file or folder name (its stem) in the reason",
    )
    text_field: str = Field("text", description="the text field of .jsonl and .parquet eval sets")
    ngram: int = Field(13, ge=1, description="words per n-gram; 13 as GPT-3")
    mode: Literal["reject", "remove_spans"] = Field(
        "reject",
        description="reject documents with any eval n-gram, or cut the matched spans out "
        "(GPT-3's treatment of its training data)",
    )
    margin_chars: int = Field(
        200, ge=0, description="remove_spans: characters cut on either side of a match (GPT-3)"
    )
    min_piece_chars: int = Field(
        200, ge=0, description="remove_spans: pieces left shorter than this are dropped (GPT-3)"
    )
    max_spans: int = Field(
        10,
        ge=1,
        description="remove_spans: a document with more matched stretches is rejected (GPT-3)",
    )


# --- Words and n-grams ------------------------------------------------------------------------


def words(text: str) -> list[re.Match[str]]:
    """The words of `text`, found in the text as written so that their spans index it."""
    return list(_WORD.finditer(text))


def token(word: str) -> str:
    """A word as compared: NFKC-normalised (full-width letters, ligatures), lower case."""
    return (word if word.isascii() else unicodedata.normalize("NFKC", word)).lower()


# A word's hash: its code points as a polynomial in _BASE modulo 2^64 (Horner's rule), then
# MurmurHash3's finalizer. The same number whether computed word by word (below) or for every
# word of an ASCII text at once from prefix sums (`text_word_hashes`).
_BASE = 0x100000001B3  # FNV-1a's 64-bit prime: odd, so invertible modulo 2^64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_MASK = (1 << 64) - 1
_ASCII_WORD = np.array([bool(_WORD.fullmatch(chr(code))) for code in range(128)])


def _word_hash(word: str) -> int:
    value = 0
    for char in word:
        value = (value * _BASE + ord(char)) & _MASK
    return int(fmix64(np.array([value], dtype=np.uint64))[0])


class _WordHashes(dict):
    """word (as compared) -> its hash, filled on first use: words repeat (Zipf's law), so most
    lookups are one dict access."""

    def __missing__(self, word: str) -> int:
        value = self[word] = _word_hash(word)
        return value


_word_hashes = _WordHashes()


class _Powers:
    """_BASE and its inverse to the powers 0..n-1, grown on demand (uint64, wrapping)."""

    def __init__(self) -> None:
        self.up = np.ones(1, dtype=np.uint64)
        self.down = np.ones(1, dtype=np.uint64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < n:
            size = max(n, 2 * len(self.up))
            with np.errstate(over="ignore"):
                self.up = np.cumprod(np.r_[1, np.full(size - 1, _BASE)].astype(np.uint64))
                inverse = np.full(size - 1, _BASE_INVERSE, dtype=np.uint64)
                self.down = np.cumprod(np.r_[np.uint64(1), inverse].astype(np.uint64))
        return self.up[:n], self.down[:n]


_powers = _Powers()
_VECTOR_CHARS = 1 << 21  # longer texts go word by word: the powers kept stay under 32 MB


def text_word_hashes(text: str) -> np.ndarray:
    """The hash of every word of `text`, in order, as compared (NFKC, lower case, word by word).
    An ASCII text (up to 2M characters) is hashed with numpy alone: code points times powers
    of the base's inverse, prefix sums, and each word's difference scaled back; other texts
    word by word."""
    if not text.isascii() or len(text) > _VECTOR_CHARS:
        if len(_word_hashes) > 1_000_000:  # bound the cache (~120 MB)
            _word_hashes.clear()
        tokens = [token(word) for word in _WORD.findall(text)]
        return np.fromiter(map(_word_hashes.__getitem__, tokens), np.uint64, len(tokens))
    codes = np.frombuffer(text.lower().encode("ascii"), dtype=np.uint8)
    edges = np.diff(np.r_[False, _ASCII_WORD[codes], False].astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not len(starts):
        return np.empty(0, np.uint64)
    up, down = _powers.upto(len(codes))
    with np.errstate(over="ignore"):
        prefix = np.r_[np.uint64(0), np.cumsum(codes.astype(np.uint64) * down, dtype=np.uint64)]
        values = (prefix[ends] - prefix[starts]) * up[ends - 1]
    return fmix64(values)


def ngram_hashes(values: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of `n` consecutive words (their hashes `values`; none when there
    are fewer)."""
    if len(values) < n:
        return np.empty(0, np.uint64)
    count = len(values) - n + 1
    hashes = values[:count].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            hashes = hashes * _MULTIPLIER + values[k : k + count]
    return hashes


# --- Eval sets --------------------------------------------------------------------------------


@dataclass
class EvalSet:
    name: str
    ngrams: np.ndarray  # sorted distinct uint64
    texts: int
    too_short: int  # texts with fewer than `ngram` words: they cannot be matched
    bitmap: np.ndarray = field(init=False)  # one bit per top-bits value of a hash held

    def __post_init__(self) -> None:
        """A bitmap of ~16 bits per n-gram (a few MB, cache-friendly) answers most lookups;
        only its ~6% false positives (1 - e^(-1/16)) and the true matches go on to the binary
        search of the sorted array, whose random reads cost most of the time otherwise."""
        bits = max(20, int(np.ceil(np.log2(16 * max(1, len(self.ngrams))))))
        self.shift = np.uint64(64 - bits)
        self.bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
        top = self.ngrams >> self.shift  # sorted, as the n-grams are: one OR per byte
        where = (top >> np.uint64(3)).astype(np.int64)
        bits = np.left_shift(np.uint8(1), (top & np.uint64(7)).astype(np.uint8))
        if len(where):
            starts = np.flatnonzero(np.r_[True, where[1:] != where[:-1]])
            self.bitmap[where[starts]] = np.bitwise_or.reduceat(bits, starts)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        top = hashes >> self.shift
        maybe = (self.bitmap[top >> np.uint64(3)] >> (top & np.uint64(7)).astype(np.uint8)) & 1
        found = maybe.astype(bool)
        found[found] = in_sorted(self.ngrams, hashes[found])
        return found


def set_name(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def identity(path: Path) -> dict[str, str]:
    """What an eval set's n-grams depend on: the content of its files."""
    try:
        files = set_files(path)
        digest = hashlib.sha256()
        for file in files:
            digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
            digest.update(file_sha256(file).encode())
    except TextSetError as exc:
        raise DecontaminateError(f"filter.decontaminate.eval_files: {exc}") from None
    except OSError as exc:
        raise DecontaminateError(
            f"filter.decontaminate.eval_files: cannot read {exc.filename or path}: {exc.strerror}"
        ) from None
    return {"name": set_name(path), "sha256": digest.hexdigest()}


def set_ngrams(texts: list[str], n: int) -> tuple[np.ndarray, int]:
    """The distinct n-gram hashes of all `texts` (sorted), and how many texts are too short to
    have one. The words of all texts are hashed at once (ASCII texts joined by newlines, which
    no word crosses); an n-gram counts only if its words are of one text."""
    hashed: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    plain = [number for number, text in enumerate(texts) if text.isascii()]
    for chunk in _chunks(plain, texts):  # ~1 MB each: the powers of the base stay small
        hashed.append(text_word_hashes("\n".join(texts[i] for i in chunk)))
        owners.append(np.repeat(chunk, [_word_count(texts[i]) for i in chunk]))
    for number, text in enumerate(texts):
        if not text.isascii():
            hashed.append(text_word_hashes(text))
            owners.append(np.full(len(hashed[-1]), number))
    values = np.concatenate(hashed) if hashed else np.empty(0, np.uint64)
    owner = np.concatenate(owners) if owners else np.empty(0, np.int64)
    grams = ngram_hashes(values, n)
    whole = owner[: len(grams)] == owner[n - 1 : n - 1 + len(grams)]
    counts = np.bincount(owner, minlength=len(texts))
    return sorted_distinct(grams[whole]), int((counts < n).sum())


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _chunks(numbers: list[int], texts: list[str], size: int = 1 << 20) -> list[list[int]]:
    """`numbers` in runs whose texts hold about `size` characters together."""
    chunks: list[list[int]] = [[]]
    length = 0
    for number in numbers:
        if length >= size:
            chunks.append([])
            length = 0
        chunks[-1].append(number)
        length += len(texts[number]) + 1
    return [chunk for chunk in chunks if chunk]


@cache
def load_eval_set(path: str, text_field: str, n: int, content: str) -> EvalSet:
    """An eval set's n-grams, read once per process (`content`, its digest, keys the cache so
    that a changed file is read again)."""
    del content
    try:
        texts = read_text_set(Path(path), "text of an eval set", text_field)
    except TextSetError as exc:
        raise DecontaminateError(f"filter.decontaminate.eval_files: {exc}") from None
    ngrams, too_short = set_ngrams(texts, n)
    if not len(ngrams):
        raise DecontaminateError(
            f"filter.decontaminate.eval_files: {path} has no text of {n} words or more"
        )
    return EvalSet(set_name(Path(path)), ngrams, len(texts), too_short)


# --- The step ---------------------------------------------------------------------------------


class Decontaminate(Step):
    name = "decontaminate"
    config_class = DecontaminateConfig
    columns: ClassVar[dict[str, pa.DataType]] = {REMOVED_COLUMN: pa.int64()}

    def __init__(self, config: DecontaminateConfig) -> None:
        super().__init__(config)
        if not config.eval_files:
            raise DecontaminateError(
                "filter.decontaminate.eval_files is empty: give the eval sets to keep out"
            )
        self.sets = []
        for entry in config.eval_files:
            path = Path(entry)
            if not path.exists():
                raise DecontaminateError(f"filter.decontaminate.eval_files: {entry} does not exist")
            content = identity(path)["sha256"]
            self.sets.append(load_eval_set(str(path), config.text_field, config.ngram, content))
        names = [s.name for s in self.sets]
        if len(set(names)) != len(names):
            raise DecontaminateError(
                f"filter.decontaminate.eval_files: two eval sets are named alike ({names}); "
                "rename a file or folder"
            )

    def identities(self) -> list[dict[str, Any]]:
        """Each eval set's content digest, texts, and texts too short to be matched (fewer
        than `ngram` words: short questions, scripts without spaces), for the manifest."""
        return [
            {**identity(Path(entry)), "texts": found.texts, "too_short": found.too_short}
            for entry, found in zip(self.config.eval_files, self.sets, strict=True)
        ]

    def apply(self, doc: Document) -> str | None:
        config: DecontaminateConfig = self.config
        doc.annotations[REMOVED_COLUMN] = 0
        hashes = ngram_hashes(text_word_hashes(doc.text), config.ngram)
        if not len(hashes):
            return None
        matched = np.zeros(len(hashes), dtype=bool)
        names = []
        for eval_set in self.sets:
            found = eval_set.contains(hashes)
            if found.any():
                self.counts[f"matched:{eval_set.name}"] += 1
                names.append(eval_set.name)
                matched |= found
        if not names:
            return None
        if config.mode == "reject":
            return names[0]
        return self._remove_spans(doc, words(doc.text), matched, names[0])

    def _remove_spans(
        self, doc: Document, found: list[re.Match[str]], matched: np.ndarray, name: str
    ) -> str | None:
        """Cut every matched stretch (with its margins) out of `doc.text`; reject with `name`
        when too many stretches matched or nothing worth keeping is left."""
        config: DecontaminateConfig = self.config
        covered = np.zeros(len(found) + 1, dtype=np.int32)  # n-gram i covers words i..i+n-1
        starts = np.flatnonzero(matched)
        np.add.at(covered, starts, 1)
        np.add.at(covered, starts + config.ngram, -1)
        inside = np.cumsum(covered[:-1]) > 0
        edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
        bounds = zip(edges[::2], edges[1::2], strict=True)
        stretches = [(found[a].start(), found[b - 1].end()) for a, b in bounds]
        if len(stretches) > config.max_spans:
            return name
        text, pieces, at = doc.text, [], 0
        for start, end in stretches:
            pieces.append(text[at : max(at, start - config.margin_chars)])
            at = max(at, min(len(text), end + config.margin_chars))
        pieces.append(text[at:])
        kept = [p.strip() for p in pieces if len(p.strip()) >= config.min_piece_chars]
        if not kept:
            return name
        new_text = "\n\n".join(kept)
        doc.annotations[REMOVED_COLUMN] = len(text) - len(new_text)
        self.counts["spans_removed"] += len(stretches)
        doc.text = new_text
        return None
