"""`extract.prefilter`: pages from blocked sites and pages plainly in another language are
rejected before extraction, with the filter's reasons, and the chain keeps what it kept."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from warcio.warcwriter import WARCWriter

from llm_pretrain.cli import data
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.stages import run_extract, run_filter
from tests.conftest import http_response
from tests.pipeline.filters.samples import CHINESE, ENGLISH, GERMAN, RUSSIAN

PAGES = {
    "https://news.example.org/en": ENGLISH,
    "https://news.example.org/de": GERMAN,
    "https://news.example.org/ru": RUSSIAN,
    "https://news.example.org/zh": CHINESE,
    "https://ads.blocked.test/en": ENGLISH.replace("river", "lake"),
    "https://sub.blocked.test/de": GERMAN.replace("Küste", "Insel"),
}


def page(text: str) -> bytes:
    body = "".join(f"<p>{sentence}.</p>" for sentence in text.split(". "))
    html = f"<html><head><title>t</title></head><body><nav>Home</nav><article>{body}</article>"
    return (html + "</body></html>").encode()


@pytest.fixture
def crawl(tmp_path):
    folder = tmp_path / "crawl"
    folder.mkdir()
    with open(folder / "c.warc.gz", "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, text in PAGES.items():
            payload = page(text)
            headers = http_response(payload, "text/html; charset=utf-8")
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(payload), http_headers=headers
            )
            writer.write_record(record)
    (tmp_path / "domains.txt").write_text("# blocked\nblocked.test\n")
    return folder


def with_checks(config, tmp_path):
    config.filter.url_blocklist.domains_file = str(tmp_path / "domains.txt")
    config.filter.steps = ["language", "url_blocklist"]
    config.extract.prefilter.url_blocklist = True
    config.extract.prefilter.language = True
    return config


def test_blocked_and_foreign_pages_are_rejected_before_extraction(tmp_path, config, crawl):
    config = with_checks(config, tmp_path)
    summary = run_extract([str(crawl)], tmp_path / "ex", config, show_progress=False)
    rejected = {r["url"]: r for r in read_table(tmp_path / "ex", True).to_pylist()}
    assert {url: row["reason"] for url, row in rejected.items()} == {
        "https://news.example.org/de": "language:other_language",
        "https://news.example.org/ru": "language:other_language",
        "https://news.example.org/zh": "language:other_language",
        "https://ads.blocked.test/en": "url_blocklist:blocked_domain",
        "https://sub.blocked.test/de": "url_blocklist:blocked_domain",
    }
    assert rejected["https://news.example.org/de"]["language"] == "de"
    assert rejected["https://news.example.org/de"]["language_score"] >= 0.8
    assert [r["url"] for r in read_table(tmp_path / "ex").to_pylist()] == [
        "https://news.example.org/en"
    ]
    assert "prefilter_checks" in summary.manifest["config"]


def test_the_chain_keeps_what_it_kept_without_the_checks(tmp_path, config, crawl):
    config = with_checks(config, tmp_path)
    run_extract([str(crawl)], tmp_path / "ex", config, show_progress=False)
    run_filter(tmp_path / "ex", tmp_path / "fi", config, show_progress=False)
    config.extract.prefilter.url_blocklist = config.extract.prefilter.language = False
    run_extract([str(crawl)], tmp_path / "ex0", config, show_progress=False)
    run_filter(tmp_path / "ex0", tmp_path / "fi0", config, show_progress=False)
    texts = [[r["text"] for r in read_table(tmp_path / f).to_pylist()] for f in ("fi", "fi0")]
    assert texts[0] == texts[1] and len(texts[0]) == 1
    reasons = sorted(r["reason"] for r in read_table(tmp_path / "fi0", True).to_pylist())
    # The filter runs language first: the blocked German page is rejected for its language there.
    assert reasons == ["language:other_language"] * 4 + ["url_blocklist:blocked_domain"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            ["filter.steps=[url_blocklist]", "filter.url_blocklist.domains_file={tmp}/nope.txt"],
            "nope.txt does not exist",
        ),
        (["filter.steps=[language]"], "add url_blocklist to filter.steps"),
        (
            ["filter.steps=[url_blocklist,language]", "extract.prefilter.language=true",
             "filter.language.model_path={tmp}/missing.ftz"],
            "extract.prefilter.language: ",
        ),
    ],
)  # fmt: skip
def test_a_check_the_filter_cannot_back_is_one_line_before_anything_runs(
    tmp_path, crawl, settings, message
):
    args = ["extract", "-i", str(crawl), "-o", str(tmp_path / "ex"), "--workers", "1", "-q"]
    args += ["--set", "extract.prefilter.url_blocklist=true"]
    args += ["--set", f"filter.url_blocklist.domains_file={tmp_path / 'domains.txt'}"]
    for setting in settings:
        args += ["--set", setting.format(tmp=tmp_path)]
    result = CliRunner().invoke(data, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "ex").exists()
