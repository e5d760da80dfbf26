import json

import click
import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data, train
from llm_pretrain.cli_chain import expand_chain
from llm_pretrain.cli_options import spread_values
from llm_pretrain.config import PipelineConfig


def invoke(*args):
    return CliRunner().invoke(data, list(args), catch_exceptions=False)


def test_help_documents_every_option():
    result = invoke("extract", "--help")
    assert result.exit_code == 0
    for option in [
        "--input",
        "--output",
        "--config",
        "--set",
        "--overwrite",
        "--quiet",
        "--verbose",
        "--json",
        "--workers",
        "--html-mode",
        "--pdf-max-pages",
        "--min-chars",
        "--text-field",
        "--document-timeout-s",
        "--max-document-bytes",
    ]:
        assert option in result.output
    # Every config field of the sections extract uses has an option naming its key.
    for section in ("executor", "extract"):
        model = PipelineConfig.model_fields[section].annotation
        for name in model.model_fields:
            assert f"{section}.{name}" in result.output
    top = invoke("--help")
    assert "extract" in top.output and "Exit codes" in top.output
    assert CliRunner().invoke(train, ["--help"]).exit_code == 0


def test_extract_several_values_after_one_input(mixed_inputs, tmp_path):
    out = tmp_path / "out"
    result = invoke(
        "extract",
        "--input",
        str(mixed_inputs["warc"]),
        str(mixed_inputs["pdfs"]),
        "--output",
        str(out),
        "--workers",
        "2",
        "--min-chars",
        "20",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert "documents kept" in result.output
    assert "pdf_encrypted" in result.output
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["counts"] == {"documents": 5, "rejected": 3}
    assert len(manifest["inputs"]) == 5


def test_json_output_and_rerun(mixed_inputs, tmp_path):
    out = tmp_path / "out"
    args = ["extract", "-i", str(mixed_inputs["pages"]), "-o", str(out), "--json", "-q"]
    first = json.loads(invoke(*args).output)
    assert first["up_to_date"] is False and first["counts"]["documents"] == 1
    assert first["stats"]["rejected"] == {"extract_error:binary": 1}
    second = json.loads(invoke(*args).output)
    assert second["up_to_date"] is True


def test_config_file_and_set(mixed_inputs, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("extract:\n  min_chars: 100000\n")
    out = tmp_path / "out"
    result = invoke(
        "extract",
        "-i",
        str(mixed_inputs["pages"]),
        "-o",
        str(out),
        "-c",
        str(config),
        "--set",
        "extract.html.mode=precision",
        "--json",
        "-q",
    )
    summary = json.loads(result.output)
    assert summary["counts"]["documents"] == 0
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["config"]["html"]["mode"] == "precision"


def test_errors_are_one_line_with_exit_codes(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(
        data, ["extract", "-i", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]
    )
    assert missing.exit_code == 1
    assert "matches no file" in missing.output and "Traceback" not in missing.output
    (tmp_path / "x.html").write_text("<p>hi</p>")
    bad_key = runner.invoke(
        data,
        [
            "extract",
            "-i",
            str(tmp_path / "x.html"),
            "-o",
            str(tmp_path / "o"),
            "--set",
            "extract.nope=1",
        ],
    )
    assert bad_key.exit_code == 2 and "extract.nope: unknown key" in bad_key.output
    bad_choice = runner.invoke(
        data,
        ["extract", "-i", str(tmp_path / "x.html"), "-o", str(tmp_path / "o"), "--html-mode", "x"],
    )
    assert bad_choice.exit_code == 2


def test_spread_values():
    args = ["extract", "--input", "a", "b", "--output", "o", "-i", "c", "filter", "--x"]
    assert spread_values(args, ["--input", "-i"], ["filter"]) == [
        "extract",
        "--input",
        "a",
        "--input",
        "b",
        "--output",
        "o",
        "-i",
        "c",
        "filter",
        "--x",
    ]
    # The first value is always taken, even if it looks like a command name.
    assert spread_values(["--input", "filter"], ["--input"], ["filter"]) == ["--input", "filter"]


def test_chained_stages_write_their_datasets_under_one_work_folder(mixed_inputs, tmp_path):
    work = tmp_path / "corpus"
    result = invoke(
        "extract", "--input", str(mixed_inputs["warc"]), str(mixed_inputs["pages"]),
        "--min-chars", "20", "-q", "filter", "-q", "dedup", "--output", str(work), "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for stage, folder in [("extract", "extracted"), ("filter", "filtered"), ("dedup", "deduped")]:
        manifest = json.loads((work / folder / "_manifest.json").read_text())
        assert manifest["stage"] == stage
    assert json.loads((work / "deduped" / "_manifest.json").read_text())["counts"]["documents"]
    again = invoke("filter", "-i", str(work / "extracted"), "-o", str(work / "filtered"), "-q")
    assert again.exit_code == 0 and "up to date" in again.output.lower()  # one stage, alone


def test_expand_chain():
    folders = data.chain_folders
    chain = ["extract", "-i", "crawl", "--set", "extract.min_chars=5", "filter", "tokenize"]
    assert expand_chain([*chain, "-o", "w/"], data.commands, folders) == [
        "extract", "-i", "crawl", "--set", "extract.min_chars=5", "--output", "w/extracted",
        "filter", "--output", "w/filtered", "--input", "w/extracted",
        "tokenize", "--output", "w/tokens", "--input", "w/filtered",
    ]  # fmt: skip
    assert expand_chain([*chain, "--output=w/"], data.commands, folders)[6] == "w/extracted"
    alone = ["extract", "-i", "filter", "-o", "out"]  # `filter` is the value of --input here
    assert expand_chain(alone, data.commands, folders) == alone
    for args, message in [
        ([*chain], "give --output once (got 0)"),
        (["extract", "-i", "a", "-o", "x", "filter", "-o", "y"], "give --output once (got 2)"),
        (["extract", "-i", "a", "filter", "-i", "b", "-o", "w"], "filter reads the output"),
        (["extract", "-i", "a", "-o", "w", "filter", "status", "w"], "status cannot be chained"),
    ]:
        with pytest.raises(click.UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            expand_chain(args, data.commands, folders)


def test_urls_are_refused_instead_of_becoming_local_folders(tmp_path, monkeypatch):
    """`Path("s3://b/x")` is the local folder `s3:/b/x`: a URL must be an error instead."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    (tmp_path / "x.html").write_text("<p>hi</p>")
    as_output = runner.invoke(data, ["extract", "-i", "x.html", "-o", "s3://bucket/out"])
    assert as_output.exit_code == 2 and "mount the bucket" in as_output.output
    as_input = runner.invoke(data, ["extract", "-i", "gs://bucket/crawl", "-o", "out"])
    assert as_input.exit_code == 1 and "URLs are not supported" in as_input.output
    as_corpus = runner.invoke(data, ["refresh", "--workdir", "s3://bucket/corpus", "-i", "x"])
    assert as_corpus.exit_code == 2
    assert not (tmp_path / "s3:").exists() and not (tmp_path / "gs:").exists()
