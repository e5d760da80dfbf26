"""The `tokenizer` section of the pipeline config."""

from __future__ import annotations

from pydantic import Field, field_validator

from llm_pretrain.configbase import Section


class TokenizerConfig(Section):
    vocab_size: int = Field(
        32768,
        ge=260,
        le=2**31 - 1,  # ids are int32 in training
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
        le=2_000_000_000,
        description="train on a sample of about this many bytes of text (documents picked by "
        "a hash of their text); null trains on all of it up to 2e9 bytes, the most the trainer's "
        "32-bit counts hold safely",
    )
    sample_seed: int = Field(0, ge=0, description="salt of the hash that picks the sample")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        """A regex that does not compile fails here, not deep in the trainer."""
        import regex

        from llm_pretrain.tokenizer.patterns import resolve_pattern

        try:
            regex.compile(resolve_pattern(pattern))
        except regex.error as exc:
            raise ValueError(f"not a valid regex: {exc}") from None
        return pattern


class TokenizeConfig(Section):
    seq_len: int = Field(
        2048,
        ge=1,
        le=2**20,
        description="tokens per training sequence; each row holds seq_len + 1 ids, the inputs "
        "and the targets shifted by one",
    )
    val_fraction: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="share of documents held out for validation (chosen by a hash of their "
        "text, so the same documents on every run, wherever the inputs lie, and copies of one "
        "text on the same side)",
    )
    split_seed: int = Field(0, ge=0, description="salt of the hash that picks the validation set")
    shard_max_bytes: int = Field(
        256 << 20, ge=1, description="largest token shard file; more rows go to the next shard"
    )
