import random

import pytest
from pydantic import ValidationError

from llm_pretrain.pipeline.filters.english_words import english_words
from llm_pretrain.pipeline.filters.fineweb import (
    TERMINAL_PUNCTUATION,
    FineWebQuality,
    FineWebQualityConfig,
)
from llm_pretrain.samples import paragraph
from tests.pipeline.filters.documents import doc_of

ONLY = dict.fromkeys(
    ("line_punct_thr", "short_line_thr", "char_duplicates_ratio", "new_line_ratio")
)


def apply(text: str, **config) -> str | None:
    return FineWebQuality(FineWebQualityConfig(**config)).apply(doc_of(id="d", text=text))


def only(rule: str, **config) -> dict:
    """A config with every rule disabled but `rule` (left at its default unless given)."""
    settings = {key: None for key in ONLY if key != rule}
    settings.update(config)
    return settings


def long_line(i: int, end: str = ".") -> str:
    """A distinct line of about 50 characters and 10 tokens."""
    return f"Line {i:03d} describes the survey of the northern coast{end}"


def test_step_protocol():
    assert FineWebQuality.name == "fineweb_quality"
    assert FineWebQuality.config_class is FineWebQualityConfig
    step = FineWebQuality(FineWebQualityConfig())
    assert step.needs_whitespace_words
    assert not step.applies_to(doc_of(id="d", text="", language="zh"))


def test_english_prose_passes():
    rng = random.Random(2)
    assert apply("\n".join(paragraph(rng, 5) for _ in range(8))) is None
    assert apply("\n\n".join(paragraph(rng, 4) for _ in range(8))) is None


def test_empty_text():
    assert apply("") == "empty"
    assert apply(" \n\t\n\n") == "empty"


@pytest.mark.parametrize(("punctuated", "result"), [(11, "line_punct_ratio"), (12, None)])
def test_line_punct_ratio_threshold(punctuated, result):
    lines = [long_line(i, "." if i < punctuated else ",") for i in range(100)]
    assert apply("\n".join(lines)) == result


def test_line_punct_counts_sentence_terminals_only():
    assert {".", "!", "?", "。", "।", "؟"} <= TERMINAL_PUNCTUATION
    assert not {'"', "'", ":", ")", "…"} & TERMINAL_PUNCTUATION
    for end, result in [
        ("!", None),
        ("?", None),
        ("。", None),
        ('."', "line_punct_ratio"),  # a closing quote ends the line, not the period
        (". ", "line_punct_ratio"),  # lines are not stripped
        ("…", "line_punct_ratio"),
    ]:
        assert apply("\n".join(long_line(i, end) for i in range(10))) == result, end


def test_line_punct_exclude_zero_and_disable():
    text = "\n".join(long_line(i, ":") for i in range(10))
    assert apply(text) == "line_punct_ratio"
    assert apply(text, line_punct_exclude_zero=True) is None
    assert apply(text, line_punct_thr=None) is None
    # exclude_zero keeps only a ratio of exactly zero
    text = "\n".join(long_line(i, "." if i == 0 else ":") for i in range(10))
    assert apply(text, line_punct_exclude_zero=True, line_punct_thr=0.2) == "line_punct_ratio"


SHORT = "Short line number {:03d} is here."  # 30 characters: short
NOT_SHORT = "Short line number {:03d} is there."  # 31 characters


@pytest.mark.parametrize(("short", "result"), [(67, None), (68, "short_line_ratio")])
def test_short_line_ratio_threshold(short, result):
    assert len(SHORT.format(0)) == 30 and len(NOT_SHORT.format(0)) == 31
    lines = [SHORT.format(i) if i < short else long_line(i) for i in range(100)]
    assert apply("\n".join(lines)) == result
    lines = [NOT_SHORT.format(i) if i < short else long_line(i) for i in range(100)]
    assert apply("\n".join(lines)) is None
    assert apply("\n".join(lines), short_line_length=31) == result


def test_short_line_rule_can_be_disabled():
    text = "\n".join(SHORT.format(i) for i in range(20))
    assert apply(text) == "short_line_ratio"
    assert apply(text, short_line_thr=None) is None


def dup_text(copies: int, tail: str = "") -> tuple[str, float]:
    """40 distinct lines and `copies` copies of one short line; the duplicated-character ratio."""
    repeated = "Read more here."
    lines = [long_line(i) for i in range(40)] + [repeated + tail] + [repeated] * (copies - 1)
    text = "\n".join(lines)
    duplicated = len(repeated) * (copies - 1 if not tail else copies - 2)
    return text, duplicated / len(text.replace("\n", ""))


def test_char_dup_ratio_threshold():
    text, ratio = dup_text(2)
    assert 0.005 < ratio < 0.01 and apply(text) is None
    text, ratio = dup_text(3)
    assert 0.01 < ratio < 0.02 and apply(text) == "char_dup_ratio"
    # exactly at the threshold passes, just above it fails
    assert apply(text, char_duplicates_ratio=ratio) is None
    assert apply(text, char_duplicates_ratio=ratio * 0.999) == "char_dup_ratio"
    assert apply(text, char_duplicates_ratio=None) is None


def test_char_dup_compares_raw_lines_and_skips_blank_ones():
    text, ratio = dup_text(3, tail=" ")  # "Read more here. " differs from "Read more here."
    assert apply(text) is None and ratio < 0.01
    lines = [long_line(i) for i in range(10)]
    assert apply("\n\n   \n".join(lines) + "\n   \n\n") is None


@pytest.mark.parametrize(("blank_lines", "result"), [(3, None), (4, "list_ratio")])
def test_list_ratio_threshold(blank_lines, result):
    # 10 lines of 4 tokens ("Alpha", "beta", "gamma", "."): 40 tokens; 9 + blank newlines.
    text = "\n".join(["Alpha beta gamma."] * 10) + "\n" * blank_lines
    assert len(english_words(text)) == 40
    assert apply(text, **only("new_line_ratio")) == result
    assert apply(text, **only("new_line_ratio", new_line_ratio=0.4)) is None


def test_list_ratio_counts_spacy_words():
    # 9 newlines; "I do n't know ." is 5 words for spaCy, 4 whitespace chunks.
    text = "\n".join(["I don't know."] * 10)
    assert len(english_words(text)) == 50
    assert apply(text, **only("new_line_ratio", new_line_ratio=0.2)) is None  # 9/50 = 0.18
    assert apply(text, **only("new_line_ratio", new_line_ratio=0.17)) == "list_ratio"
    assert apply("\n".join(["Item"] * 5), **only("new_line_ratio")) == "list_ratio"
    assert apply("\n".join(["Item"] * 5), **only(None)) is None


def test_rules_apply_in_datatrove_order():
    # Short, unpunctuated, repeated list lines break every rule: the first one is reported.
    text = "\n".join(["Home", "News", "Home", "News"] * 5)
    assert apply(text) == "line_punct_ratio"
    assert apply(text, line_punct_thr=None) == "short_line_ratio"
    assert apply(text, line_punct_thr=None, short_line_thr=None) == "char_dup_ratio"
    assert apply(text, **only("new_line_ratio")) == "list_ratio"


def test_config_is_strict():
    with pytest.raises(ValidationError, match="extra"):
        FineWebQualityConfig.model_validate({"stop_chars": "."})
    with pytest.raises(ValidationError):
        FineWebQualityConfig.model_validate({"line_punct_thr": 1.5})
    with pytest.raises(ValidationError):
        FineWebQualityConfig.model_validate({"short_line_length": "30"})
    assert FineWebQualityConfig.model_validate({"new_line_ratio": None}).new_line_ratio is None
    for name, field in FineWebQualityConfig.model_fields.items():
        assert field.description, name
