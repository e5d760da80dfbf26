"""Every mistake a user can make ends in one line on stderr and the documented exit code, never
a traceback (issue 19): 2 for usage and config, 1 for a failure, 75 for a locked folder."""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.cli_train import train
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.samples import paragraph
from tests.train.helpers import TINY

QUIET = ["--workers", "1", "-q"]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """raw/, extracted/, tokens/, an index, a corrupt dataset, a run with a checkpoint."""
    root = tmp_path_factory.mktemp("mistakes")
    rng = random.Random(4)
    (root / "raw").mkdir()
    rows = [{"text": paragraph(rng, 5), "url": f"https://x.org/{n}"} for n in range(60)]
    (root / "raw" / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "more").mkdir()
    (root / "more" / "docs.jsonl").write_text(json.dumps(rows[0] | {"url": "y"}) + "\n")
    runner = CliRunner()
    steps = [
        ["extract", "-i", root / "raw", "-o", root / "extracted", "--min-chars", "20"],
        ["extract", "-i", root / "more", "-o", root / "more-extracted", "--min-chars", "20"],
        ["dedup", "-i", root / "extracted", "-o", root / "deduped", "--index", root / "index"],
        ["tokenize", "-i", root / "extracted", "-o", root / "tokens", "--vocab-size", "300",
         "--seq-len", "32"],
    ]  # fmt: skip
    for step in steps:
        done = runner.invoke(data, [str(a) for a in [*step, *QUIET]])
        assert done.exit_code == 0, done.output
    shutil.copytree(root / "extracted", root / "corrupt")
    (root / "corrupt" / "_manifest.json").write_text('{"stage": "extract", "shar')
    for part in (root / "index").glob("part-*.parquet"):
        part.unlink()  # the index lists a part that is gone
    run = ["pretrain", "--data", str(root / "tokens"), "--out", str(root / "run"), "-q"]
    done = runner.invoke(train, [*run, *TINY, "max_steps=2", "checkpoint.every_steps=2"])
    assert done.exit_code == 0, done.output
    (root / "bad.yaml").write_text("extract: [unclosed\n")
    (root / "binary.yaml").write_bytes(bytes(range(128, 256)))
    os.mkfifo(root / "fifo.yaml")  # read, it would never end
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("mine")
    return root


# (command group, arguments with {R} for the fixture folder, exit code, words of the message)
MISTAKES = [
    ("data", "extract -i {R}/nope -o {R}/o1", 2, "does not exist"),
    ("data", "extract -i {R}/raw -o {R}/o1 --workers 0", 2, "--workers"),
    ("data", "extract -i {R}/raw -o {R}/o1 --set extract.min_char=3", 2,
     "did you mean extract.min_chars"),
    ("data", "extract -i {R}/raw -o {R}/o1 --html-mode fast", 2, "--html-mode"),
    ("data", "extract -i {R}/raw -o {R}/o1 --config {R}/bad.yaml", 2, "not valid YAML"),
    ("data", "extract -i {R}/raw -o {R}/o1 --config {R}/missing.yaml", 2, "does not exist"),
    ("data", "extract -o {R}/o1", 2, "--input"),
    ("data", "extract -i {R}/raw -o {R}/o1 --bogus", 2, "No such option"),
    ("data", "extract -i {R}/raw -o {R}/raw", 1, "--output"),
    ("data", "filter -i {R}/extracted -o {R}/o2 --set filter.steps=[language,pii", 2,
     "not valid YAML"),
    ("data", "filter -i {R}/extracted -o {R}/o2 --set filter.step=[pii]", 2,
     "did you mean filter.steps"),
    ("data", "filter -i {R}/extracted -o {R}/o2 --set filter.steps=[nosuch]", 2, "unknown step"),
    ("data", "filter -i {R}/extracted -o {R}/o2 --set filter.steps=[word_blocklist] "
             "--set 'filter.word_blocklist.lists={{en: {R}/words.txt}}'", 2, "does not exist"),
    ("data", "filter -i {R}/nope -o {R}/o2", 2, "does not exist"),
    ("data", "filter -i {R}/corrupt -o {R}/o2", 1, "_manifest.json"),
    ("data", "filter -i {R}/extracted -o {R}/extracted --overwrite", 1, "--output"),
    ("data", "dedup -i {R}/corrupt -o {R}/o3", 1, "_manifest.json"),
    ("data", "dedup -i {R}/more-extracted -o {R}/o3 --index {R}/index", 1, "is missing"),
    ("data", "tokenize -i {R}/corrupt -o {R}/o4", 1, "_manifest.json"),
    ("data", "tokenize -i {R}/extracted -o {R}/o4 --vocab-size 100", 2, "--vocab-size"),
    ("data", "refresh -w {R}/notes -i {R}/raw", 1, "holds other files"),
    ("data", "refresh -w {R}/w", 1, "nothing to watch"),
    ("data", "status {R}/notes", 1, "not a corpus work folder"),
    ("data", "status {R}/nope", 2, "does not exist"),
    ("data", "report {R}/notes", 1, "neither a refresh work folder"),
    ("data", "extract -i {R}/raw filter -i {R}/extracted -o {R}/o5", 2, "reads the output"),
    ("data", "train-tokenizer -i {R}/extracted -o {R}/tokens", 1, "holds a dataset"),
    ("train", "pretrain --data {R}/tokens --out {R}/r2 optimizer.lr=[1", 2, "not valid YAML"),
    ("train", "pretrain --data {R}/tokens --out {R}/r2 optimizer.lrr=1", 2,
     "did you mean optimizer.lr"),
    ("train", "pretrain --data {R}/nope --out {R}/r2", 2, "does not exist"),
    ("train", "pretrain --out {R}/r2", 2, "--data"),
    ("train", "pretrain --data {R}/tokens --out {R}/r2 optimizer.lr=.nan", 2, "finite number"),
    ("train", "pretrain --data {R}/tokens --out {R}/tokens", 1, "--out"),
    ("train", "pretrain --data {R}/extracted --out {R}/r2", 1, "holds extract output"),
    ("train", "pretrain --data {R}/tokens --out {R}/notes", 1, "holds other files"),
    ("train", "pretrain --config {R}/bad.yaml --data {R}/tokens --out {R}/r2", 2, "YAML"),
    ("train", "sample --checkpoint {R}/run --prompt hi --temperature nan", 2, "finite"),
    ("train", "sample --checkpoint {R}/run", 2, "--prompt"),
    ("train", "sample --checkpoint {R}/notes --prompt hi", 1, "checkpoint"),
    ("train", "export --checkpoint {R}/run --out .", 1, "--out"),
    ("train", "export --checkpoint {R}/run --out {R}/run/checkpoints", 1, "--out"),
    ("train", "eval --checkpoint {R}/run --data {R}/nope", 2, "does not exist"),
    ("train", "eval --checkpoint {R}/run --data {R}/corrupt", 1, "cut short or edited"),
    ("data", "filter -i {R}/extracted -o {R}/o2 --set filter.steps=[quality_classifier] "
             "--set filter.quality_classifier.model_path={R}/model.bin", 2, "does not exist"),
    ("train", "plot {R}/notes", 1, "metrics.jsonl"),
    ("train", "plot {R}/nope", 2, "does not exist"),
    # found by the hostile tester
    ("data", "extract -i {R}/raw -o {R}/o1 --config {R}/binary.yaml", 2, "not UTF-8 text"),
    ("data", "extract -i {R}/raw -o {R}/o1 --config {R}/fifo.yaml", 2, "not a regular file"),
    ("data", "extract -i {R}/raw -o {R}/o1 --document-timeout-s 1e308", 2,
     "--document-timeout-s"),
    ("data", "extract -i '' -o {R}/o1", 2, "empty"),
    ("data", "extract -i {R}/raw filter filter -o {R}/o5", 2, "each stage once"),
    ("data", "filter -i {R}/extracted extract -o {R}/o5", 2, "in the order"),
    ("data", "extract -i {R}/raw filter -o {R}/o5 --set", 2, "needs a value"),
    ("data", "train-tokenizer -i {R}/extracted -o {R}/o8 --pattern (", 2, "not a valid regex"),
    ("data", "train-classifier --positive {R}/extracted --negative {R}/extracted -o {R}/m.bin "
             "--positive-label 'hq text'", 2, "--positive-label"),
    ("data", "tokenize -i {R}/extracted -o {R}/o9 --tokenizer {R}/raw/docs.jsonl", 1,
     "is not a tokenizer.json"),
    ("data", "tokenize -i {R}/extracted -o {R}/o9 --seq-len 99999999999", 2, "--seq-len"),
    ("train", "sample --checkpoint {R}/run --prompts-file {R}/binary.yaml", 2, "not UTF-8"),
    ("train", "pretrain --config {R}/fifo.yaml --print-config", 2, "not a regular file"),
]  # fmt: skip


@pytest.mark.parametrize(("group", "line", "code", "words"), MISTAKES)
def test_a_mistake_is_one_line_and_its_exit_code(made, group, line, code, words):
    command = {"data": data, "train": train}[group]
    result = CliRunner().invoke(command, shlex.split(line.format(R=made)))
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit | None), result.exc_info
    assert "Traceback" not in result.output
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("Error: "), result.stderr
    assert words in errors[0], errors[0]


def test_a_locked_output_is_75(made):
    with folder_lock(made / "o6" / ".lock", "being written"):
        result = CliRunner().invoke(
            data, ["extract", "-i", str(made / "raw"), "-o", str(made / "o6"), *QUIET]
        )
    assert result.exit_code == 75 and "try again later" in result.stderr


def test_a_bug_is_one_line_and_its_traceback_comes_with_v(made, monkeypatch):
    """An exception that is no user mistake (here forced into the summary) is a bug: one line
    pointing to -v, and with -v the traceback."""

    def broken(*args, **kwargs):
        raise ZeroDivisionError("forced")

    monkeypatch.setattr("llm_pretrain.cli.format_summary", broken)
    args = ["extract", "-i", str(made / "raw"), "-o", str(made / "o7"), "--workers", "1", "-q"]
    plain = CliRunner().invoke(data, args)
    assert plain.exit_code == 1
    assert plain.stderr.strip() == (
        "Error: internal error: ZeroDivisionError: forced (run with -v for details)"
    )
    verbose = CliRunner().invoke(data, [*args, "-v"])
    assert isinstance(verbose.exception, ZeroDivisionError)


def test_in_a_real_process_there_is_no_traceback(made):
    """The same boundary outside CliRunner: stderr is one line, stdout empty."""
    for args, code in [(["-m", "llm_pretrain", "status", str(made / "notes")], 1),
                       (["-m", "llm_pretrain.train", "pretrain", "max_steps=[1"], 2)]:  # fmt: skip
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True)
        assert done.returncode == code
        assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr


STOPPED_WHILE_IMPORTING = """
import sys
class Stop:  # Ctrl-C arriving while the commands are imported
    def find_spec(self, name, path=None, target=None):
        if name == "llm_pretrain.cli":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Stop())
from llm_pretrain.entry import data
data()
"""


def test_ctrl_c_while_starting_is_one_line_and_130():
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_WHILE_IMPORTING], capture_output=True, text=True
    )
    assert done.returncode == 130
    assert done.stderr == "stopped by SIGINT while starting; nothing was done\n"
