"""Choosing documents by a hash of their id: the same choice on every run and every machine,
independent of shard order and of the other documents, so a growing corpus keeps it."""

from __future__ import annotations

import hashlib


def picked(document_id: str, share: float, salt: str) -> bool:
    """True for about `share` of all ids; `salt` makes independent choices (the tokenizer's
    training sample and the validation split must not be the same documents)."""
    if share >= 1:
        return True
    digest = hashlib.blake2b(f"{salt}:{document_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") < share * 2**64


def training_sample_salt(seed: int) -> str:
    # The bare seed, as before this module existed: samples chosen then are chosen now.
    return str(seed)


def validation_salt(seed: int) -> str:
    return f"validation-{seed}"
