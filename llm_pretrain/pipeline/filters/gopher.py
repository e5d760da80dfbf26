"""Gopher's quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", appendix A: A.1.1 and table A1), with the published
thresholds as defaults. datatrove's `GopherQualityFilter` and `GopherRepetitionFilter` (0.10)
are the reference implementations we compare with; where they read the paper in a particular way
we mostly do the same, so that both keep and drop the same ordinary English documents. Every
place where we differ from the paper or from datatrove is said below and next to the code.

Words are spaCy's English tokens (`english_words`), as in datatrove: "don't" is "do" "n't",
"well-known" is three tokens and every punctuation mark is a token of its own. The paper says
"words" without defining them; following datatrove's reading keeps the two implementations in
agreement on 99.9% of documents (benchmarks/filter.py), where whitespace words gave 89-94%.

`gopher_quality` rejects a document, in this order, when

- `doc_words`: it has fewer than 50 or more than 100,000 words, tokens made only of punctuation
  and symbols (",", a lone "•") not counted;
- `mean_word_length`: the mean length of those words is outside 3-10 characters;
- `symbol_word_ratio`: "#" characters, or ellipses ("..." or "…"), per token exceed 0.1, each
  symbol on its own;
- `bullet_lines`: more than 90% of the lines start with a bullet point;
- `ellipsis_lines`: more than 30% of the lines end with an ellipsis;
- `alpha_words`: fewer than 80% of the tokens contain a letter;
- `stop_words`: fewer than 2 of "the", "be", "to", "of", "and", "that", "have", "with" occur
  (distinct words, matched case-sensitively as datatrove does: "The" does not count).

"Tokens" in the two ratios are all tokens, punctuation included, as in datatrove (the paper
says "words"). Punctuation-only tokens are those whose characters are all Unicode punctuation
(P*) or symbols (S*); datatrove uses its own list of characters, which misses "•", "©" and
emoji. Lines are the non-blank lines; datatrove counts blank lines too (in the denominator
only), which lets a list written with blank lines between its items through.

`gopher_repetition` rejects a document, in this order, when

- `dup_para_frac` / `dup_para_char_frac`: repeats of an earlier paragraph make up more than
  30% of the paragraphs / more than 20% of the characters;
- `dup_line_frac` / `dup_line_char_frac`: the same for lines;
- `top_{n}gram` (n = 2, 3, 4): the occurrences of the most frequent word n-gram hold more than
  20%, 18%, 16% of the characters;
- `dup_{n}gram` (n = 5 ... 10): the words of repeated n-grams hold more than 15%, 14%, 13%,
  12%, 11%, 10% of the characters.

The total of "characters" is `len(text)`, as in datatrove. Another reading of the paper takes
the characters of the words as the total (no spaces, no punctuation: about 80% of English
prose), which makes every fraction some 25% larger; on our English test documents it disagreed
with datatrove nearly twice as often (73 vs 43 of 1,970 documents), so we do not use it.
Two more choices are datatrove's: repeated n-grams are found by its left-to-right scan (see
`duplicate_ngram_chars`), and a repeated line or paragraph counts from its second copy on. One
is ours: the top n-gram must occur at least twice (see `top_ngram_chars`).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from itertools import compress
from operator import itemgetter
from typing import Any, ClassVar

from pydantic import Field

from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig
from llm_pretrain.pipeline.filters.english_words import english_words
from llm_pretrain.pipeline.filters.text import lines, paragraphs

# The paper's stop words (appendix A.1.1).
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
# Line starts that count as bullet points. datatrove looks for "•" and "-" only; the other
# glyphs are bullets too (and "*" is Markdown's), which changes nothing on ordinary text.
BULLETS = ("•", "‣", "◦", "▪", "●", "-", "*")
ELLIPSES = ("...", "…")


# --- Words ------------------------------------------------------------------------------------


def is_word(token: str) -> bool:
    """Whether `token` holds anything besides punctuation and symbols (Unicode P* and S*)."""
    return token.isalnum() or any(unicodedata.category(c)[0] not in "PS" for c in token)


def has_letter(token: str) -> bool:
    return token.isalpha() or any(c.isalpha() for c in token)


class _TokenTest(dict[str, bool]):
    """token -> test(token), computed once per distinct token (tokens repeat a lot)."""

    def __init__(self, test: Callable[[str], bool]) -> None:
        super().__init__()
        self.test = test

    def __missing__(self, token: str) -> bool:
        if len(self) > 500_000:
            self.clear()
        result = self[token] = self.test(token)
        return result


_IS_WORD = _TokenTest(is_word)
_HAS_LETTER = _TokenTest(has_letter)


# --- Quality ----------------------------------------------------------------------------------


class GopherQualityConfig(StepConfig):
    min_doc_words: int | None = Field(
        50, ge=0, description="reject documents with fewer words; null disables"
    )
    max_doc_words: int | None = Field(
        100_000, ge=0, description="reject documents with more words; null disables"
    )
    min_avg_word_length: float | None = Field(
        3, ge=0, description="reject when the mean word length is below this; null disables"
    )
    max_avg_word_length: float | None = Field(
        10, ge=0, description="reject when the mean word length is above this; null disables"
    )
    max_symbol_word_ratio: float | None = Field(
        0.1,
        ge=0,
        description="reject when '#' characters, or ellipses, per token exceed this (each "
        "symbol on its own); null disables",
    )
    max_bullet_lines_ratio: float | None = Field(
        0.9,
        ge=0,
        le=1,
        description="reject when more than this fraction of the lines start with a bullet "
        "point; null disables",
    )
    max_ellipsis_lines_ratio: float | None = Field(
        0.3,
        ge=0,
        le=1,
        description="reject when more than this fraction of the lines end with an ellipsis; "
        "null disables",
    )
    max_non_alpha_words_ratio: float | None = Field(
        0.8,
        ge=0,
        le=1,
        description="reject when fewer than this fraction of the tokens contain a letter "
        "(datatrove's name for the rule); null disables",
    )
    min_stop_words: int | None = Field(
        2,
        ge=0,
        description="reject when fewer of the distinct stop words occur; null disables",
    )
    stop_words: list[str] = Field(
        list(STOP_WORDS), description="the stop words of `min_stop_words` (case-sensitive)"
    )


def gopher_quality_rule(
    text: str, config: GopherQualityConfig, text_words: Sequence[str] | None = None
) -> str | None:
    """The first Gopher quality rule `text` fails, or None. `text_words`: its tokens
    (`english_words(text)`), when the caller has them already."""
    if text_words is None:
        text_words = english_words(text)
    real_words = list(compress(text_words, map(_IS_WORD.__getitem__, text_words)))
    n_words = len(real_words)

    if config.min_doc_words is not None and n_words < config.min_doc_words:
        return "doc_words"
    if config.max_doc_words is not None and n_words > config.max_doc_words:
        return "doc_words"

    if n_words:
        mean_length = sum(map(len, real_words)) / n_words
        low, high = config.min_avg_word_length, config.max_avg_word_length
        if (low is not None and mean_length < low) or (high is not None and mean_length > high):
            return "mean_word_length"

    n_tokens = len(text_words)
    limit = config.max_symbol_word_ratio
    if n_tokens and limit is not None:
        ellipses = text.count("...") + text.count("…")
        if text.count("#") / n_tokens > limit or ellipses / n_tokens > limit:
            return "symbol_word_ratio"

    text_lines = lines(text)
    if text_lines:
        limit = config.max_bullet_lines_ratio
        if limit is not None:
            bullets = sum(1 for line in text_lines if line.startswith(BULLETS))
            if bullets / len(text_lines) > limit:
                return "bullet_lines"
        limit = config.max_ellipsis_lines_ratio
        if limit is not None:
            trailing = sum(1 for line in text_lines if line.endswith(ELLIPSES))
            if trailing / len(text_lines) > limit:
                return "ellipsis_lines"

    limit = config.max_non_alpha_words_ratio
    if n_tokens and limit is not None:
        with_letters = sum(map(_HAS_LETTER.__getitem__, text_words))
        if with_letters / n_tokens < limit:
            return "alpha_words"

    wanted = config.min_stop_words
    if wanted and len(frozenset(config.stop_words).intersection(text_words)) < wanted:
        return "stop_words"
    return None


class GopherQuality(Step):
    name = "gopher_quality"
    config_class = GopherQualityConfig
    needs_whitespace_words: ClassVar[bool] = True

    def __init__(self, config: GopherQualityConfig) -> None:
        super().__init__(config)
        self.cfg = config

    def apply(self, doc: Document) -> str | None:
        return gopher_quality_rule(doc.text, self.cfg)


# --- Repetition -------------------------------------------------------------------------------


def _fraction(default: float, what: str) -> Any:
    return Field(
        default,
        ge=0,
        le=1,
        description=f"reject when {what} exceed this fraction; null disables",
    )


class GopherRepetitionConfig(StepConfig):
    dup_para_frac: float | None = _fraction(0.3, "paragraphs repeating an earlier one")
    dup_para_char_frac: float | None = _fraction(
        0.2, "the characters of paragraphs repeating an earlier one"
    )
    dup_line_frac: float | None = _fraction(0.3, "lines repeating an earlier one")
    dup_line_char_frac: float | None = _fraction(
        0.2, "the characters of lines repeating an earlier one"
    )
    top_2gram_char_frac: float | None = _fraction(
        0.2, "the characters of the most frequent word 2-gram's occurrences"
    )
    top_3gram_char_frac: float | None = _fraction(
        0.18, "the characters of the most frequent word 3-gram's occurrences"
    )
    top_4gram_char_frac: float | None = _fraction(
        0.16, "the characters of the most frequent word 4-gram's occurrences"
    )
    dup_5gram_char_frac: float | None = _fraction(0.15, "the characters of repeated 5-grams")
    dup_6gram_char_frac: float | None = _fraction(0.14, "the characters of repeated 6-grams")
    dup_7gram_char_frac: float | None = _fraction(0.13, "the characters of repeated 7-grams")
    dup_8gram_char_frac: float | None = _fraction(0.12, "the characters of repeated 8-grams")
    dup_9gram_char_frac: float | None = _fraction(0.11, "the characters of repeated 9-grams")
    dup_10gram_char_frac: float | None = _fraction(0.1, "the characters of repeated 10-grams")


def duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters (every copy after the first
    counts, the first does not: datatrove's reading of "duplicate lines")."""
    counts = Counter(items)
    return (
        len(items) - len(counts),
        sum(len(item) * (count - 1) for item, count in counts.items() if count > 1),
    )


def _repeated_units(items: list[str], size: int) -> tuple[float, float]:
    """The share of `items` that repeat an earlier one, and their characters' share of `size`."""
    if not items:
        return 0.0, 0.0
    repeats, chars = duplicates(items)
    return repeats / len(items), chars / size


def repeated_ngrams(
    text_words: Sequence[str], largest: int
) -> Iterator[tuple[int, list[int], list[tuple[str, ...]]]]:
    """For n = 2, 3, ... `largest`: `(n, starts, grams)`, where `starts` are the positions, in
    order, at which an n-gram that occurs at least twice begins, and `grams[k]` is the n-gram at
    `starts[k]`. Stops as soon as no n-gram repeats, since no longer one can then.

    Only 2-grams are counted over the whole text: an (n+1)-gram can repeat only where a repeated
    n-gram begins and another one begins a word later, which on ordinary text leaves a few
    dozen positions to look at beyond n = 3 or 4."""
    pairs = list(zip(text_words, text_words[1:], strict=False))
    counts = Counter(pairs)
    starts = [i for i, gram in enumerate(pairs) if counts[gram] > 1]
    grams = [pairs[i] for i in starts]
    n = 2
    while starts:
        yield n, starts, grams
        if n >= largest:
            return
        n += 1
        repeated_next = set(starts)
        candidates = [i for i in starts if i + 1 in repeated_next]
        longer = [tuple(text_words[i : i + n]) for i in candidates]
        counts = Counter(longer)
        keep = [k for k, gram in enumerate(longer) if counts[gram] > 1]
        starts = [candidates[k] for k in keep]
        grams = [longer[k] for k in keep]


def _top_chars(n: int, grams: list[tuple[str, ...]]) -> int:
    counts = Counter(grams)
    gram, count = max(counts.items(), key=itemgetter(1))
    return (sum(map(len, gram)) + n - 1) * count


def _duplicate_chars(
    n: int, starts: list[int], grams: list[tuple[str, ...]], text_words: Sequence[str]
) -> int:
    seen: set[tuple[str, ...]] = set()
    resume = chars = 0
    for i, gram in zip(starts, grams, strict=True):
        if i < resume:
            continue
        if gram in seen:
            chars += sum(map(len, text_words[i : i + n]))
            resume = i + n
        else:
            seen.add(gram)
    return chars


def top_ngram_chars(text_words: Sequence[str], n: int) -> int:
    """The characters of all occurrences of the most frequent n-gram, each occurrence counted
    as its words joined by single spaces (as in datatrove); of n-grams with the same count, the
    one that occurs first wins (as in datatrove). 0 when no n-gram occurs twice: datatrove also
    counts a lone n-gram, so it rejects very short texts (one 2-gram is more than 20% of a text
    of 9 words), which we do not."""
    for size, _, grams in repeated_ngrams(text_words, n):
        if size == n:
            return _top_chars(n, grams)
    return 0


def duplicate_ngram_chars(text_words: Sequence[str], n: int) -> int:
    """The characters (spaces left out, as in datatrove) of the words in repeated n-grams,
    counting no word twice. Like datatrove we scan left to right: an n-gram seen before counts
    whole and the scan jumps past it; an n-gram inside such a jump is not remembered. The paper
    only asks not to count a character twice; counting every word of every later occurrence
    would also count the last words of a repeated passage that the jump leaves out (up to n - 1
    per passage), some 20-25% more characters on repetitive text."""
    for size, starts, grams in repeated_ngrams(text_words, n):
        if size == n:
            return _duplicate_chars(n, starts, grams, text_words)
    return 0


def gopher_repetition_rule(
    text: str, config: GopherRepetitionConfig, text_words: Sequence[str] | None = None
) -> str | None:
    """The first Gopher repetition rule `text` fails, or None. `text_words`: its tokens
    (`english_words(text)`), when the caller has them already."""
    size = len(text)
    if not size:
        return None
    # Paragraphs and lines are stripped and blank ones left out (`text.paragraphs`,
    # `text.lines`); datatrove splits at "\n\n+" and "\n+" and compares them as they are, so
    # a trailing space makes two lines different there, and lines of spaces can repeat.
    if config.dup_para_frac is not None or config.dup_para_char_frac is not None:
        share, char_share = _repeated_units(paragraphs(text), size)
        if config.dup_para_frac is not None and share > config.dup_para_frac:
            return "dup_para_frac"
        if config.dup_para_char_frac is not None and char_share > config.dup_para_char_frac:
            return "dup_para_char_frac"
    if config.dup_line_frac is not None or config.dup_line_char_frac is not None:
        share, char_share = _repeated_units(lines(text), size)
        if config.dup_line_frac is not None and share > config.dup_line_frac:
            return "dup_line_frac"
        if config.dup_line_char_frac is not None and char_share > config.dup_line_char_frac:
            return "dup_line_char_frac"

    limits = {
        2: config.top_2gram_char_frac,
        3: config.top_3gram_char_frac,
        4: config.top_4gram_char_frac,
        5: config.dup_5gram_char_frac,
        6: config.dup_6gram_char_frac,
        7: config.dup_7gram_char_frac,
        8: config.dup_8gram_char_frac,
        9: config.dup_9gram_char_frac,
        10: config.dup_10gram_char_frac,
    }
    largest = max((n for n, limit in limits.items() if limit is not None), default=0)
    if largest < 2:
        return None
    if text_words is None:
        text_words = english_words(text)
    # Every n-gram rule needs an n-gram that occurs twice, so the loop ends with the repeats.
    for n, starts, grams in repeated_ngrams(text_words, largest):
        limit = limits[n]
        if limit is None:
            continue
        if n <= 4:
            if _top_chars(n, grams) / size > limit:
                return f"top_{n}gram"
        elif _duplicate_chars(n, starts, grams, text_words) / size > limit:
            return f"dup_{n}gram"
    return None


class GopherRepetition(Step):
    name = "gopher_repetition"
    config_class = GopherRepetitionConfig
    needs_whitespace_words: ClassVar[bool] = True

    def __init__(self, config: GopherRepetitionConfig) -> None:
        super().__init__(config)
        self.cfg = config

    def apply(self, doc: Document) -> str | None:
        return gopher_repetition_rule(doc.text, self.cfg)
