import json
import os
import re
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.cli_chain import expand_chain
from llm_pretrain.cli_options import FLAGS, spread_values
from llm_pretrain.cli_train import train
from llm_pretrain.config import PipelineConfig, load_config
from llm_pretrain.configbase import load_yaml
from llm_pretrain.samples import build_sample
from llm_pretrain.train.config import TrainConfig
from tests.conftest import BOILERPLATE_PAGE


def invoke(*args):
    return CliRunner().invoke(data, list(args), catch_exceptions=False)


def test_help_documents_every_option():
    result = invoke("extract", "--help-all")
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


ALL_COMMANDS = [(group, name) for group in (data, train) for name in group.commands]


@pytest.mark.parametrize(("group", "name"), ALL_COMMANDS)
def test_every_command_has_examples_h_and_the_output_flags(group, name):
    short = CliRunner().invoke(group, [name, "-h"])
    assert short.exit_code == 0 and "Examples:" in short.output
    for flag in ("--quiet", "--verbose", "--json"):
        assert flag in short.output, (name, flag)


def test_filter_help_shows_the_common_options_and_help_all_every_one():
    short, every = invoke("filter", "--help"), invoke("filter", "--help-all")
    assert len(short.output.splitlines()) < 100 < len(every.output.splitlines())
    assert "filter.pii" in short.output and "--pii-emails" not in short.output
    text = "".join(every.output.split())  # keys wrapped over two lines read whole
    keys = [key for key in FLAGS if key.startswith("filter.")]
    assert len(keys) > 60 and all(f"[{key};" in text for key in keys)


def test_print_config_is_the_effective_config_and_loads_back(tmp_path):
    recipe = tmp_path / "pipeline.yaml"
    recipe.write_text("filter: {gopher_quality: {min_doc_words: 40}}\n")
    printed = invoke("filter", "--print-config", "-c", str(recipe), "--workers", "3",
                     "--set", "filter.steps=[language, pii]")  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert "# steps to run, in order" in printed.output  # each key with its description
    config = PipelineConfig.model_validate(yaml.safe_load(printed.output))
    assert (config.executor.workers, config.filter.steps) == (3, ["language", "pii"])
    assert config.filter.gopher_quality.min_doc_words == 40
    assert sorted(yaml.safe_load(printed.output)) == ["executor", "filter"]
    trained = CliRunner().invoke(train, ["pretrain", "--print-config", "max_steps=7"])
    assert trained.exit_code == 0, trained.output
    assert TrainConfig.model_validate(yaml.safe_load(trained.output)).max_steps == 7


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
    assert missing.exit_code == 2
    assert "does not exist" in missing.output and "Traceback" not in missing.output
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
        "filter", "--set", "extract.min_chars=5", "--output", "w/filtered", "--input",
        "w/extracted", "tokenize", "--set", "extract.min_chars=5", "--output", "w/tokens",
        "--input", "w/filtered",
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


def test_urls_a_store_cannot_take_are_refused_instead_of_becoming_local_folders(
    tmp_path, monkeypatch
):
    """`Path("s3://b/x")` is the local folder `s3:/b/x`: a URL that cannot be used must be an
    error naming why, never a folder."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    (tmp_path / "x.html").write_text("<p>hi</p>")
    as_output = runner.invoke(data, ["extract", "-i", "x.html", "-o", "hdfs://bucket/out"])
    assert as_output.exit_code == 2 and "hdfs:// is not a supported store" in as_output.output
    web_output = runner.invoke(data, ["extract", "-i", "x.html", "-o", "https://x.org/out"])
    assert web_output.exit_code == 2 and "can be read, not written" in web_output.output
    as_input = runner.invoke(data, ["extract", "-i", "ftp://bucket/crawl", "-o", "out"])
    assert as_input.exit_code == 2 and "ftp:// is not a supported store" in as_input.output
    tokens = runner.invoke(data, ["tokenize", "-i", "s3://bucket/deduped", "-o", "tokens"])
    assert tokens.exit_code == 2 and "tokenize reads and writes local folders" in tokens.output
    as_corpus = runner.invoke(data, ["refresh", "--workdir", "s3://bucket/corpus", "-i", "x"])
    assert as_corpus.exit_code == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(":")]


CHAIN_CONFIG = """
extract: {min_chars: 20}
filter:
  steps: [language, gopher_quality, pii]
  gopher_quality: {max_non_alpha_words_ratio: 0.6, min_doc_words: 20}
tokenizer: {vocab_size: 300}
tokenize: {seq_len: 32, val_fraction: 0.1}
"""


def _shard_bytes(work: Path) -> dict[str, bytes]:
    """Every shard and tokenizer file under a chain's work folder, by relative path."""
    kinds = ("*.parquet", "*.arrow", "tokenizer*.json")
    return {
        str(path.relative_to(work)): path.read_bytes()
        for kind in kinds
        for path in work.rglob(kind)
        if "_progress" not in path.parts
    }


def test_the_readme_chain_equals_the_stages_one_by_one(tmp_path):
    """The README's command, `--config` after the last stage, configures every stage: its
    datasets are byte for byte those of the four stages run alone with the same config."""
    build_sample(tmp_path / "crawl", pages=12, pdfs=1, seed=5)
    config = tmp_path / "demo.yaml"
    config.write_text(CHAIN_CONFIG)
    crawl, chained, alone = tmp_path / "crawl", tmp_path / "chained", tmp_path / "alone"
    result = invoke("extract", "--input", str(crawl), "filter", "dedup", "tokenize", "--config",
                    str(config), "--output", str(chained), "-q", "--workers", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    steps = [("extract", str(crawl), "extracted"), ("filter", "extracted", "filtered"),
             ("dedup", "filtered", "deduped"), ("tokenize", "deduped", "tokens")]  # fmt: skip
    for stage, source, folder in steps:
        source = source if stage == "extract" else str(alone / source)
        done = invoke(stage, "-i", source, "-o", str(alone / folder), "--config", str(config),
                      "-q", "--workers", "1")  # fmt: skip
        assert done.exit_code == 0, done.output
    chained_shards = _shard_bytes(chained)
    assert chained_shards == _shard_bytes(alone)
    assert sum(name.startswith("tokens/train/") for name in chained_shards) >= 1
    kept = json.loads((chained / "filtered" / "_manifest.json").read_text())
    assert kept["config"]["steps"] == ["language", "gopher_quality", "pii"]  # not the defaults


def test_chain_options_apply_everywhere_and_stage_options_where_they_belong(tmp_path):
    folders = data.chain_folders
    chain = ["extract", "-i", "c", "--set", "filter.steps=[pii]", "filter", "dedup", "-qv",
             "-o", "w", "--workers", "2"]  # fmt: skip
    expanded = " ".join(expand_chain(chain, data.commands, folders))
    for stage in (" filter ", " dedup "):
        expanded = expanded.replace(stage, " |" + stage)
    for part in expanded.split(" | "):
        assert "--set filter.steps=[pii]" in part and "-q -v" in part and "--workers 2" in part
    with pytest.raises(click.UsageError, match="--index is an option of dedup, not of filter"):
        expand_chain(["extract", "-i", "c", "filter", "--index", "x", "dedup", "-o", "w"],
                     data.commands, folders)  # fmt: skip
    result = invoke("extract", "-i", "c", "--min-chars", "3", "filter", "--min-chars", "3",
                    "-o", str(tmp_path / "w"))  # fmt: skip
    assert result.exit_code == 2 and "give it after `extract`" in result.stderr


def test_a_chain_with_json_prints_one_document_keyed_by_stage(mixed_inputs, tmp_path):
    result = invoke("extract", "-i", str(mixed_inputs["pages"]), "--min-chars", "20", "filter",
                    "--json", "-o", str(tmp_path / "w"), "--workers", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert sorted(document) == ["extract", "filter"]
    assert document["filter"]["output"] == str(tmp_path / "w" / "filtered")


def test_verbose_logs_the_config_the_tasks_and_the_inputs_not_read(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "page.html").write_text(BOILERPLATE_PAGE, encoding="utf-8")
    os.symlink("loop.html", tmp_path / "in" / "loop.html")  # a link to itself: not readable
    args = ["extract", "-i", str(tmp_path / "in"), "--workers", "1", "--min-chars", "20"]
    loud = invoke(*args, "-o", str(tmp_path / "a"), "-v")
    assert loud.exit_code == 0, loud.output
    assert '"extract": {"min_chars": 20}' in loud.stderr  # the config, as it differs
    assert re.search(r"task 0 \(.*\) finished after [\d.]+ s: \d+ documents", loud.stderr)
    assert re.search(r"input not read: .*loop.html: .*symbolic links", loud.stderr)
    quiet = invoke(*args, "-o", str(tmp_path / "b"), "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_print_config_of_a_chain_and_of_refresh_covers_what_they_read():
    chain = invoke("extract", "-i", "x", "filter", "dedup", "--print-config", "-o", "w")
    assert chain.exit_code == 0, chain.output
    assert sorted(yaml.safe_load(chain.output)) == ["dedup", "executor", "extract", "filter"]
    refresh = invoke("refresh", "-w", "w", "--print-config")
    assert sorted(yaml.safe_load(refresh.output)) == sorted(PipelineConfig.model_fields)
    mistakes = [
        (["extract", "-i", "x", "filter", "-o", "w", "--set"], "needs a value"),
        (["extract", "-i", "x", "filter", "--output="], "--output is empty"),
    ]
    for args, message in mistakes:
        result = invoke(*args)
        assert result.exit_code == 2 and message in result.stderr


def test_help_and_print_config_in_a_chain_run_nothing_and_need_no_output():
    assert "Usage: data filter" in invoke("extract", "filter", "-h").output
    printed = invoke("extract", "filter", "dedup", "tokenize", "--print-config")
    assert printed.exit_code == 0, printed.output
    assert "tokenize" in yaml.safe_load(printed.output)


def test_printed_config_loads_back_with_strings_that_look_like_numbers():
    printed = invoke("extract", "--print-config", "--set", 'extract.text_field="1e3"')
    assert printed.exit_code == 0, printed.output
    assert load_yaml(printed.output)["extract"]["text_field"] == "1e3"  # our loader's reading


def test_a_failed_refresh_is_one_line_on_the_console(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("some text " * 20)
    model = f"filter.quality_classifier.model_path={tmp_path / 'no.bin'}"
    result = invoke("refresh", "-w", str(tmp_path / "w"), "-i", str(tmp_path / "in"), "-q",
                    "--set", "filter.steps=[quality_classifier]", "--set", model)  # fmt: skip
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "refresh failed" in (tmp_path / "w" / "refresh.log").read_text()


def test_print_config_with_json_prints_json_that_loads_back(tmp_path):
    done = CliRunner().invoke(
        data, ["filter", "--print-config", "--json", "--set", "filter.dry_run=true"]
    )
    assert done.exit_code == 0, done.output
    printed = json.loads(done.output)
    assert sorted(printed) == ["executor", "filter"] and printed["filter"]["dry_run"] is True
    (tmp_path / "config.json").write_text(done.output)  # JSON is YAML: a --config
    assert load_config(tmp_path / "config.json").filter.dry_run is True
    recipe = CliRunner().invoke(train, ["pretrain", "--print-config", "--json", "max_steps=7"])
    assert recipe.exit_code == 0 and json.loads(recipe.output)["max_steps"] == 7


def test_run_options_before_the_first_command_are_its_own(tmp_path, monkeypatch):
    build_sample(tmp_path / "crawl", pages=3, pdfs=0, seed=1)
    crawl, out = str(tmp_path / "crawl"), tmp_path / "out"
    runner = CliRunner()
    alone = runner.invoke(data, ["-q", "--json", "extract", "-i", crawl, "-o", str(out / "a")])
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.output)["counts"]["documents"] > 0
    chain = ["--workers", "1", "extract", "-i", crawl, "filter", "--output", str(out / "b")]
    chained = runner.invoke(data, chain)
    assert chained.exit_code == 0, chained.output
    assert (out / "b" / "extracted").is_dir() and (out / "b" / "filtered").is_dir()
    assert runner.invoke(data, ["--version"]).exit_code == 0
    assert "Usage:" in runner.invoke(data, ["-h"]).output
    # An option's value that is a command's name is the value: a folder called filter.
    monkeypatch.chdir(tmp_path)
    named = runner.invoke(data, ["--output", "filter", "extract", "-i", crawl, "-q"])
    assert named.exit_code == 0, named.output
    assert (tmp_path / "filter" / "_manifest.json").is_file() and not (
        tmp_path / "extract"
    ).exists()
    dashes = runner.invoke(data, ["--", "extract", "-i", crawl, "-o", str(out / "c"), "-q"])
    assert dashes.exit_code == 0, dashes.output
    recipe = runner.invoke(train, ["-q", "pretrain", "--print-config", "--json", "max_steps=3"])
    assert recipe.exit_code == 0 and json.loads(recipe.output)["max_steps"] == 3
