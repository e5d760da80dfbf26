"""`llm-data report`: the numbers agree with the datasets, and the page stands alone."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.config import load_config
from llm_pretrain.corpus.refresh import refresh
from llm_pretrain.corpus.report import collect_report
from llm_pretrain.corpus.report_html import render_html
from llm_pretrain.corpus.report_samples import site_of
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.samples import build_sample
from tests.corpus.test_refresh import SETTINGS, write_pages

GERMAN = (
    "Die Flussbehörde hat nach monatelanger Arbeit eine ausführliche Untersuchung der "
    "nördlichen Küste veröffentlicht. Ingenieure haben den Wasserstand an vierzig Stationen "
    "gemessen und die Ergebnisse mit alten Aufzeichnungen verglichen."
)


SCRIPT_AS_TEXT = "Beispiel: &lt;script&gt;alert(1)&lt;/script&gt; im Text."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Two refreshes of a crawl with a German page, PII, copies and a junk PDF."""
    root = tmp_path_factory.mktemp("report")
    inbox = root / "inbox"
    build_sample(inbox / "first", pages=12, pdfs=2, seed=1)
    (inbox / "first" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF at all")
    pages = inbox / "first" / "pages"
    (pages / "german.html").write_text(  # its text holds a <script> tag, as text
        f"<html><body><article><p>{GERMAN}</p><p>{GERMAN}</p>"
        f"<p>{SCRIPT_AS_TEXT}</p></article></body></html>"
    )
    text = (pages / "page-000.html").read_text()
    (pages / "page-000-copy.html").write_text(text + "<!-- reposted -->")
    contact = "Write to jane.doe@example.com for a copy of the survey results."
    (pages / "page-001.html").write_text(
        (pages / "page-001.html").read_text().replace("</article>", f"<p>{contact}</p></article>")
    )
    config = load_config(None, SETTINGS)
    workdir = root / "corpus"
    assert refresh(workdir, config, [str(inbox)]).outcome == "committed"
    write_pages(inbox / "second", seed=2, count=4)
    (inbox / "second" / "again.html").write_text(text + "\n<!-- a mirror's copy -->\n")
    assert refresh(workdir, config, [str(inbox)]).version == 2
    return workdir


def utf8_bytes(folder: Path, rejected: bool = False) -> int:
    return sum(
        pc.sum(pc.binary_length(pq.read_table(p, columns=["text"])["text"])).as_py() or 0
        for p in shard_paths(folder, rejected)
    )


def test_the_funnel_adds_up_and_matches_the_datasets(corpus):
    report = collect_report(corpus)
    assert report["layout"] == "refresh" and report["version"] == 2
    funnel = {row["stage"]: row for row in report["funnel"]}
    assert list(funnel) == ["input files", "extract", "filter", "dedup", "tokenize"]
    batches = [corpus / "batches" / f"{n:06d}" for n in (1, 2)]
    for stage, folder in (("extract", "extracted"), ("filter", "filtered"), ("dedup", "deduped")):
        row = funnel[stage]
        assert row["bytes_out"] == sum(utf8_bytes(b / folder) for b in batches)
        assert row["rejected_bytes"] == sum(utf8_bytes(b / folder, rejected=True) for b in batches)
        documents = sum(
            pq.ParquetFile(p).metadata.num_rows for b in batches for p in shard_paths(b / folder)
        )
        assert row["documents_out"] == documents
    assert funnel["input files"]["documents_out"] == 12 + 5
    for previous, stage in (("extract", "filter"), ("filter", "dedup")):
        row = funnel[stage]
        assert row["documents_in"] == funnel[previous]["documents_out"]
        assert row["documents_in"] == row["documents_out"] + row["rejected"]
        assert row["bytes_in"] == funnel[previous]["bytes_out"]
    # filter masks PII and drops lines in documents it keeps; dedup changes no text
    filter_row, dedup_row = funnel["filter"], funnel["dedup"]
    assert filter_row["bytes_in"] - filter_row["bytes_out"] - filter_row["rejected_bytes"] > 0
    assert dedup_row["bytes_in"] == dedup_row["bytes_out"] + dedup_row["rejected_bytes"]
    manifest = json.loads((corpus / "tokens" / "_manifest.json").read_text())
    assert funnel["tokenize"]["tokens"] == manifest["counts"]["tokens"]
    assert report["tokens"]["tokens"] == manifest["counts"]["tokens"]
    assert sum(report["tokens"]["tokens_per_document"].values()) == manifest["counts"]["documents"]


def test_reasons_languages_and_clusters(corpus):
    report = collect_report(corpus)
    funnel = {row["stage"]: row for row in report["funnel"]}
    for stage in ("extract", "filter", "dedup"):
        reasons = [r for r in report["rejections"] if r["stage"] == stage]
        assert sum(r["documents"] for r in reasons) == funnel[stage]["rejected"]
    reasons = {(r["stage"], r["reason"]): r for r in report["rejections"]}
    assert ("filter", "language:other_language") in reasons
    assert reasons[("dedup", "exact_duplicate_of")]["documents"] >= 2
    assert any(stage == "extract" for stage, _ in reasons)  # the junk PDF
    assert report["languages"]["detected"]["de"] == 1
    assert "de" not in report["languages"]["kept"]
    assert sum(report["languages"]["kept"].values()) == funnel["dedup"]["documents_out"]
    steps = {step["step"]: step for step in report["filter_steps"]}
    assert steps["pii"]["counts"]["email"] >= 1
    assert steps["language"]["seen"] == funnel["filter"]["documents_in"]
    dedup = report["dedup"]
    assert dedup["duplicates_of_earlier_batches"] >= 1  # batch 2's copy of a batch-1 page
    assert dedup["clusters"] == sum(dedup["cluster_sizes"].values())
    assert [b["batch"] for b in report["batches"]] == ["1", "2"]


def test_the_page_is_self_contained_and_escaped(corpus):
    report = collect_report(corpus)
    report["input_errors"].append(
        {"path": "crawl/<script>alert(1)</script>.warc", "error": "Boom: <b>bad</b>", "records": 0}
    )
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""src=['"](?!data:)""", page)  # nothing fetched from outside
    assert not re.search(r"""href=['"][a-z]+:""", page)  # links only to the corpus's own files
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) >= 5  # funnel, rejections, languages, tokens, growth
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    for heading in ("Funnel", "Rejections", "Languages", "Deduplication", "Tokens", "Batches"):
        assert f"<h2>{heading}" in page


def test_cli_writes_the_report_and_refuses_other_folders(corpus, tmp_path):
    runner = CliRunner()
    output = tmp_path / "out" / "report.html"
    result = runner.invoke(data, ["report", str(corpus), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert f"report -> {output}" in result.output and output.stat().st_size > 10_000
    result = runner.invoke(data, ["report", str(corpus), "--json", "-o", str(output)])
    assert json.loads(result.stdout)["tokens"]["tokens"] > 0
    assert "categorical units" not in result.output  # charts log nothing
    result = runner.invoke(data, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "neither a refresh work folder" in result.output


def test_report_of_a_chained_run(tmp_path):
    crawl = tmp_path / "crawl"
    build_sample(crawl, pages=8, pdfs=1, seed=3)
    out = tmp_path / "corpus"

    def settings(*keys: str) -> list[str]:
        return [arg for key in keys for arg in ("--set", f"{key}={SETTINGS[key]}")]

    result = CliRunner().invoke(
        data,
        [
            "extract", "--input", str(crawl), *settings("extract.min_chars"), "-q",
            "filter", "-q", "dedup", "-q",
            "tokenize", *settings("tokenizer.vocab_size", "tokenize.seq_len"), "-q",
            "--output", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = collect_report(out)
    assert report["layout"] == "chain" and report["version"] is None
    funnel = {row["stage"]: row for row in report["funnel"]}
    assert funnel["tokenize"]["tokens"] == report["tokens"]["tokens"] > 0
    assert "<h2>Batches" not in render_html(report)


def test_bytes_an_earlier_version_did_not_count_show_as_unknown(corpus, tmp_path):
    """Stats written before text bytes were counted: the funnel says unknown (None), not 0."""
    old = tmp_path / "corpus"
    shutil.copytree(corpus, old, symlinks=True)
    for stats_file in (old / "batches").glob("*/filtered/_stats.json"):
        stats = json.loads(stats_file.read_text())
        del stats["text_bytes"]
        stats_file.write_text(json.dumps(stats))
    funnel = {row["stage"]: row for row in collect_report(old)["funnel"]}
    assert funnel["filter"]["bytes_out"] is None and funnel["dedup"]["bytes_in"] is None
    assert funnel["extract"]["bytes_out"] > 0 and funnel["dedup"]["bytes_out"] > 0


def test_examples_sites_thresholds_and_languages_come_from_the_datasets(corpus):
    report = collect_report(corpus)
    groups = {(g["stage"], g["reason"]): g["examples"] for g in report["rejection_examples"]}
    assert set(groups) == {(r["stage"], r["reason"]) for r in report["rejections"]}
    for (stage, reason), examples in groups.items():
        assert 1 <= len(examples) <= 3
        for example in examples:  # the link and row lead to the document
            row = pq.read_table(corpus / example["shard"]).slice(example["row"], 1).to_pylist()[0]
            key = row["reason"].split(":", 1)[0] if stage == "dedup" else row["reason"]
            assert key == reason
            assert row["text"].startswith(example["text"])
    german = groups[("filter", "language:other_language")][0]
    assert "<script>alert(1)</script>" in german["text"]
    page = render_html(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page

    funnel = {row["stage"]: row for row in report["funnel"]}
    sites = [*report["sites"], report["other_sites"]]
    assert sum(site["kept"] for site in sites) == funnel["dedup"]["documents_out"]
    rejected = sum(funnel[stage]["rejected"] for stage in ("extract", "filter", "dedup"))
    assert sum(site["rejected"] for site in sites) == rejected
    assert sum(site["kept_bytes"] for site in sites) == funnel["dedup"]["bytes_out"]

    assert report["settings"]["filter.language"]["min_score"] == 0.65
    assert report["settings"]["dedup"]["minhash"]["threshold"] == 0.8
    by_language = report["tokens"]["tokens_per_language"]
    assert sum(by_language.values()) == report["tokens"]["tokens"] and "en" in by_language
    for heading in ("Examples of rejected documents", "Thresholds the rules ran with",
                    "Documents per site", "Tokens per language"):  # fmt: skip
        assert heading in page


def test_damaged_shards_and_odd_urls_leave_a_report_with_links_from_where_it_lies(tmp_path):
    crawl = tmp_path / "crawl"
    build_sample(crawl, pages=6, pdfs=0, seed=9)
    (crawl / "odd.jsonl").write_text(json.dumps({"text": "x " * 40, "url": "http://[bad/page"}))
    out = tmp_path / "corpus"
    result = CliRunner().invoke(
        data, ["extract", "-i", str(crawl), "-q", "--set", "extract.min_chars=20", "filter", "-q",
               "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = collect_report(out)
    assert any(site["site"] == "unknown" or "file:" in site["site"] for site in report["sites"])
    assert site_of("http://[bad/page", "crawl/odd.jsonl") == "file:crawl"  # a bad host: no site
    assert site_of("https://www.example.org/a", None) == "example.org"
    shard = next((out / "filtered" / "_rejected").glob("part-*.parquet"))
    shard.write_bytes(shard.read_bytes()[:50])  # damaged after the fact
    report = collect_report(out)
    assert report["unreadable_shards"] and "filtered/_rejected" in report["unreadable_shards"][0]
    page_path = tmp_path / "elsewhere" / "report.html"
    result = CliRunner().invoke(data, ["report", str(out), "--output", str(page_path)])
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    assert "could not be read" in page
    links = re.findall(r"href='([^']+)'", page)
    assert links and all((page_path.parent / link).resolve().is_file() for link in links)
