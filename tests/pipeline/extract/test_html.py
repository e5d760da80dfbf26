import pytest

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.extract.config import HtmlConfig
from llm_pretrain.pipeline.extract.html import extract_page
from llm_pretrain.pipeline.extract.html_resiliparse import iso_date
from llm_pretrain.stages import run_extract
from tests.conftest import BOILERPLATE_PAGE, MAIN_TEXT, write_test_warc

ENGINES = ["trafilatura", "resiliparse"]


@pytest.mark.parametrize("engine", ENGINES)
def test_main_text_kept_and_boilerplate_dropped(engine):
    page = extract_page(BOILERPLATE_PAGE, "https://example.org/survey", HtmlConfig(engine=engine))
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


@pytest.mark.parametrize(
    ("head", "date"),
    [
        ('<meta property="article:published_time" content="2023-05-17T08:00:00Z">', "2023-05-17"),
        ('<meta name="DC.date.issued" content="2021/2/3">', "2021-02-03"),
        ('<meta itemprop="datePublished" content="2019-11-30">', "2019-11-30"),
        ('<meta name="date" content="2020-13-45">', None),  # not a date
        ("", None),
    ],
)
def test_both_engines_read_the_date_from_meta_tags(head, date):
    html = BOILERPLATE_PAGE.replace("<title>", f"{head}<title>")
    page = extract_page(html, None, HtmlConfig(engine="resiliparse"))
    assert page is not None and page.date == date
    if date:  # trafilatura (htmldate) agrees where the page states it
        assert extract_page(html, None, HtmlConfig()).date == date


def test_a_time_element_gives_the_date_when_no_meta_tag_does():
    html = BOILERPLATE_PAGE.replace("<h1>", '<time datetime="2022-08-09">9 Aug</time><h1>')
    assert extract_page(html, None, HtmlConfig(engine="resiliparse")).date == "2022-08-09"
    assert iso_date("published 2022-08-09T10:00") == "2022-08-09" and iso_date("soon") is None


@pytest.mark.parametrize("engine", ENGINES)
def test_a_page_without_main_text_is_rejected(engine):
    assert (
        extract_page("<html><body><nav></nav></body></html>", None, HtmlConfig(engine=engine))
        is None
    )


def test_both_engines_extract_the_same_warc(tmp_path, config):
    (tmp_path / "crawl").mkdir()
    write_test_warc(tmp_path / "crawl" / "a.warc.gz", pages=6)
    texts = {}
    for engine in ENGINES:
        config.extract.html.engine = engine
        run_extract([str(tmp_path / "crawl")], tmp_path / engine, config, show_progress=False)
        rows = read_table(tmp_path / engine).to_pylist()
        texts[engine] = {row["url"]: row["text"] for row in rows}
        assert all(row["metadata"] and '"title"' in row["metadata"] for row in rows)
    assert (
        texts["trafilatura"].keys() == texts["resiliparse"].keys()
        and len(texts["resiliparse"]) == 6
    )
    for url, text in texts["trafilatura"].items():  # the same article, whatever the spacing
        words = set(text.split())
        other = set(texts["resiliparse"][url].split())
        assert len(words & other) / len(words | other) > 0.8, url


def test_dates_outside_the_web_era_or_inside_numbers_are_not_dates():
    assert iso_date("ref 123456-01-01") is None
    assert iso_date("9999-12-31") is None and iso_date("1990-05-01") is None
    assert iso_date("printed 1990-05-01, published 2001-09-10") == "2001-09-10"


def test_thousands_of_meta_tags_are_read_by_selector(tmp_path, config):
    """Iterating resiliparse's collections costs time quadratic in their length; one selector
    per known tag does not (a page of 4,000 tags took 48 s, then broke the task)."""
    junk = "".join(f'<meta name="m{i}" content="{i}">' for i in range(4000))
    date = '<meta property="article:published_time" content="2024-03-05">'
    html = BOILERPLATE_PAGE.replace("<title>", junk + date + "<title>")
    assert extract_page(html, None, HtmlConfig(engine="resiliparse")).date == "2024-03-05"
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "many.html").write_text(html)
    config.extract.html.engine = "resiliparse"
    config.extract.document_timeout_s = 5
    summary = run_extract([str(tmp_path / "raw")], tmp_path / "ex", config, show_progress=False)
    assert summary.manifest["counts"] == {"documents": 1, "rejected": 0}


class PanicException(BaseException):
    """What pyo3 raises when Rust code panics (resiliparse interrupted by the time limit)."""


def test_a_rust_panic_rejects_the_document_not_the_task(config):
    from llm_pretrain.pipeline.documents import Rejected
    from llm_pretrain.pipeline.extract.convert import guarded
    from tests.pipeline.filters.documents import doc_of

    def panic(doc):
        raise PanicException("coll.rs:130")

    outcome = guarded(doc_of(text=""), 10, config.extract, panic, watched=False)
    assert isinstance(outcome, Rejected) and outcome.reason == "extract_error:failed"
    assert "PanicException" in outcome.document.metadata["error"]

    def interrupted(doc):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        guarded(doc_of(text=""), 10, config.extract, interrupted, watched=False)
