"""FineWeb's own heuristics (Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for
the Finest Text Data at Scale", and the FineWeb blog post), as datatrove's
`FineWebQualityFilter` (0.10) implements them, with its defaults. On the non-blank lines of
`text.split("\\n")`, taken as they are (not stripped), a document is rejected when

- `line_punct_ratio`: the fraction of lines whose last character is a sentence terminal is below
  0.12. Terminals are nearly Unicode's Sentence_Terminal characters ("." "!" "?" "。" "।" ...,
  see `TERMINAL_PUNCTUATION`); quotes do not count, unlike in C4's line rule;
- `short_line_ratio`: the fraction of lines of at most 30 characters is above 0.67;
- `char_dup_ratio`: the characters of lines that repeat an earlier line (every copy after the
  first, counted whole) divided by the characters of the text without its newlines is above 0.01;
- `list_ratio`: the number of newlines divided by the number of words is above 0.3 (blank lines
  count; words are the tokens of datatrove's English word tokenizer, spaCy's, so "don't" is two
  words and "," one: see `english_words`);

and `empty` rejects a text without a non-blank line. Every comparison (`<` for the first, `>` for
the others) is datatrove's. Splitting into spaCy's tokens is the only costly part, so
we do it only when it can matter: spaCy never joins two whitespace-separated chunks, so when
newlines per chunk are within the limit, newlines per token are too.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig
from llm_pretrain.pipeline.filters.english_words import english_words

# Characters that end a line for `line_punct_ratio`, the set datatrove's TERMINAL_PUNCTUATION
# holds: Unicode's Sentence_Terminal characters (without a few, such as U+2024 ONE DOT LEADER, the
# vertical forms U+FE12, U+FE15, U+FE16 and the additions of Unicode 16) plus the Khmer signs
# U+17D6, U+17D9 and U+17DA.
_TERMINAL_RANGES = (
    (0x0021, 0x0021), (0x002E, 0x002E), (0x003F, 0x003F), (0x0589, 0x0589), (0x061D, 0x061F),
    (0x06D4, 0x06D4), (0x0700, 0x0702), (0x07F9, 0x07F9), (0x0837, 0x0837), (0x0839, 0x0839),
    (0x083D, 0x083E), (0x0964, 0x0965), (0x104A, 0x104B), (0x1362, 0x1362), (0x1367, 0x1368),
    (0x166E, 0x166E), (0x1735, 0x1736), (0x17D4, 0x17D6), (0x17D9, 0x17DA), (0x1803, 0x1803),
    (0x1809, 0x1809), (0x1944, 0x1945), (0x1AA8, 0x1AAB), (0x1B5A, 0x1B5B), (0x1B5E, 0x1B5F),
    (0x1B7D, 0x1B7E), (0x1C3B, 0x1C3C), (0x1C7E, 0x1C7F), (0x203C, 0x203D), (0x2047, 0x2049),
    (0x2E2E, 0x2E2E), (0x2E3C, 0x2E3C), (0x2E53, 0x2E54), (0x3002, 0x3002), (0xA4FF, 0xA4FF),
    (0xA60E, 0xA60F), (0xA6F3, 0xA6F3), (0xA6F7, 0xA6F7), (0xA876, 0xA877), (0xA8CE, 0xA8CF),
    (0xA92F, 0xA92F), (0xA9C8, 0xA9C9), (0xAA5D, 0xAA5F), (0xAAF0, 0xAAF1), (0xABEB, 0xABEB),
    (0xFE52, 0xFE52), (0xFE56, 0xFE57), (0xFF01, 0xFF01), (0xFF0E, 0xFF0E), (0xFF1F, 0xFF1F),
    (0xFF61, 0xFF61), (0x10A56, 0x10A57), (0x10F55, 0x10F59), (0x10F86, 0x10F89),
    (0x11047, 0x11048), (0x110BE, 0x110C1), (0x11141, 0x11143), (0x111C5, 0x111C6),
    (0x111CD, 0x111CD), (0x111DE, 0x111DF), (0x11238, 0x11239), (0x1123B, 0x1123C),
    (0x112A9, 0x112A9), (0x1144B, 0x1144C), (0x115C2, 0x115C3), (0x115C9, 0x115D7),
    (0x11641, 0x11642), (0x1173C, 0x1173E), (0x11944, 0x11944), (0x11946, 0x11946),
    (0x11A42, 0x11A43), (0x11A9B, 0x11A9C), (0x11C41, 0x11C42), (0x11EF7, 0x11EF8),
    (0x11F43, 0x11F44), (0x16A6E, 0x16A6F), (0x16AF5, 0x16AF5), (0x16B37, 0x16B38),
    (0x16B44, 0x16B44), (0x16E98, 0x16E98), (0x1BC9F, 0x1BC9F), (0x1DA88, 0x1DA88),
)  # fmt: skip
TERMINAL_PUNCTUATION = frozenset(
    chr(code) for first, last in _TERMINAL_RANGES for code in range(first, last + 1)
)


class FineWebQualityConfig(StepConfig):
    line_punct_thr: float | None = Field(
        0.12,
        ge=0,
        le=1,
        description="reject when fewer than this fraction of non-blank lines end in a sentence "
        "terminal; null disables",
    )
    line_punct_exclude_zero: bool = Field(
        False, description="keep documents where no line at all ends in a terminal"
    )
    short_line_thr: float | None = Field(
        0.67,
        ge=0,
        le=1,
        description="reject when more than this fraction of non-blank lines are short; "
        "null disables",
    )
    short_line_length: int = Field(
        30, ge=0, description="lines of at most this many characters are short"
    )
    char_duplicates_ratio: float | None = Field(
        0.01,
        ge=0,
        le=1,
        description="reject when more than this fraction of the characters are in lines that "
        "repeat an earlier line; null disables",
    )
    new_line_ratio: float | None = Field(
        0.3,
        ge=0,
        description="reject when newlines per word exceed this (lists, tables); null disables",
    )


class FineWebQuality(Step):
    """FineWeb's four document rules; documents are kept or rejected, never rewritten."""

    name = "fineweb_quality"
    config_class = FineWebQualityConfig
    needs_whitespace_words: ClassVar[bool] = True

    def __init__(self, config: FineWebQualityConfig) -> None:
        super().__init__(config)
        self.cfg = config

    def apply(self, doc: Document) -> str | None:
        cfg = self.cfg
        text = doc.text
        lines = [line for line in text.split("\n") if line and not line.isspace()]
        if not lines:
            return "empty"
        n_lines = len(lines)

        if cfg.line_punct_thr is not None:
            ratio = sum(1 for line in lines if line[-1] in TERMINAL_PUNCTUATION) / n_lines
            if ratio < cfg.line_punct_thr and not (ratio == 0 and cfg.line_punct_exclude_zero):
                return "line_punct_ratio"

        if cfg.short_line_thr is not None:
            limit = cfg.short_line_length
            ratio = sum(1 for line in lines if len(line) <= limit) / n_lines
            if ratio > cfg.short_line_thr:
                return "short_line_ratio"

        if cfg.char_duplicates_ratio is not None:
            seen: set[str] = set()
            duplicated = 0
            for line in lines:
                if line in seen:
                    duplicated += len(line)
                else:
                    seen.add(line)
            if duplicated / (len(text) - text.count("\n")) > cfg.char_duplicates_ratio:
                return "char_dup_ratio"

        if cfg.new_line_ratio is not None:
            newlines = text.count("\n")
            limit = cfg.new_line_ratio
            # Tokens >= whitespace chunks, so the cheap bound settles most documents.
            if newlines / len(text.split()) > limit and newlines / len(english_words(text)) > limit:
                return "list_ratio"
        return None
