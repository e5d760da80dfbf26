import random

import pytest
from pydantic import ValidationError

from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.c4 import (
    C4Quality,
    C4QualityConfig,
    count_sentences,
    split_sentences,
)
from llm_pretrain.pipeline.limits import time_limit
from llm_pretrain.samples import paragraph
from tests.pipeline.filters.documents import doc_of

# Five sentences of ten words, one per line: exactly C4's minimum.
PROSE = [
    "The committee measured the water level at forty old stations.",
    "Engineers compared the results with records from the last century.",
    "Volunteers from three villages restored the posts along the shore.",
    "The survey will be repeated every spring for ten more years.",
    "Residents are invited to discuss the report at the next meeting.",
]


def run(text: str, **config) -> tuple[str | None, Document, C4Quality]:
    step = C4Quality(C4QualityConfig(**config))
    doc = doc_of(id="d", text=text)
    return step.apply(doc), doc, step


def with_line(line: str, **config) -> tuple[str | None, str]:
    """Five prose lines plus `line` in the middle: the result and the rewritten text."""
    result, doc, _ = run("\n".join([*PROSE[:2], line, *PROSE[2:]]), **config)
    return result, doc.text


def test_step_protocol():
    assert C4Quality.name == "c4_quality" and C4Quality.config_class is C4QualityConfig
    step = C4Quality(C4QualityConfig())
    assert step.needs_whitespace_words
    assert not step.applies_to(doc_of(id="d", text="", language="ja"))
    assert step.applies_to(doc_of(id="d", text="", language="en"))


def test_english_prose_passes_unchanged():
    rng = random.Random(1)
    text = "\n".join(paragraph(rng, 5) for _ in range(6))
    result, doc, step = run(text)
    assert result is None
    assert doc.text == text
    assert step.counts == {"lines_kept": 6}


def test_line_removal_rewrites_text_and_counts_each_rule():
    text = "\n".join(
        [
            "  Home  ",
            PROSE[0],
            "Please enable JavaScript to see the comments below.",
            "",
            PROSE[1],
            "This website uses cookies to improve your experience.",
            "Read our Privacy Policy and the Terms of Use.",
            "Read more...",
            "Thank you!",
            f"A {'x' * 1001} long word.",
            PROSE[2] + "[12]",
            PROSE[3] + " [edit]",
            PROSE[3],
            "\t" + PROSE[4] + "   ",
        ]
    )
    result, doc, step = run(text)
    assert result is None
    assert doc.text == "\n".join(PROSE)
    assert step.counts == {
        "lines_removed:no_terminal_punct": 3,  # "Home", "Read more...", "...[edit]" -> ends in " "
        "lines_removed:javascript": 1,
        "lines_removed:policy": 2,
        "lines_removed:too_few_words": 1,
        "lines_removed:too_long_word": 1,
        "lines_kept": 5,
    }


def test_rejected_documents_leave_text_and_counts_alone():
    text = "\n".join(["Menu", *PROSE[:4]])
    result, doc, step = run(text)
    assert result == "too_few_sentences"
    assert doc.text == text and not step.counts


@pytest.mark.parametrize(
    ("ending", "kept"),
    [
        (".", True),
        ("?", True),
        ("!", True),
        ('."', True),
        (".'", True),
        ('"', True),
        (":", False),
        (")", False),
        ("", False),
        ("...", False),
        (". ...", False),
    ],
)
def test_terminal_punctuation(ending, kept):
    line = "The museum restored the damaged windows" + ending
    result, text = with_line(line)
    assert result is None
    assert (line in text.split("\n")) is kept


def test_terminal_punctuation_rule_can_be_disabled():
    result, text = with_line("Share this article with friends", filter_no_terminal_punct=False)
    assert result is None and "Share this article with friends" in text


def test_citations_are_removed_before_the_punctuation_check():
    result, text = with_line("The bridge opened in 1990.[3][citation needed]")
    assert result is None and "The bridge opened in 1990." in text.split("\n")
    result, text = with_line("The bridge opened in 1990.[3]", remove_citations=False)
    assert result is None and "1990" not in text


@pytest.mark.parametrize(("words", "kept"), [(2, False), (3, True), (4, True)])
def test_min_words_per_line(words, kept):
    line = " ".join(["word"] * (words - 1)) + " end."
    _, text = with_line(line)
    assert (line in text.split("\n")) is kept
    _, text = with_line(line, min_words_per_line=words + 1)
    assert line not in text.split("\n")
    _, text = with_line(line, min_words_per_line=0)
    assert line in text.split("\n")


@pytest.mark.parametrize(("length", "kept"), [(999, True), (1000, True), (1001, False)])
def test_max_word_length(length, kept):
    line = f"It reads {'a' * length} here."
    _, text = with_line(line)
    assert (line in text.split("\n")) is kept
    _, text = with_line(line, max_word_length=None)
    assert line in text.split("\n")


@pytest.mark.parametrize(
    "line",
    [
        "Please enable JavaScript in your browser settings.",
        "Our site uses cookies for analytics purposes.",
        "By using this site you agree to the terms of use.",
        "We care about the use of cookies on every page.",
    ],
)
def test_javascript_and_policy_lines(line):
    _, text = with_line(line)
    assert line not in text
    _, text = with_line(line, filter_javascript=False, filter_policy=False)
    assert line in text


def test_lorem_ipsum_rejects_the_document():
    assert with_line("Lorem ipsum dolor sit amet, consectetur.")[0] == "lorem_ipsum"
    assert with_line("LOREM IPSUM dolor sit amet.")[0] == "lorem_ipsum"
    result, text = with_line("Lorem ipsum dolor sit amet.", filter_lorem_ipsum=False)
    assert result is None and "Lorem ipsum dolor sit amet." in text
    # As in C4's code: only lines that survived the earlier line rules are looked at.
    assert with_line("Lorem ipsum dolor sit amet")[0] is None


def test_curly_bracket_rejects_the_document():
    assert with_line("The function returns {x: 1} here.")[0] == "curly_bracket"
    assert with_line("body { color: red; }")[0] is None  # no terminal punctuation: line removed
    result, text = with_line("The function returns {x: 1} here.", filter_curly_bracket=False)
    assert result is None and "{x: 1}" in text


@pytest.mark.parametrize(("sentences", "result"), [(4, "too_few_sentences"), (5, None)])
def test_min_num_sentences(sentences, result):
    assert run(" ".join(PROSE[:sentences]))[0] == result
    assert run("\n".join(PROSE[:sentences]))[0] == result
    assert run("\n".join(PROSE[:sentences]), min_num_sentences=sentences + 1)[0] is not None
    assert run("\n".join(PROSE[:1]), min_num_sentences=0)[0] is None


def test_sentences_follow_the_tokenizer_rules():
    # Abbreviations do not end sentences: these five "sentences" count as three.
    text = "Mr. Smith arrived at 5 p.m. on Monday. The U.S. team left. Dr. Jones stayed."
    assert count_sentences(text) == 3
    assert run(text)[0] == "too_few_sentences"
    assert run(text, min_num_sentences=3)[0] is None


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Mr. Smith went to Washington. He arrived at 5 p.m. on Monday.", 2),
        ("Wait... what? Yes!", 2),
        ("The U.S. Army left.", 1),
        ('He said "stop." Then he left.', 2),
        ("Prices rose 5%. Then they fell.", 2),
        ("See https://example.com/page. Then go.", 2),
        ("It was built in 1990. The bridge is long.", 2),
        ("Hmm ?yes. Sure.", 3),
        ("The speed in km/h. Next one.", 1),
        ("We met at the lab.Then we left.", 2),
        ("", 0),
        ("No punctuation at all", 1),
    ],
)
def test_count_sentences_matches_spacy_sentencizer(text, count):
    # Expected values are spaCy 3.8's (datatrove's English sentence splitter) on these texts.
    assert count_sentences(text) == count


def test_no_lines_left():
    text = "Home\nAbout us\nContact"
    assert run(text)[0] == "too_few_sentences"
    assert run(text, min_num_sentences=0)[0] == "no_lines_left"


def test_sentence_mode_applies_rules_to_sentences():
    text = (
        "The committee met on Monday. Please enable javascript now.\nThe survey ended. "
        "Engineers compared the results. Volunteers restored the posts. Everyone went home."
    )
    result, doc, step = run(text, split_paragraph=False)
    assert result is None
    assert doc.text == (
        "The committee met on Monday. The survey ended. Engineers compared the results. "
        "Volunteers restored the posts. Everyone went home."
    )
    assert step.counts["lines_removed:javascript"] == 1
    # spaCy starts a sentence at the newline token after "!", so the newline goes with "Five".
    assert split_sentences("One two. Three four!\nFive") == ["One two. ", "Three four!", "\nFive"]


def test_long_runs_of_punctuation_stay_linear():
    # A quadratic scan of these runs takes minutes, a linear one milliseconds: the limit is a
    # hang guard far from either, not a speed claim (the machine may be loaded).
    with time_limit(30):
        assert count_sentences("a" + "." * 200_000 + "b") == 1
        assert count_sentences("x" + "!." * 100_000) == 1
        assert count_sentences("x" + "..!" * 100_000 + " y") == 2
        assert run("Word " * 50_000 + ".")[0] == "too_few_sentences"


def test_config_is_strict():
    with pytest.raises(ValidationError, match="extra"):
        C4QualityConfig.model_validate({"min_words": 3})
    with pytest.raises(ValidationError):
        C4QualityConfig.model_validate({"min_num_sentences": -1})
    with pytest.raises(ValidationError):
        C4QualityConfig.model_validate({"filter_policy": "yes"})
    with pytest.raises(ValidationError):
        C4QualityConfig.model_validate({"max_word_length": 0})
    assert C4QualityConfig.model_validate({"max_word_length": None}).max_word_length is None
    for name, field in C4QualityConfig.model_fields.items():
        assert field.description, name
