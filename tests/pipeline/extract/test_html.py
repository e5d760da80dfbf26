from llm_pretrain.pipeline.extract.config import HtmlConfig
from llm_pretrain.pipeline.extract.html import extract_page
from tests.conftest import BOILERPLATE_PAGE, MAIN_TEXT


def test_main_text_kept_and_boilerplate_dropped():
    page = extract_page(BOILERPLATE_PAGE, "https://example.org/survey", HtmlConfig())
    assert page is not None
    assert MAIN_TEXT in page.text
    assert "measuring posts" in page.text
    for junk in ("Privacy policy", "Copyright 2024", "Accept all cookies", "Weather"):
        assert junk not in page.text
    assert page.title == "Coast survey"


def test_modes_are_passed_through():
    precise = extract_page(BOILERPLATE_PAGE, None, HtmlConfig(mode="precision"))
    generous = extract_page(BOILERPLATE_PAGE, None, HtmlConfig(mode="recall"))
    assert precise is not None and generous is not None
    assert MAIN_TEXT in precise.text and MAIN_TEXT in generous.text
