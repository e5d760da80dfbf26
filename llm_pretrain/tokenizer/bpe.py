"""A byte-level BPE tokenizer: trained with rustbpe, encoded with tiktoken, stored as Hugging
Face `tokenizer.json`.

Why these engines: on 48.7 MB with 2 threads and a 32k vocabulary, rustbpe trains in 4.8 s,
Hugging Face `tokenizers` in 11.2 s, a plain Python trainer in about 128 s (figures from the
tokenize issue); tiktoken encodes 6-9 MB/s per thread where `tokenizers` does 1.2-1.5. Both read
the same thing, a map from token bytes to rank (= id), so the trained ranks go to tiktoken as
they are. The ids are 0-255 for the single bytes (rustbpe's base vocabulary: any text encodes),
then the merges in order, then the special tokens. (A whole corpus is encoded by fastokens from
the saved file, faster still: see encoding.py.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from llm_pretrain.errors import UserError
from llm_pretrain.storage import atomic_write_bytes
from llm_pretrain.tokenizer.hf_format import (
    from_tokenizer_json,
    to_tokenizer_json,
    tokenizer_config,
)
from llm_pretrain.tokenizer.patterns import resolve_pattern

END_OF_TEXT = "<|endoftext|>"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"


class TokenizerError(UserError, ValueError):
    """A tokenizer that cannot be trained or loaded; the message is for the user."""


@dataclass(frozen=True)
class BpeTokenizer:
    """Not to be changed once made: its encoding and its file are computed once."""

    pattern: str
    ranks: dict[bytes, int]  # token bytes -> id, ids 0..n-1 without gaps
    special_tokens: dict[str, int] = field(default_factory=dict)  # ids after the ranks

    @property
    def vocab_size(self) -> int:
        return len(self.ranks) + len(self.special_tokens)

    @property
    def eot_id(self) -> int:
        return self.special_tokens[END_OF_TEXT]

    @cached_property
    def encoding(self) -> Any:
        """The tiktoken `Encoding` that encodes and decodes with these ranks."""
        import tiktoken

        return tiktoken.Encoding(
            name="llm-pretrain",
            pat_str=self.pattern,
            mergeable_ranks=self.ranks,
            special_tokens=self.special_tokens,
        )

    def encode(self, text: str) -> list[int]:
        """Ids of `text`; special tokens written in it are ordinary text (as in training)."""
        return self.encoding.encode_ordinary(text)

    def encode_array(self, text: str) -> np.ndarray:
        """`encode` as a uint32 array, made without a Python list of ints (faster)."""
        return self.encoding.encode_to_numpy(text, disallowed_special=())

    def encode_with_specials(self, text: str) -> list[int]:
        """Ids with special tokens written in `text` turned into their ids, as Hugging Face
        tokenizers do by default."""
        return self.encoding.encode(text, allowed_special="all")

    def encode_batch(self, texts: list[str], threads: int = 1) -> list[list[int]]:
        return self.encoding.encode_ordinary_batch(texts, num_threads=threads)

    def decode(self, ids: list[int]) -> str:
        return self.encoding.decode(ids)

    def token_bytes(self) -> np.ndarray:
        """The UTF-8 bytes of text each id stands for (0 for special tokens, which are not
        text): a byte-level BPE token's bytes are known exactly, so the bytes behind any run
        of ids, even one that cuts a character in two, are the sum of theirs."""
        lengths = np.zeros(self.vocab_size, np.int64)
        for token, rank in self.ranks.items():
            lengths[rank] = len(token)
        return lengths

    def fingerprint(self) -> str:
        """sha256 of the saved `tokenizer.json`: names this tokenizer in manifests."""
        return hashlib.sha256(self._tokenizer_json).hexdigest()

    @cached_property
    def _tokenizer_json(self) -> bytes:
        """The file's bytes (recovering the merges takes a while on a large vocabulary)."""
        document = to_tokenizer_json(self.ranks, self.pattern, self.special_tokens)
        return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")

    def save(self, folder: Path, max_length: int = 2048) -> None:
        """`tokenizer.json` and `tokenizer_config.json` (`PreTrainedTokenizerFast`), atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = tokenizer_config(self.special_tokens, END_OF_TEXT, max_length)
        atomic_write_bytes(folder / TOKENIZER_FILE, self._tokenizer_json)
        atomic_write_bytes(folder / CONFIG_FILE, json.dumps(config, indent=1).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> BpeTokenizer:
        """From a folder holding `tokenizer.json`, or the file itself."""
        path = Path(path)
        if path.is_dir():
            path = path / TOKENIZER_FILE
        try:
            ranks, pattern, special = from_tokenizer_json(path)
        except OSError as exc:
            raise TokenizerError(f"cannot read tokenizer {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise TokenizerError(f"{path} is not a tokenizer.json of this tool: {exc}") from None
        if END_OF_TEXT not in special:
            raise TokenizerError(f"{path} has no {END_OF_TEXT} token")
        return cls(pattern, ranks, special)


def _without_specials(texts: Iterable[str], specials: list[str]) -> Iterator[str]:
    """Training texts with the special tokens cut out: the pieces around one are separate
    texts, so no token is learned across it or from it."""
    if not specials:
        yield from texts
        return
    splitter = re.compile("|".join(map(re.escape, sorted(specials, key=len, reverse=True))))
    for text in texts:
        yield from (piece for piece in splitter.split(text) if piece)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    pattern: str = "gpt4",
    special_tokens: Iterable[str] = (),
) -> BpeTokenizer:
    """Learn `vocab_size` tokens in all, special tokens included (the end-of-text token is always
    one of them): 256 bytes, then merges, then the special tokens."""
    import rustbpe

    specials = [END_OF_TEXT, *(t for t in special_tokens if t != END_OF_TEXT)]
    if len(set(specials)) != len(specials):
        raise TokenizerError("a special token is listed twice")
    merged_size = vocab_size - len(specials)
    if merged_size < 256:
        raise TokenizerError(
            f"vocab_size {vocab_size} leaves no room for the 256 byte tokens and "
            f"{len(specials)} special tokens"
        )
    regex = resolve_pattern(pattern)
    logging.getLogger("rustbpe").setLevel(logging.WARNING)  # it logs every 1% of merges
    trainer = rustbpe.Tokenizer()
    trainer.train_from_iterator(_without_specials(texts, specials), merged_size, pattern=regex)
    ranks = {bytes(token): rank for token, rank in trainer.get_mergeable_ranks()}
    if len(ranks) < merged_size:
        raise TokenizerError(
            f"the training text has too few distinct pairs for {vocab_size} tokens "
            f"(learned {len(ranks) + len(specials)}); give more text or a smaller vocab_size"
        )
    special = {token: len(ranks) + i for i, token in enumerate(specials)}
    return BpeTokenizer(regex, ranks, special)
