"""The `tokenizer` section of the pipeline config."""

from __future__ import annotations

from pydantic import Field

from llm_pretrain.configbase import Section


class TokenizerConfig(Section):
    vocab_size: int = Field(
        32768,
        ge=260,
        description="tokens in all: the 256 bytes, the learned merges and the special tokens",
    )
    pattern: str = Field(
        "gpt4",
        min_length=1,
        description="pre-tokenization regex: the preset gpt4 (cl100k) or gpt2, or a regex",
    )
    special_tokens: list[str] = Field(
        [], description="special tokens besides <|endoftext|>, which is always there"
    )
    train_bytes: int | None = Field(
        1_000_000_000,
        ge=1,
        description="train on a sample of about this many bytes of text (documents picked by "
        "a hash of their id); null trains on all of it",
    )
    sample_seed: int = Field(0, ge=0, description="salt of the hash that picks the sample")
