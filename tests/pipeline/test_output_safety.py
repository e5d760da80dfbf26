"""Stages never destroy their inputs or a folder they did not write, and never write one output
twice at once (issue 18, cases 2 and 3)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.cli_train import train
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.pipeline.runner import OUTPUT_LOCK
from llm_pretrain.samples import paragraph
from tests.conftest import write_test_warc


def invoke(*args):
    return CliRunner().invoke(data, [str(arg) for arg in args])


def refused(result, words, code=1):
    assert result.exit_code == code, result.output
    assert words in result.output, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """An extracted dataset, filtered once: inputs for every stage."""
    import random

    root = tmp_path_factory.mktemp("safety")
    rng = random.Random(3)
    raw = root / "raw"
    raw.mkdir()
    rows = [{"text": paragraph(rng, 4), "url": f"https://x.org/{n}"} for n in range(60)]
    (raw / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--workers", "1", "--min-chars", "20", "-q"]
    assert invoke("extract", "-i", raw, "-o", root / "extracted", *common).exit_code == 0
    return root


def stage_args(stage: str, root: Path) -> list:
    options = {
        "filter": ["--workers", "1", "-q"],
        "dedup": ["--workers", "1", "-q"],
        "tokenize": ["--workers", "1", "-q", "--vocab-size", "300", "--seq-len", "32"],
    }[stage]
    return [stage, "-i", root / "extracted", *options]


@pytest.mark.parametrize("stage", ["filter", "dedup", "tokenize"])
@pytest.mark.parametrize(
    "where", ["input", "inside-input", "parent-of-input"], ids=["is", "inside", "contains"]
)
def test_an_output_overlapping_the_input_is_refused_before_anything_is_touched(
    datasets, stage, where
):
    source = datasets / "extracted"
    target = {
        "input": source,
        "inside-input": source / "sub",
        "parent-of-input": datasets,
    }[where]
    before = snapshot(datasets)
    result = invoke(*stage_args(stage, datasets), "-o", target, "--overwrite")
    refused(result, "input dataset")
    assert snapshot(datasets) == before
    assert not (source / "sub").exists()


def test_overwrite_replaces_only_a_dataset_of_this_tool(datasets, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    refused(invoke(*stage_args("filter", datasets), "-o", mine, "--overwrite"), "not a dataset")
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]  # nothing created

    out = tmp_path / "filtered"
    assert invoke(*stage_args("filter", datasets), "-o", out).exit_code == 0
    (out / "notes.txt").write_text("kept beside the dataset")
    again = invoke(*stage_args("filter", datasets), "-o", out, "--overwrite", "--set",
                   "filter.dry_run=true")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert (out / "notes.txt").read_text() == "kept beside the dataset"
    assert json.loads((out / "_manifest.json").read_text())["config"]["dry_run"] is True


def test_a_dedup_index_overlapping_a_dataset_is_refused(datasets, tmp_path):
    before = snapshot(datasets)
    for index in (datasets / "extracted", tmp_path / "out", tmp_path / "out" / "index"):
        result = invoke(*stage_args("dedup", datasets), "-o", tmp_path / "out", "--index", index)
        refused(result, "--index")
    assert snapshot(datasets) == before


def test_a_tokenizer_inside_the_output_is_refused(datasets, tmp_path):
    out = tmp_path / "tokens"
    assert invoke(*stage_args("tokenize", datasets), "-o", out).exit_code == 0
    result = invoke(*stage_args("tokenize", datasets), "-o", out, "--overwrite",
                    "--tokenizer", out / "tokenizer.json")  # fmt: skip
    refused(result, "holds the --tokenizer")
    assert (out / "tokenizer.json").is_file()


def test_extract_refuses_outputs_that_overlap_its_inputs(tmp_path):
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    write_test_warc(crawl / "a.warc.gz", pages=2)
    (crawl / "page.html").write_text("<html><body><p>" + "word " * 50 + "</p></body></html>")
    before = snapshot(crawl)
    cases = [
        (["-i", crawl, "-o", crawl / "out"], "lies inside the input"),  # read back next run
        (["-i", crawl, "-o", crawl], "is the input"),
        (["-i", crawl / "a.warc.gz", "-o", tmp_path], "contains the input"),
        (["-i", f"{crawl}/**/*.parquet", "-o", crawl / "out"], "would read back"),
        (["-i", f"{crawl}/*.html", "-o", tmp_path], "contains the input"),
    ]
    for args, words in cases:
        refused(invoke("extract", *args, "--overwrite", "-q"), words)
    assert snapshot(crawl) == before
    # A glob that cannot match what extract writes may have its output beside the inputs.
    fine = invoke("extract", "-i", f"{crawl}/*.warc.gz", "-o", crawl / "out", "-q")
    assert fine.exit_code == 0, fine.output


def test_a_second_run_into_an_output_being_written_exits_75(datasets, tmp_path):
    out = tmp_path / "filtered"
    out.mkdir()
    with folder_lock(out / OUTPUT_LOCK, "being written"):
        result = invoke(*stage_args("filter", datasets), "-o", out)
    refused(result, "being written by pid", code=75)
    assert not (out / "_manifest.json").exists()
    assert invoke(*stage_args("filter", datasets), "-o", out).exit_code == 0


def test_the_lock_holds_across_processes(datasets, tmp_path):
    out = tmp_path / "tokens"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path;"
         "from llm_pretrain.pipeline.lock import folder_lock;"
         f"lock = folder_lock(Path({str(out / OUTPUT_LOCK)!r}), 'being written');"
         "lock.__enter__(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = invoke(*stage_args("tokenize", datasets), "-o", out)
        refused(result, f"pid {holder.pid}", code=75)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.05)
    assert invoke(*stage_args("tokenize", datasets), "-o", out).exit_code == 0


def test_report_plot_and_pretrain_never_write_over_what_is_not_theirs(datasets, tmp_path):
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my page</html>")
    refused(invoke("report", datasets, "--output", notes), "not written by llm-data report")
    assert notes.read_text() == "<html>my page</html>"

    photo = tmp_path / "run" / "loss.png"
    photo.parent.mkdir()
    photo.write_bytes(b"\x89PNG my holiday")
    (tmp_path / "run" / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0, "lr": 0.1}\n')
    result = CliRunner().invoke(train, ["plot", str(tmp_path / "run")])
    refused(result, "not written by llm-train plot")
    assert photo.read_bytes() == b"\x89PNG my holiday"

    tokens = tmp_path / "tokens"
    assert invoke(*stage_args("tokenize", datasets), "-o", tokens).exit_code == 0
    result = CliRunner().invoke(
        train, ["pretrain", "--data", str(tokens), "--out", str(tokens / "run"), "max_steps=1"]
    )
    refused(result, "lies inside the input folder")
    assert not (tokens / "run").exists()


def test_report_and_plot_replace_their_own_files_of_earlier_versions(datasets, tmp_path):
    page = tmp_path / "report.html"
    page.write_text("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                    "<title>Corpus report: old</title></head></html>")  # fmt: skip
    done = invoke("report", datasets, "--output", page)  # a chain folder: holds extracted/
    assert done.exit_code == 0, done.output
    assert "llm-pretrain report" in page.read_text()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0, "lr": 0.1}\n')
    figure = plt.figure()
    figure.savefig(run / "loss.png")  # as the plot of an earlier version
    plt.close(figure)
    assert CliRunner().invoke(train, ["plot", str(run)]).exit_code == 0
    assert b"llm-pretrain plot" in (run / "loss.png").read_bytes()[:4096]


@pytest.mark.parametrize(
    "inputs, output, refused_",
    [
        (["data/*.parquet"], "data/extracted", False),  # * stays within one folder
        (["data/**/*.parquet"], "data/extracted", True),
        (["data/*/*.parquet"], "data/extracted", True),  # extracted/part-00000.parquet
        (["data"], "data/.extracted", False),  # a folder input skips hidden folders
        (["data"], "data/extracted", True),
        (["link/**/*.parquet"], "data/extracted", True),  # link -> data: resolved
    ],
)
def test_which_globs_would_read_back_what_extract_writes(tmp_path, inputs, output, refused_):
    from llm_pretrain.pipeline.extract.stage import WRITES
    from llm_pretrain.pipeline.outputs import input_patterns_problem

    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    arguments = [str(tmp_path / argument) for argument in inputs]
    problem = input_patterns_problem(tmp_path / output, arguments, WRITES, "--output")
    assert (problem is not None) == refused_, problem


def test_a_path_through_a_link_and_dotdot_is_checked_where_it_lands(datasets, tmp_path):
    """`L/../extracted` with L -> input/sub names input/extracted, not ./extracted."""
    work = tmp_path / "work"
    shutil.copytree(datasets / "extracted", work / "extracted")
    (work / "extracted" / "sub").mkdir()
    (tmp_path / "L").symlink_to(work / "extracted" / "sub")
    before = snapshot(work)
    result = invoke(*stage_args("filter", work), "-o", f"{tmp_path}/L/../../extracted",
                    "--overwrite")  # fmt: skip
    refused(result, "input dataset")
    assert snapshot(work) == before


def test_an_output_that_is_or_lies_in_a_link_to_nothing_is_named(tmp_path):
    """Not "File exists" (what creating it says): the link and where it points."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("word " * 30)
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    runner = CliRunner()
    alone = runner.invoke(
        data, ["extract", "-i", str(tmp_path / "in"), "-o", str(tmp_path / "gone")]
    )
    assert alone.exit_code == 1
    assert f"is a link to {tmp_path / 'nowhere'}, which does not exist" in alone.output
    chain = ["extract", "-i", str(tmp_path / "in"), "filter", "--output", str(tmp_path / "gone")]
    chained = runner.invoke(data, chain)
    assert chained.exit_code == 1 and f"lies in {tmp_path / 'gone'}, a link to" in chained.output
    assert not (tmp_path / "nowhere").exists()
