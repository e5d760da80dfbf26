"""Gopher quality and repetition steps: each rule just under its threshold (kept), just over it
(rejected) and switched off; texts are built so that only the rule under test can fire."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from llm_pretrain.pipeline.filters.english_words import english_words
from llm_pretrain.pipeline.filters.gopher import (
    GopherQuality,
    GopherQualityConfig,
    GopherRepetition,
    GopherRepetitionConfig,
    duplicate_ngram_chars,
    gopher_quality_rule,
    gopher_repetition_rule,
    top_ngram_chars,
)
from tests.pipeline.filters.documents import doc_of

QUALITY = GopherQualityConfig()
REPETITION = GopherRepetitionConfig()

# Distinct made-up words of five letters ("banan", "baben", ...), none of them a stop word.
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def unique_words(count: int, start: int = 0) -> list[str]:
    return [
        _SYLLABLES[i // len(_SYLLABLES) % len(_SYLLABLES)] + _SYLLABLES[i % len(_SYLLABLES)] + "n"
        for i in range(start, start + count)
    ]


def prose_words(count: int, start: int = 0) -> list[str]:
    """`count` words, every fourth one a stop word ("the" or "and"), the rest distinct."""
    fillers = iter(unique_words(count, start))
    return [("the", "and")[i // 4 % 2] if i % 4 == 0 else next(fillers) for i in range(count)]


def straddle(build: Callable[[int], tuple[str, float]], limit: float) -> tuple[str, str]:
    """`build(k)` gives a text and its measure, which grows with k: the last text at or under
    `limit` and the first one over it."""
    previous = None
    for k in range(10_000):
        text, measure = build(k)
        if measure > limit:
            assert previous is not None, "the first text is already over the limit"
            return previous, text
        previous = text
    raise AssertionError("never crossed the limit")


ENGLISH = """\
The harbour town has changed a great deal since the old fish market closed. Most of the
warehouses along the quay have been turned into flats, and a small museum now tells the story
of the boats that once sailed from here to the northern grounds. On summer evenings the square
fills with visitors who come for the seafood and the view of the lighthouse, while the older
residents still meet at the café by the church to talk about the weather and the tides.

The council wants to build a new footbridge across the river, but the plan has divided opinion.
Supporters say it would bring trade to the shops on the far bank; critics worry about the cost
and about the herons that nest in the reeds below the mill. A public meeting will be held next
month, and anyone who has an opinion is welcome to attend and to speak."""


def test_ordinary_english_passes_both_steps():
    doc = doc_of(id="a", text=ENGLISH, language="en")
    assert GopherQuality(QUALITY).apply(doc) is None
    assert GopherRepetition(REPETITION).apply(doc) is None


def test_step_protocol():
    assert GopherQuality.name == "gopher_quality"
    assert GopherRepetition.name == "gopher_repetition"
    assert GopherQuality.config_class is GopherQualityConfig
    assert GopherRepetition.config_class is GopherRepetitionConfig
    for step in (GopherQuality(QUALITY), GopherRepetition(REPETITION)):
        assert step.needs_whitespace_words
        assert not step.applies_to(doc_of(id="z", text="河流管理局", language="zh"))
        assert step.applies_to(doc_of(id="e", text=ENGLISH, language="en"))


@pytest.mark.parametrize("config_class", [GopherQualityConfig, GopherRepetitionConfig])
def test_config_rejects_unknown_keys_and_wrong_types(config_class):
    with pytest.raises(ValidationError, match="Extra inputs"):
        config_class.model_validate({"min_doc_wordz": 50, "dup_line_fracc": 0.3})
    field = next(iter(config_class.model_fields))
    with pytest.raises(ValidationError):
        config_class.model_validate({field: "0.3"})


def test_config_defaults_are_the_published_ones():
    assert QUALITY.model_dump() == {
        "min_doc_words": 50,
        "max_doc_words": 100_000,
        "min_avg_word_length": 3,
        "max_avg_word_length": 10,
        "max_symbol_word_ratio": 0.1,
        "max_bullet_lines_ratio": 0.9,
        "max_ellipsis_lines_ratio": 0.3,
        "max_non_alpha_words_ratio": 0.8,
        "min_stop_words": 2,
        "stop_words": ["the", "be", "to", "of", "and", "that", "have", "with"],
    }
    assert REPETITION.model_dump() == {
        "dup_para_frac": 0.3,
        "dup_para_char_frac": 0.2,
        "dup_line_frac": 0.3,
        "dup_line_char_frac": 0.2,
        "top_2gram_char_frac": 0.2,
        "top_3gram_char_frac": 0.18,
        "top_4gram_char_frac": 0.16,
        "dup_5gram_char_frac": 0.15,
        "dup_6gram_char_frac": 0.14,
        "dup_7gram_char_frac": 0.13,
        "dup_8gram_char_frac": 0.12,
        "dup_9gram_char_frac": 0.11,
        "dup_10gram_char_frac": 0.1,
    }


def quality(text: str, **overrides) -> str | None:
    return gopher_quality_rule(text, GopherQualityConfig(**overrides))


def repetition(text: str, **overrides) -> str | None:
    return gopher_repetition_rule(text, GopherRepetitionConfig(**overrides))


# --- Quality ----------------------------------------------------------------------------------


def test_min_doc_words():
    assert quality(" ".join(prose_words(50))) is None
    short = " ".join(prose_words(49))
    assert quality(short) == "doc_words"
    assert quality(short, min_doc_words=None) is None


def test_symbols_alone_are_not_words():
    # A lone bullet is a token but not a word: 49 words and a "•" are too few.
    assert quality("• " + " ".join(prose_words(49))) == "doc_words"


def test_max_doc_words():
    text = " ".join(("the", "cat", "and", "dog") * 25_000)
    assert quality(text) is None
    assert quality(text + " cat") == "doc_words"
    assert quality(text + " cat", max_doc_words=None) is None


def test_min_mean_word_length():
    base = ["the", "and"] + ["cat"] * 48  # mean exactly 3
    assert quality(" ".join(base)) is None
    low = ["the", "and", "at"] + ["cat"] * 47  # 149 / 50
    assert quality(" ".join(low)) == "mean_word_length"
    assert quality(" ".join(low), min_avg_word_length=None) is None


def test_max_mean_word_length():
    long_words = ["abcdefghij"] * 46 + ["abcdefghijklmnopq"] * 2
    assert quality(" ".join(["the", "and", *long_words])) is None  # 500 / 50
    longer = ["the", "and", *long_words[:-1], "abcdefghijklmnopqr"]  # 501 / 50
    assert quality(" ".join(longer)) == "mean_word_length"
    assert quality(" ".join(longer), max_avg_word_length=None) is None


@pytest.mark.parametrize("symbol", ["#", "...", "…"])
def test_symbol_word_ratio(symbol):
    # Each symbol is a token of its own, as for spaCy: 10 in 100 tokens is the limit.
    def text(symbols: int) -> str:
        tokens = prose_words(90)
        for k in range(symbols):
            tokens.insert(8 * k + 1, symbol)
        return " ".join(tokens)

    assert len(english_words(text(10))) == 100
    assert quality(text(10)) is None
    assert quality(text(11)) == "symbol_word_ratio"
    assert quality(text(11), max_symbol_word_ratio=None) is None


def test_hashes_and_ellipses_are_counted_apart():
    tokens = prose_words(80)
    for k in range(10):
        tokens.insert(7 * k + 1, "#")
        tokens.insert(7 * k + 3, "...")
    assert quality(" ".join(tokens)) is None  # 10 of each in 100 tokens


def test_bullet_lines():
    def text(bullets: int, separator: str = "\n") -> str:
        lines = [" ".join(prose_words(5, start=5 * i)) for i in range(20)]
        marks = ["• ", "- ", "* "]
        return separator.join(
            marks[i % 3] + line if i < bullets else line for i, line in enumerate(lines)
        )

    assert quality(text(18)) is None  # 90% of the lines
    assert quality(text(19)) == "bullet_lines"
    assert quality(text(19), max_bullet_lines_ratio=None) is None
    # Blank lines between the items do not make a list pass.
    assert quality(text(19, separator="\n\n")) == "bullet_lines"


def test_ellipsis_lines():
    def text(trailing: int) -> str:
        lines = [" ".join(prose_words(8, start=8 * i)) for i in range(10)]
        ends = ["...", "…"] * (trailing // 2) + ["..."] * (trailing % 2) + ["."] * 10
        return "\n".join(line + end for line, end in zip(lines, ends, strict=False))

    assert quality(text(3)) is None  # 30% of the lines
    assert quality(text(4)) == "ellipsis_lines"
    assert quality(text(4), max_ellipsis_lines_ratio=None) is None


def test_alpha_words():
    def text(numbers: int) -> str:
        tokens = prose_words(100)
        for k in range(numbers):
            tokens[4 * k + 1] = str(1000 + k)
        return " ".join(tokens)

    assert quality(text(20)) is None  # 80 of 100 tokens have a letter
    assert quality(text(21)) == "alpha_words"
    assert quality(text(21), max_non_alpha_words_ratio=None) is None


def test_punctuation_marks_count_as_tokens_without_letters():
    # 85 of 100 words have letters, but with the 10 dashes only 85 of 110 tokens do (as in
    # datatrove, whose spaCy tokens include punctuation).
    tokens = prose_words(100)
    for k in range(15):
        tokens[4 * k + 1] = str(1000 + k)
    for k in range(10):
        tokens.insert(9 * k + 2, "—")
    assert quality(" ".join(tokens)) == "alpha_words"


def test_stop_words():
    fillers = unique_words(58)
    assert quality(" ".join(["the", *fillers[:29], "and", *fillers[29:]])) is None
    # "The" is not "the"; repeating one stop word does not count twice.
    one = " ".join(["The", *fillers[:29], "the", *fillers[29:], "the"])
    assert quality(one) == "stop_words"
    assert quality(one, min_stop_words=None) is None
    assert quality(one, stop_words=["the", "The"]) is None


# --- Repetition -------------------------------------------------------------------------------


def lines_of(count: int, start: int = 0, length: int = 8) -> list[str]:
    return [" ".join(unique_words(length, start + length * i)) for i in range(count)]


@pytest.mark.parametrize(
    "separator, rule, other",
    [("\n", "dup_line_frac", None), ("\n\n", "dup_para_frac", "dup_line_frac")],
)
def test_duplicate_line_and_paragraph_share(separator, rule, other):
    def text(repeats: int) -> str:
        # 10 lines: a short one, `repeats` more copies of it, the rest distinct.
        units = lines_of(10 - repeats - 1)
        for k in range(repeats + 1):
            units.insert(2 * k, "fine")
        return separator.join(units)

    assert repetition(text(3)) is None  # 30% of the units repeat an earlier one
    assert repetition(text(4)) == rule
    # Paragraphs are lines too: without the paragraph rule, the line rule catches them.
    assert repetition(text(4), **{rule: None}) == other


@pytest.mark.parametrize(
    "separator, rule, other",
    [("\n", "dup_line_char_frac", None), ("\n\n", "dup_para_char_frac", "dup_line_char_frac")],
)
def test_duplicate_line_and_paragraph_characters(separator, rule, other):
    long_word = "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"  # one long word: no repeated n-gram

    def build(k: int) -> tuple[str, float]:
        fillers = unique_words(72 - k)  # fewer as k grows
        units = [" ".join(fillers[i::6]) for i in range(6)]
        for i in range(3):
            units.insert(3 * i, long_word)
        text = separator.join(units)
        return text, 2 * len(long_word) / len(text)

    kept, rejected = straddle(build, 0.2)
    assert repetition(kept) is None
    assert repetition(rejected) == rule
    assert repetition(rejected, **{rule: None}) == other


def test_lines_are_compared_stripped():
    # 3 of 9 lines repeat "fine" once stripped (datatrove would see one repeat only).
    text = "\n".join(["fine", *lines_of(2), "fine  ", " fine", *lines_of(3, start=100), "\tfine"])
    assert repetition(text) == "dup_line_frac"


@pytest.mark.parametrize("n, limit", [(2, 0.2), (3, 0.18), (4, 0.16)])
def test_top_ngram(n, limit):
    phrase = unique_words(n, start=4000)
    occurrences = 20

    def build(k: int) -> tuple[str, float]:
        fillers = unique_words(600 - 5 * k)
        tokens = []
        for i in range(occurrences):
            tokens += fillers[i::occurrences] + phrase
        text = " ".join(tokens)
        # The phrase as a string, spaces included, times its count.
        return text, (sum(map(len, phrase)) + n - 1) * occurrences / len(text)

    kept, rejected = straddle(build, limit)
    assert repetition(kept) is None
    assert repetition(rejected) == f"top_{n}gram"
    assert repetition(rejected, **{f"top_{n}gram_char_frac": None}) is None


@pytest.mark.parametrize(
    "n, limit", [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.1)]
)
def test_duplicated_ngrams(n, limit):
    phrase = unique_words(n, start=4000)
    occurrences = 20

    def build(k: int) -> tuple[str, float]:
        fillers = unique_words(2000 - 5 * k)
        tokens = []
        for i in range(occurrences):
            tokens += fillers[i::occurrences] + phrase
        text = " ".join(tokens)
        # Every occurrence after the first, without spaces.
        return text, (occurrences - 1) * sum(map(len, phrase)) / len(text)

    kept, rejected = straddle(build, limit)
    assert repetition(kept) is None
    assert repetition(rejected) == f"dup_{n}gram"
    assert repetition(rejected, **{f"dup_{n}gram_char_frac": None}) is None


def test_top_ngram_counts_occurrences_and_needs_a_repeat():
    assert top_ngram_chars("x y x y x y".split(), 2) == 3 * 3  # "x y", 3 times
    assert top_ngram_chars("one two three".split(), 2) == 0
    # A short text whose one 2-gram is most of it is not repetitive.
    assert repetition("Hello world") is None


def test_duplicated_ngrams_count_no_word_twice():
    # Two later copies of "a b c d e", 5 characters each.
    assert duplicate_ngram_chars("a b c d e a b c d e a b c d e".split(), 5) == 10
    # Overlapping repeats: "a a a a a" at 0 and 1; the scan counts one and jumps past it.
    assert duplicate_ngram_chars(["a"] * 7, 5) == 5
    assert duplicate_ngram_chars("a b c d e f".split(), 5) == 0


def test_disabling_every_ngram_rule_skips_the_words():
    text = " ".join(["same thing"] * 50)
    nothing = {f"top_{n}gram_char_frac": None for n in (2, 3, 4)}
    nothing.update({f"dup_{n}gram_char_frac": None for n in range(5, 11)})
    assert repetition(text) == "top_2gram"
    assert repetition(text, **nothing) is None
