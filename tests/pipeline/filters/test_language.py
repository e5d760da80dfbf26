import pytest

from llm_pretrain.pipeline.filters.language import LanguageConfig, LanguageId
from tests.pipeline.filters.documents import doc_of
from tests.pipeline.filters.samples import CHINESE, ENGLISH, GERMAN, RUSSIAN


@pytest.mark.parametrize(
    "text, code", [(ENGLISH, "en"), (GERMAN, "de"), (CHINESE, "zh"), (RUSSIAN, "ru")]
)
def test_identifies_and_annotates(text, code):
    step = LanguageId(LanguageConfig(languages=None))
    doc = doc_of(id="x", text=text)
    assert step.apply(doc) is None
    assert doc.language == code
    assert 0.65 <= doc.language_score <= 1.0
    assert step.counts[f"detected:{code}"] == 1


def test_keeps_only_configured_languages():
    step = LanguageId(LanguageConfig(languages=["en", "ru"]))
    assert step.apply(doc_of(id="a", text=ENGLISH)) is None
    assert step.apply(doc_of(id="b", text=RUSSIAN)) is None
    assert step.apply(doc_of(id="c", text=GERMAN)) == "other_language"


def test_low_score_is_rejected():
    step = LanguageId(LanguageConfig(languages=None, min_score=0.99999))
    mixed = doc_of(id="m", text=ENGLISH[:60] + " " + GERMAN[:60])
    assert step.apply(mixed) == "low_score"
    assert mixed.language_score < 0.99999
