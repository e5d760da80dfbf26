"""The `dedup` section of the pipeline config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from llm_pretrain.configbase import Section


class NormalizeConfig(Section):
    """How text is normalised before it is hashed or shingled."""

    unicode: bool = Field(
        True, description="Unicode NFKC normalisation (full-width letters, ligatures, ...)"
    )
    lowercase: bool = Field(True, description="compare case-insensitively")
    punctuation: bool = Field(
        False, description="remove punctuation and symbols (Unicode categories P and S)"
    )
    whitespace: bool = Field(
        True, description="collapse runs of whitespace to one space and trim the ends"
    )


class ShingleNormalizeConfig(NormalizeConfig):
    """Near-duplicate detection also ignores punctuation by default (as datatrove's MinHash)."""

    punctuation: bool = Field(
        True, description="remove punctuation and symbols (Unicode categories P and S)"
    )


class ExactConfig(Section):
    enabled: bool = Field(True, description="remove documents whose normalised text is identical")
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)


class MinHashConfig(Section):
    enabled: bool = Field(True, description="remove near-duplicates found with MinHash LSH")
    shingle: Literal["word", "char"] = Field(
        "word", description="shingles are n-grams of words or of characters"
    )
    ngram: int = Field(
        5, ge=1, description="words (or characters) per shingle; 5 words as in FineWeb"
    )
    num_perm: int = Field(
        128, ge=2, le=1024, description="hash permutations: the length of a signature"
    )
    threshold: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Jaccard similarity of shingle sets at which two documents are duplicates",
    )
    bands: int | None = Field(
        None,
        ge=1,
        description="LSH bands; empty: datasketch's optimum for the threshold and num_perm",
    )
    rows: int | None = Field(
        None, ge=1, description="signature rows per band; give it together with bands"
    )
    verify: Literal["exact", "estimate", "off"] = Field(
        "exact",
        description="check LSH candidate pairs against the threshold: exact compares the "
        "shingle sets of pairs whose estimate is near the threshold (the estimate alone is off "
        "by 0.035 on average at 0.8 and 128 permutations), estimate uses the signatures only, "
        "off keeps every candidate",
    )
    seed: int = Field(1, ge=0, description="seed of the hash permutations")
    normalize: ShingleNormalizeConfig = Field(default_factory=ShingleNormalizeConfig)

    @model_validator(mode="after")
    def _bands_and_rows(self) -> MinHashConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give bands and rows together, or neither")
        if self.bands and self.rows and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands * self.rows}) exceeds num_perm")
        return self


class LinesConfig(Section):
    """The `dedup.lines` section."""

    mode: Literal["off", "keep_first", "remove_repeated"] = Field(
        "off",
        description="off; keep_first: remove a unit seen in an earlier document (of this batch "
        "or of the index) from the later ones (CCNet, Dolma); remove_repeated: remove a unit "
        "found in more than one document from all of them (CS336's exact line dedup)",
    )
    unit: Literal["line", "paragraph"] = Field(
        "line", description="lines (split at newlines) or paragraphs (split at blank lines)"
    )
    min_chars: int = Field(
        10,
        ge=1,
        description="units shorter than this after normalisation are never removed (blank "
        "lines, bullets, braces)",
    )
    min_document_chars: int = Field(
        50,
        ge=0,
        description="a document whose kept units hold fewer characters (each unit's ends "
        "trimmed) is rejected as duplicate_<unit>s:too_short, and one left with none even at "
        "0; 50 as extract's min_chars",
    )
    normalize: NormalizeConfig = Field(
        default_factory=NormalizeConfig,
        description="normalisation before hashing; the defaults are exact dedup's",
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        """YAML reads a bare `off` as false."""
        return "off" if value is False else value

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    @property
    def reason_kind(self) -> str:
        return f"duplicate_{self.unit}s"

    def index_params(self) -> dict:
        """What the hashes in an index depend on (the mode does not: both use the same set)."""
        return self.model_dump(include={"unit", "min_chars", "normalize"})


class DedupConfig(Section):
    exact: ExactConfig = Field(default_factory=ExactConfig)
    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
    lines: LinesConfig = Field(default_factory=LinesConfig)
    keep: Literal["first", "oldest", "longest"] = Field(
        "first",
        description="which document of a duplicate cluster survives: the first in input order, "
        "the one with the earliest date (undated last), or the longest; documents already in "
        "the index always win",
    )
    row_group_rows: int = Field(1000, ge=1, description="rows per Parquet row group when writing")
    partitions: int | None = Field(
        None,
        ge=0,
        description="how the global step (LSH buckets -> clusters) runs: 0 in one process "
        "(~2.4 KB per document of the batch and the index in memory), N as tasks on the "
        "executor over N bucket partitions (no process holds every signature); empty: one "
        "process with the local executor, one partition per million documents on Ray. The "
        "decisions are the same either way",
    )

    def decision_settings(self) -> dict:
        """The settings that change decisions (not `partitions`): what the run's identity,
        its index batch and its manifest record. `lines` only when on: runs without it keep
        the identity (and index batch) they had before line dedup existed."""
        return self.model_dump(
            exclude={"partitions"} if self.lines.enabled else {"partitions", "lines"}
        )
