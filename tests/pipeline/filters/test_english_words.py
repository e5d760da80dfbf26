"""`english_words` splits text the way spaCy 3.8's English tokenizer does (the expected tokens
below are spaCy's, with whitespace tokens left out as datatrove leaves them out)."""

from __future__ import annotations

import pytest

from llm_pretrain.pipeline.filters.english_words import chunk_words, english_words


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (
            "I don't know, the U.S. e-mail isn't here.",
            "I|do|n't|know|,|the|U.S.|e|-|mail|is|n't|here|.",
        ),
        (
            "Visit https://example.com/a?b=1 now (really).",
            "Visit|https://example.com/a?b=1|now|(|really|)|.",
        ),
        (
            "It costs $5.99 or 10km/h... maybe 5pm!",
            "It|costs|$|5.99|or|10|km/h|...|maybe|5|pm|!",
        ),
        (
            "Mr. Smith's dog-walker can't wait:) ...",
            "Mr.|Smith|'s|dog|-|walker|ca|n't|wait|:)|...",
        ),
        (
            "Dont go, cannot stay; I'd've gone\n\n  yall \t Gonna",
            "Do|nt|go|,|can|not|stay|;|I|'d|'ve|gone|y|all|Gon|na",
        ),
        (
            "“Quoted,” she said—twice—at 3:30 (UTC+1) in well-known rock'n'roll style…",
            "“|Quoted|,|”|she|said|—|twice|—|at|3:30|(|UTC+1|)|in|well|-|known|rock'n'roll|style|…",
        ),
        ("emoji 🎉🎉 done. e.g. i.e. etc. end", "emoji|🎉|🎉|done|.|e.g.|i.e.|etc|.|end"),
    ],
)
def test_tokens_match_spacy(text, tokens):
    assert english_words(text) == tuple(tokens.split("|"))


def test_tokens_keep_every_character():
    text = "(Well-known) co-op's [data], 10kg... “quoted”—twice!!"
    assert "".join(english_words(text)) == "".join(text.split())


def test_empty_and_whitespace_only_text():
    assert english_words("") == ()
    assert english_words(" \n\t\u00a0 ") == ()


def test_listed_contractions_split_with_their_case():
    assert chunk_words("Shouldntve") == ("Should", "nt", "ve")
    assert chunk_words("Theyre") == ("They", "re")
    assert chunk_words("Yall") == ("Yall",)  # spaCy lists "yall" in lower case only
    assert chunk_words("thats.") == ("that", "s.")


def test_the_last_document_is_split_once():
    text = "The same document, read by two steps."
    first = english_words(text)
    assert english_words(text) is first
    assert english_words(text + " ") is not first
