"""Choosing documents by a hash of their text: the same choice on every run and every machine,
independent of shard order, of the other documents and of where the inputs lie (a document's
id holds its file's path), so a growing or moved corpus keeps it, and copies of one text are
always on the same side of the validation split."""

from __future__ import annotations

import hashlib


def text_key(text: str) -> str:
    """What `picked` chooses a document by: a digest of its text."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def picked(key: str, share: float, salt: str) -> bool:
    """True for about `share` of all keys (`text_key`s); `salt` makes independent choices
    (the tokenizer's training sample and the validation split must not be the same documents)."""
    if share >= 1:
        return True
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") < share * 2**64


def training_sample_salt(seed: int) -> str:
    # The bare seed, as before this module existed: samples chosen then are chosen now.
    return str(seed)


def validation_salt(seed: int) -> str:
    return f"validation-{seed}"
