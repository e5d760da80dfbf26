"""The training data of a run: one token dataset, or a weighted mixture of several.

A recipe's `data` is a folder, or `NAME: {path, weight}` per source. Every source must be
tokenized with the same tokenizer into rows of the same length (one model reads them all).
One folder is a mixture of one source named `data`, whose rows, order and checkpoint
records are those the trainer had before mixtures existed, so older runs resume unchanged.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llm_pretrain.errors import NotFound
from llm_pretrain.train.config import MixSource
from llm_pretrain.train.data import StreamSource, TokenBatches, TokenData, open_token_data
from llm_pretrain.train.runtime import TrainError

# Everything a run says goes out under one logger name, the trainer's.
log = logging.getLogger("llm_pretrain.train.trainer")

SINGLE = "data"  # the name of the only source of a run given one folder


@dataclass
class Source:
    name: str
    data: TokenData
    weight: float  # normalised: the weights of a mixture sum to 1


Seed = int | tuple[int, ...]


@dataclass
class TokenMixture:
    sources: list[Source]
    named: bool = False  # given as NAME: {path, weight} (a recipe's mixture, even of one)

    @property
    def primary(self) -> TokenData:
        """The first source: its tokenizer and row length are every source's (checked)."""
        return self.sources[0].data

    @property
    def is_mixture(self) -> bool:
        """A recipe's mixture: its sources are named in checkpoints and metrics."""
        return self.named

    @property
    def seq_len(self) -> int:
        return self.primary.seq_len

    @property
    def vocab_size(self) -> int:
        return self.primary.vocab_size

    @property
    def folder(self) -> Path:
        return self.primary.folder

    @property
    def token_bytes(self) -> np.ndarray | None:
        return self.primary.token_bytes

    def tokenizer_files(self) -> dict[str, Path]:
        return self.primary.tokenizer_files()

    def rows(self, split: str) -> int:
        return sum(source.data.rows(split) for source in self.sources)

    @property
    def identity(self) -> dict[str, Any]:
        """What a checkpoint records of its data: one folder's identity as before mixtures, or
        the tokenizer and each source's identity and weight."""
        if not self.is_mixture:
            return self.primary.identity
        return {
            "tokenizer_sha256": self.primary.identity["tokenizer_sha256"],
            "seq_len": self.seq_len,
            "sources": {s.name: {**s.data.identity, "weight": s.weight} for s in self.sources},
        }

    def batches(
        self,
        batch_rows: int,
        rank: int,
        world: int,
        seed: int,
        position: int = 0,
        continued: dict[str, tuple[int, Seed]] | None = None,
    ) -> TokenBatches:
        """This rank's batches from stream position `position`. A source in `continued` goes
        on from its (position, seed of its shuffled order) at the checkpoint; another starts
        its own order, from the run's seed and its name, at its first row."""
        continued = continued or {}
        fresh = {s.name: (0, source_seed(seed, s.name, self.is_mixture)) for s in self.sources}
        states = [continued.get(s.name, fresh[s.name]) for s in self.sources]
        streams = [
            StreamSource(s.data.train, s.weight, order)
            for s, (_, order) in zip(self.sources, states, strict=True)
        ]
        positions = [taken for taken, _ in states]
        return TokenBatches(streams, batch_rows, rank, world, seed, position, positions)


def source_seed(seed: int, name: str, mixed: bool) -> Seed:
    """The seed of a new source's shuffled order: the run's alone for one folder (its order as
    before mixtures), with the source's name in a mixture, so that sources shuffle apart. A
    checkpoint saves each source's seed, so that a source continued under another name, or
    from one folder into a mixture, keeps its order."""
    return (seed, zlib.crc32(name.encode())) if mixed else seed


def saved_seed(value: int | list[int]) -> Seed:
    """A seed as JSON holds it (a tuple becomes a list)."""
    return tuple(value) if isinstance(value, list) else value


def saved_sources(identity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A checkpoint's data identity as {name: identity} (one folder: the source `data`)."""
    return identity.get("sources", {SINGLE: identity})


def open_mixture(data: Path | str | dict[str, MixSource]) -> TokenMixture:
    """Open every source; refuse sources that one model cannot read together."""
    if not isinstance(data, dict):
        return TokenMixture([Source(SINGLE, open_token_data(Path(data)), 1.0)], named=False)
    total = sum(source.weight for source in data.values())
    # In the order of their names: the draw depends on the order, the YAML's order must not.
    sources = [
        Source(name, _open_source(name, Path(data[name].path)), data[name].weight / total)
        for name in sorted(data)
    ]
    first = sources[0]
    for source in sources[1:]:
        _check_together(first, source)
    return TokenMixture(sources, named=True)


def _open_source(name: str, path: Path) -> TokenData:
    try:
        return open_token_data(path)
    except (TrainError, NotFound) as exc:  # which source, when the recipe names several
        raise type(exc)(f"data source {name}: {exc}") from None


def _check_together(first: Source, other: Source) -> None:
    """Same tokenizer, same row length, and not the same folder twice."""
    if other.data.folder.resolve() == first.data.folder.resolve():
        raise TrainError(f"data sources {first.name} and {other.name} are the same folder")
    mine, theirs = first.data.manifest["tokenizer"], other.data.manifest["tokenizer"]
    if mine["sha256"] != theirs["sha256"]:
        raise TrainError(
            f"data source {other.name} ({other.data.folder}) was tokenized with another "
            f"tokenizer than {first.name} ({first.data.folder}); tokenize every source with "
            f"one tokenizer (llm-data tokenize --tokenizer {first.data.folder} reuses "
            f"{first.name}'s)"
        )
    if other.data.seq_len != first.data.seq_len:
        raise TrainError(
            f"data source {other.name} has rows of {other.data.seq_len} tokens, "
            f"{first.name} of {first.data.seq_len}; tokenize every source with the same "
            "tokenize.seq_len"
        )


class RepeatWarnings:
    """A warning when a source starts repeating its rows (its second pass begins), naming it
    and how many passes the run will make over it: repeated rows are worth less than new ones
    (Muennighoff et al. 2023: up to about 4 passes are nearly as good as new data)."""

    def __init__(self, data: TokenMixture, batches: TokenBatches, main: bool) -> None:
        self.data, self.batches, self.main = data, batches, main
        self.epochs = batches.epochs()

    def check(self, step: int, max_steps: int) -> None:
        """After `step`: warn of each source whose rows just started to repeat."""
        now = self.batches.epochs()
        for index, source in enumerate(self.data.sources):
            if self.epochs[index] == 0 < now[index] and self.main:
                rows = len(source.data.train)
                taken = self.batches.source_positions[index]
                passes = taken / rows * max_steps / max(step, 1)
                what = f"data source {source.name}" if self.data.is_mixture else "the training data"
                log.warning(
                    "%s starts repeating at step %d: all its %s rows were seen; at this rate "
                    "the run makes %.1f passes over it",
                    what, step, f"{rows:,}", passes,
                )  # fmt: skip
        self.epochs = now
