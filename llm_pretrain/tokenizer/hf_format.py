"""Our BPE in Hugging Face's `tokenizer.json` format, and back.

The file is the tokenizer's only stored form: `tokenizers.Tokenizer.from_file` and
`transformers.AutoTokenizer.from_pretrained` load it unchanged and give our ids. Three things
make that exact:

- tokens are byte strings, written in GPT-2's printable byte-to-character alphabet, which the
  `ByteLevel` pre-tokenizer and decoder use (so all 256 bytes have a token and any text encodes);
- the pre-tokenizer is our regex (`Split`, pieces kept) followed by `ByteLevel` without its own
  regex, as in the tokenizers of GPT-4-style models on the Hub;
- merges are listed in rank order, each the pair of lower-ranked tokens that BPE joins into it
  (recovered by running BPE on the token's bytes with the lower ranks only), and `ignore_merges`
  takes a piece that is itself a token whole, as tiktoken does.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def byte_alphabet() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character: printable Latin-1 bytes stand for
    themselves, the others are shifted past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    shifted = 0
    alphabet = {}
    for byte in range(256):
        if byte in printable:
            alphabet[byte] = chr(byte)
        else:
            alphabet[byte] = chr(256 + shifted)
            shifted += 1
    return alphabet


def token_text(token: bytes) -> str:
    alphabet = byte_alphabet()
    return "".join(alphabet[byte] for byte in token)


@lru_cache(maxsize=1)
def _alphabet_bytes() -> dict[str, int]:
    return {char: byte for byte, char in byte_alphabet().items()}


def token_bytes(text: str) -> bytes:
    reverse = _alphabet_bytes()
    return bytes(reverse[char] for char in text)


def _merge_of(token: bytes, rank: int, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The two tokens BPE joins into `token`: BPE on its bytes with only lower ranks ends with
    exactly two parts."""
    parts = [bytes([byte]) for byte in token]
    while len(parts) > 2:
        best_rank, best_at = rank, -1
        for at in range(len(parts) - 1):
            pair_rank = ranks.get(parts[at] + parts[at + 1])
            if pair_rank is not None and pair_rank < best_rank:
                best_rank, best_at = pair_rank, at
        if best_at < 0:
            break
        parts[best_at : best_at + 2] = [parts[best_at] + parts[best_at + 1]]
    if len(parts) != 2:
        raise ValueError(f"token {token!r} (rank {rank}) is not a merge of two lower tokens")
    return parts[0], parts[1]


def to_tokenizer_json(
    ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int]
) -> dict[str, Any]:
    """The `tokenizer.json` document for a byte-level BPE."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {token_text(token): rank for token, rank in ranks.items()}
    merges = [
        tuple(map(token_text, _merge_of(token, rank, ranks)))
        for token, rank in sorted(ranks.items(), key=lambda item: item[1])
        if len(token) > 1
    ]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    document = json.loads(tokenizer.to_str())
    document["added_tokens"] = [
        {
            "id": token_id,
            "content": content,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for content, token_id in sorted(special_tokens.items(), key=lambda item: item[1])
    ]
    return document


def from_tokenizer_json(path: Path) -> tuple[dict[bytes, int], str, dict[str, int]]:
    """Ranks, pattern and special tokens of a `tokenizer.json` that `to_tokenizer_json` wrote."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        split = document["pre_tokenizer"]["pretokenizers"][0]
        pattern = split["pattern"]["Regex"]
        vocab = document["model"]["vocab"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"{path} is not a byte-level BPE written by llm-pretrain") from exc
    ranks = {token_bytes(text): rank for text, rank in vocab.items()}
    special = {token["content"]: token["id"] for token in document.get("added_tokens", [])}
    return ranks, pattern, special


def tokenizer_config(special_tokens: dict[str, int], eos: str, max_length: int) -> dict[str, Any]:
    """`tokenizer_config.json`: which class `transformers` builds, and the special tokens."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": eos,
        "eos_token": eos,
        "unk_token": None,
        "pad_token": None,
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
        "additional_special_tokens": [t for t in special_tokens if t != eos],
    }
