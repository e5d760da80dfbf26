"""Training batches from packed token shards: a shuffled order fixed by a seed, a slice per
data-parallel rank, and a position that a checkpoint saves.

The order is one endless stream of rows: epoch e is a permutation of all rows drawn from
(seed, e), and the epochs follow each other. A global batch takes the next `batch_rows x world`
positions of the stream; rank r takes its `batch_rows` consecutive ones. The position is the
number of rows all ranks have taken, so it does not depend on the number of ranks: resuming
with another world size continues from the same point of the same order, and no row is seen
twice or skipped within an epoch.

A mixture of several datasets (train/mixture.py) gives each position of the stream to one
source (`SourceDraw`), and each source has its own shuffled order and its own position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llm_pretrain.errors import DamagedFile, must_exist
from llm_pretrain.pipeline.dataset import read_manifest
from llm_pretrain.storage import file_problem, file_sha256
from llm_pretrain.tokenizer.bpe import BpeTokenizer, TokenizerError
from llm_pretrain.tokenizer.shards import PackedReader, open_split
from llm_pretrain.train.integrity import first_problem, my_share
from llm_pretrain.train.runtime import Runtime, TrainError

SAMPLED_ROWS = 8  # random rows of each shard whose ids are checked, besides the first and last


@dataclass
class TokenData:
    """A finished `llm-data tokenize` output: its manifest, splits and tokenizer files."""

    folder: Path
    manifest: dict[str, Any]

    @property
    def seq_len(self) -> int:
        return int(self.manifest["seq_len"])

    @property
    def vocab_size(self) -> int:
        return int(self.manifest["tokenizer"]["vocab_size"])

    @property
    def identity(self) -> dict[str, Any]:
        """What a checkpoint records of its data, to tell on resume whether it changed."""
        return {
            "path": str(self.folder.resolve()),
            "fingerprint": self.manifest.get("fingerprint"),
            "tokenizer_sha256": self.manifest["tokenizer"]["sha256"],
            "seq_len": self.seq_len,
            "train_rows": self.manifest["splits"]["train"]["rows"],
        }

    def rows(self, split: str) -> int:
        return int(self.manifest["splits"].get(split, {}).get("rows", 0))

    @cached_property
    def train(self) -> PackedReader:
        return open_split(self.folder, "train")

    @cached_property
    def val(self) -> PackedReader | None:
        return open_split(self.folder, "val") if self.rows("val") else None

    @cached_property
    def token_bytes(self) -> np.ndarray | None:
        """The UTF-8 bytes of text behind each id, for bits per byte; None when the tokenizer
        file cannot be read as a byte-level BPE (tokenize accepts no other, so only when it was
        replaced by hand), and bits per byte is left out."""
        try:
            return BpeTokenizer.load(self.folder / self.manifest["tokenizer"]["file"]).token_bytes()
        except TokenizerError:
            return None

    def tokenizer_files(self) -> dict[str, Path]:
        """The tokenizer files a checkpoint carries, so that it can be sampled and exported."""
        names = [self.manifest["tokenizer"]["file"], "tokenizer_config.json"]
        return {name: self.folder / name for name in names if (self.folder / name).is_file()}


def open_token_data(folder: Path) -> TokenData:
    must_exist(folder, "token data")
    try:
        manifest = read_manifest(folder)
    except DamagedFile as exc:
        raise TrainError(str(exc)) from None
    if manifest is None:
        raise TrainError(f"{folder} holds no finished dataset (no _manifest.json)")
    if not isinstance(manifest, dict):
        raise TrainError(f"{folder}/_manifest.json is not a token dataset manifest (edited?)")
    if manifest.get("stage") != "tokenize":
        raise TrainError(
            f"{folder} holds {manifest.get('stage')} output; training reads the output of "
            "llm-data tokenize"
        )
    if not _is_token_manifest(manifest):
        raise TrainError(f"{folder}/_manifest.json is not a token dataset manifest (edited?)")
    if not manifest["splits"]["train"]["rows"]:
        raise TrainError(f"{folder} has no training rows")
    return TokenData(Path(folder), manifest)


def _is_token_manifest(manifest: dict[str, Any]) -> bool:
    """Whether the manifest has what training reads, of the right types."""
    shard_keys = {"file": str, "bytes": int, "sha256": str, "rows": int}
    splits, tokenizer = manifest.get("splits"), manifest.get("tokenizer")
    return (
        isinstance(splits, dict)
        and isinstance(splits.get("train"), dict)
        and isinstance(tokenizer, dict)
        and isinstance(tokenizer.get("sha256"), str)
        and isinstance(manifest.get("seq_len"), int)
        and all(
            isinstance(split, dict)
            and isinstance(split.get("rows"), int)
            and isinstance(split.get("shards"), list)
            and all(
                isinstance(shard, dict)
                and all(isinstance(shard.get(key), kind) for key, kind in shard_keys.items())
                for shard in split["shards"]
            )
            for split in splits.values()
        )
    )


def verify_token_data(data: TokenData, runtime: Runtime | None = None) -> None:
    """Refuse shards that differ from the manifest (size, sha256, rows) or hold ids the model
    has no embedding for (an IndexError mid-run, a device assert on a GPU). The processes share
    the shards; the manifest's `max_id` of every shard is checked by all (no reading). The
    bound is the tokenizer's vocabulary: `make_plan` refuses a model with a smaller one."""
    shards = [shard for split in data.manifest["splits"].values() for shard in split["shards"]]
    vocab = data.vocab_size
    problem = _tokenizer_problem(data)
    problem = problem or next(filter(None, (_max_id_problem(s, vocab) for s in shards)), None)
    if problem is None:
        mine = my_share(shards, runtime)
        problem = next(filter(None, (_checked(data.folder, shard, vocab) for shard in mine)), None)
    problem = first_problem(runtime, problem)
    if problem:
        raise TrainError(f"token data {data.folder}: {problem}")


def _tokenizer_problem(data: TokenData) -> str | None:
    """The tokenizer file against the manifest's sha256: another one (a train-tokenizer run
    into the folder) would be copied into every checkpoint, and sampling would decode with it."""
    name, expected = data.manifest["tokenizer"]["file"], data.manifest["tokenizer"]["sha256"]
    path = data.folder / name
    if not path.is_file():
        return f"{name} is missing"
    try:
        actual = file_sha256(path)
    except OSError as exc:
        return f"{name} cannot be read: {exc.strerror or exc}"
    return None if actual == expected else f"{name} is not the tokenizer _manifest.json names"


def _max_id_problem(shard: dict[str, Any], vocab: int) -> str | None:
    """The manifest's largest id of the shard (when tokenize recorded one) against the vocab."""
    max_id = shard.get("max_id")
    if max_id is not None and max_id >= vocab:
        return f"{shard['file']} holds ids up to {max_id}, the vocabulary has {vocab}"
    return None


def _checked(folder: Path, shard: dict[str, Any], vocab: int) -> str | None:
    """`_shard_problem`, never raising: every process must reach the collective after it."""
    try:
        return _shard_problem(folder, shard, vocab)
    except Exception as exc:  # an Arrow file that reads but is not what it claims to be
        return f"{shard['file']} is not a readable token shard: {str(exc).splitlines()[0]}"


def _shard_problem(folder: Path, shard: dict[str, Any], vocab: int) -> str | None:
    """A shard's bytes and rows against the manifest, and the ids of a few of its rows."""
    name = shard["file"]
    problem = file_problem(folder / name, name, int(shard["bytes"]), str(shard["sha256"]))
    if problem:
        return f"{problem} (against _manifest.json)"
    try:
        reader = PackedReader([folder / name])
    except Exception as exc:  # pyarrow raises several kinds for a file that is not Arrow IPC
        return f"{name} is not a readable token shard: {str(exc).splitlines()[0]}"
    if len(reader) != shard["rows"]:
        return f"{name} holds {len(reader):,} rows, _manifest.json says {shard['rows']:,}"
    for row in sampled_rows(len(reader)):
        top = int(reader[row][0].max())
        if top >= vocab:
            return f"{name} row {row} holds id {top}, the vocabulary has {vocab}"
    return None


def sampled_rows(rows: int) -> list[int]:
    """The first and last row and a few seeded random ones (the same on every run)."""
    if rows == 0:
        return []
    picked = np.random.default_rng(rows).choice(rows, min(rows, SAMPLED_ROWS), replace=False)
    return sorted({0, rows - 1, *picked.tolist()})


@dataclass
class Batch:
    inputs: torch.Tensor  # (rows, seq_len) int64
    targets: torch.Tensor  # (rows, seq_len) int64
    mask: torch.Tensor  # (rows, seq_len) bool: the targets that are real ids, not padding

    @property
    def target_tokens(self) -> int:
        return int(self.mask.sum())


def loss_mask(lengths: np.ndarray, seq_len: int) -> np.ndarray:
    """Target t of a row is row[t + 1]: real when t + 1 < the row's length."""
    return np.arange(seq_len)[None, :] + 1 < lengths[:, None]


def rows_batch(reader: PackedReader, rows: np.ndarray | list[int]) -> Batch:
    """Inputs, targets and the mask of real targets of the given rows."""
    return stacked_batch([reader[int(row)] for row in rows])


def stacked_batch(picked: list[tuple[np.ndarray, int]]) -> Batch:
    """A batch of rows given as (ids, length) pairs, in order."""
    ids = np.stack([row_ids for row_ids, _ in picked]).astype(np.int64)
    mask = loss_mask(np.array([length for _, length in picked]), ids.shape[1] - 1)
    tensor = torch.from_numpy(ids)
    return Batch(tensor[:, :-1], tensor[:, 1:], torch.from_numpy(mask))


class ShuffledRows:
    """The positions -> rows map of the endless shuffled stream."""

    def __init__(self, rows: int, seed: int | tuple[int, ...]) -> None:
        if rows == 0:
            raise ValueError("no rows to train on")
        self.rows, self.seed = rows, seed
        self._epoch, self._order = -1, np.empty(0, np.int64)

    def order(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            seed = self.seed if isinstance(self.seed, tuple) else (self.seed,)
            rng = np.random.default_rng([*seed, epoch])
            self._epoch, self._order = epoch, rng.permutation(self.rows)
        return self._order

    def take(self, start: int, count: int) -> np.ndarray:
        """Rows at positions start .. start + count of the stream."""
        out = np.empty(count, np.int64)
        done = 0
        while done < count:
            epoch, offset = divmod(start + done, self.rows)
            part = self.order(epoch)[offset : offset + count - done]
            out[done : done + len(part)] = part
            done += len(part)
        return out


# (sqrt(5) - 1) / 2: the step of the Weyl sequence that fills [0, 1) most evenly
GOLDEN = 0.6180339887498949


class SourceDraw:
    """Which source each position of the stream takes its row from, in proportion to the
    weights: position p goes to the source whose share of [0, 1) holds
    u_p = frac(offset + p x GOLDEN), a Weyl (Kronecker) sequence. Its points spread evenly
    (discrepancy O(log n / n), Kuipers & Niederreiter 1974), so any n consecutive positions hold
    each source's share to within a few rows; the seed fixes the offset, and the source of a
    position depends on nothing else, not on how positions are split into batches or ranks."""

    def __init__(self, weights: list[float], seed: int) -> None:
        total = sum(weights)
        self.bounds = np.cumsum(np.array(weights, np.float64) / total)
        self.offset = float(np.random.default_rng([seed, 0x6D6978]).random())

    def sources(self, start: int, count: int) -> np.ndarray:
        """The source index of positions start .. start + count."""
        if len(self.bounds) == 1:
            return np.zeros(count, np.int64)
        points = np.modf(self.offset + np.arange(start, start + count) * GOLDEN)[0]
        picked = np.searchsorted(self.bounds, points, side="right")
        return np.minimum(picked, len(self.bounds) - 1)


@dataclass(frozen=True)
class StreamSource:
    """A source of training rows: its reader, its weight and the seed of its shuffled order."""

    reader: PackedReader
    weight: float = 1.0
    seed: int | tuple[int, ...] = 0


class TokenBatches:
    """Batches of one rank, from stream position `position` on.

    With several sources, position p of the stream takes the next row of source
    `SourceDraw.sources(p)`'s own shuffled stream; `source_positions` counts the rows each
    source has given to all ranks so far. Every rank draws the sources of the whole round of
    `batch_rows x world` positions (cheap: indices only) to know where its share starts in each.
    """

    def __init__(
        self,
        sources: PackedReader | list[StreamSource],
        batch_rows: int,
        rank: int = 0,
        world: int = 1,
        seed: int = 0,
        position: int = 0,
        source_positions: list[int] | None = None,
    ) -> None:
        if isinstance(sources, PackedReader):
            sources = [StreamSource(sources, 1.0, seed)]
        self.sources, self.batch_rows = sources, batch_rows
        self.rank, self.world = rank, world
        self.streams = [ShuffledRows(len(source.reader), source.seed) for source in sources]
        self.draw = SourceDraw([source.weight for source in sources], seed)
        self.position = position  # rows taken by all ranks so far: saved in checkpoints
        if source_positions is None:  # one source: its position is the stream's
            source_positions = [position] if len(sources) == 1 else [0] * len(sources)
        self.source_positions = list(source_positions)

    def epochs(self) -> list[int]:
        """The epoch each source's next row belongs to (0: its first pass)."""
        return [
            n // len(s.reader) for n, s in zip(self.source_positions, self.sources, strict=True)
        ]

    def next_batch(self) -> Batch:
        drawn = self.draw.sources(self.position, self.batch_rows * self.world)
        first = self.rank * self.batch_rows
        mine = drawn[first : first + self.batch_rows]
        before = np.bincount(drawn[:first], minlength=len(self.sources))
        picked: list[tuple[np.ndarray, int]] = [(np.empty(0), 0)] * len(mine)
        for index, source in enumerate(self.sources):
            slots = np.flatnonzero(mine == index)
            if len(slots):
                start = self.source_positions[index] + int(before[index])
                rows = self.streams[index].take(start, len(slots))
                for slot, row in zip(slots, rows, strict=True):
                    picked[slot] = source.reader[int(row)]
        taken = np.bincount(drawn, minlength=len(self.sources))
        self.source_positions = [
            n + int(t) for n, t in zip(self.source_positions, taken, strict=True)
        ]
        self.position += len(drawn)
        return stacked_batch(picked)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next_batch()
