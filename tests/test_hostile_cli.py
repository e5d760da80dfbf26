"""What a hostile tester found after the first round of issue 18, each made a test: outputs
that would replace files other commands or the user wrote, records that ended a file, damaged
manifests and names that reached the console raw."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.cli_train import train
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.samples import article, paragraph


def run_data(*args):
    return CliRunner().invoke(data, [str(arg) for arg in args])


def one_line_error(result, words):
    assert result.exit_code == 1, result.output
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """extracted/ and tokens/ of a small JSONL corpus."""
    root = tmp_path_factory.mktemp("hostile_cli")
    rng = random.Random(2)
    (root / "raw").mkdir()
    rows = [{"text": paragraph(rng, 5), "url": f"https://x.org/{n}"} for n in range(80)]
    (root / "raw" / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--workers", "1", "-q"]
    assert run_data("extract", "-i", root / "raw", "-o", root / "extracted", "--min-chars", "20",
                    *common).exit_code == 0  # fmt: skip
    tokens = run_data("tokenize", "-i", root / "extracted", "-o", root / "tokens",
                      "--vocab-size", "300", "--seq-len", "32", *common)  # fmt: skip
    assert tokens.exit_code == 0, tokens.output
    return root


def test_train_tokenizer_never_writes_over_a_dataset_or_a_foreign_tokenizer(corpus, tmp_path):
    tokens = corpus / "tokens"
    before = (tokens / "tokenizer.json").read_bytes()
    args = ["train-tokenizer", "-i", corpus / "extracted", "--vocab-size", "280"]
    one_line_error(run_data(*args, "-o", tokens), "holds a dataset")
    assert (tokens / "tokenizer.json").read_bytes() == before
    mine = tmp_path / "model"
    mine.mkdir()
    (mine / "tokenizer.json").write_text("{}")
    one_line_error(run_data(*args, "-o", mine), "did not write")
    assert run_data(*args, "-o", tmp_path / "tok").exit_code == 0
    assert run_data(*args, "-o", tmp_path / "tok").exit_code == 0  # its own: replaced


def test_training_refuses_token_data_whose_tokenizer_was_swapped(corpus, tmp_path):
    import shutil

    tokens = tmp_path / "tokens"
    shutil.copytree(corpus / "tokens", tokens)
    (tokens / "tokenizer.json").write_text("{}")
    result = CliRunner().invoke(train, ["pretrain", "--data", str(tokens), "--out",
                                        str(tmp_path / "run"), "max_steps=1"])  # fmt: skip
    one_line_error(result, "tokenizer.json is not the tokenizer _manifest.json names")


def test_pretrain_and_refresh_never_take_over_a_folder_of_other_files(corpus, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("my settings")
    result = CliRunner().invoke(train, ["pretrain", "--data", str(corpus / "tokens"), "--out",
                                        str(mine), "max_steps=1"])  # fmt: skip
    one_line_error(result, "holds other files")
    refresh = run_data("refresh", "-w", mine, "-i", corpus / "raw", "-q")
    one_line_error(refresh, "holds other files")
    assert sorted(p.name for p in mine.iterdir()) == ["config.yaml"]
    assert (mine / "config.yaml").read_text() == "my settings"


def test_train_classifier_never_writes_over_a_file_it_did_not_write(corpus, tmp_path):
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("precious")
    rng = random.Random(3)
    (tmp_path / "pos.txt").write_text("\n".join(paragraph(rng) for _ in range(200)) + "\n")
    spam = "click here buy now cheap deals free shipping casino win".split()
    lines = [" ".join(rng.choice(spam) for _ in range(30)) for _ in range(200)]
    (tmp_path / "neg.txt").write_text("\n".join(lines) + "\n")
    args = ["train-classifier", "--positive", tmp_path / "pos.txt", "--negative",
            tmp_path / "neg.txt", "--epoch", "3", "--bucket", "20000"]  # fmt: skip
    one_line_error(run_data(*args, "-o", thesis), "was not written by train-classifier")
    assert thesis.read_text() == "precious"
    model = tmp_path / "model.bin"
    assert run_data(*args, "-o", model).exit_code == 0
    assert run_data(*args, "-o", model).exit_code == 0  # its own model: replaced


CUT_SHORT = """
import sys
from pathlib import Path

import fasttext

from llm_pretrain.pipeline.filters import training

real_save = fasttext.FastText._FastText.save_model


def cut_short(self, path):
    real_save(self, path)
    with open(path, "r+b") as handle:
        handle.truncate(Path(path).stat().st_size // 3)


fasttext.FastText._FastText.save_model = cut_short
training._fit(*sys.argv[1:4])
"""


def test_a_model_that_does_not_read_back_is_refused(tmp_path):
    """fastText saves without reporting errors: a model cut short by a full disk loads, and
    scores every text 0.5. Trained in a fresh process, as train-classifier does."""
    import subprocess
    import sys

    rng = random.Random(4)
    spam = "click here buy now cheap deals free shipping casino win".split()
    lines = [f"__label__good {paragraph(rng)}" for _ in range(100)]
    lines += [f"__label__spam {' '.join(rng.choice(spam) for _ in range(30))}" for _ in range(100)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    params = json.dumps(
        {"dim": 50, "epoch": 5, "lr": 0.1, "wordNgrams": 2, "minCount": 1, "bucket": 20000,
         "seed": 0}
    )  # fmt: skip
    args = [str(tmp_path / "train.txt"), str(tmp_path / "m.bin"), params]
    done = subprocess.run([sys.executable, "-c", CUT_SHORT, *args], capture_output=True, text=True)
    assert done.returncode != 0
    assert "does not read back as trained" in done.stderr, done.stderr[-2000:]
    intact = subprocess.run(
        [sys.executable, "-m", "llm_pretrain.pipeline.filters.training", *args],
        capture_output=True,
        text=True,
    )
    assert intact.returncode == 0, intact.stderr[-2000:]  # the check passes a whole model


def test_a_record_nested_too_deep_is_one_bad_record(tmp_path):
    (tmp_path / "in").mkdir()
    good = json.dumps({"text": " ".join(article(1, seed=1).paragraphs)})
    deep = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    nan = '{"text": "' + " ".join(article(2, seed=1).paragraphs) + '", "score": NaN}'
    (tmp_path / "in" / "r.jsonl").write_text("\n".join([good, deep, good, nan]) + "\n")
    assert run_data("extract", "-i", tmp_path / "in", "-o", tmp_path / "out", "-q").exit_code == 0
    kept = read_table(tmp_path / "out").to_pylist()
    assert len(kept) == 3  # the records after the deep one are read
    assert json.loads(kept[-1]["metadata"])["score"] is None  # NaN is not JSON: null
    [bad] = read_table(tmp_path / "out", rejected=True).to_pylist()
    assert bad["reason"] == "extract_error:bad_record"


def test_names_with_control_characters_are_escaped_on_the_console(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.html").write_text(article(1, seed=1).html)
    (folder / "evil\x1b]0;pwned\x07\nforged line.html").symlink_to("nowhere")
    result = run_data("extract", "-i", folder, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\nforged line" not in result.output and "\\x1b]0;pwned\\x07\\nforged" in result.output


def test_damaged_manifests_are_one_line(corpus, tmp_path):
    import shutil

    for name, text in [("cut", '{"stage": "extract", "shar'), ("list", "[]"),
                       ("null", '{"stage": "extract", "shards": null}')]:  # fmt: skip
        folder = tmp_path / name
        shutil.copytree(corpus / "extracted", folder)
        (folder / "_manifest.json").write_text(text)
        result = run_data("filter", "-i", folder, "-o", tmp_path / f"{name}-out")
        one_line_error(result, "_manifest.json")
    tokens = tmp_path / "tokens"
    shutil.copytree(corpus / "tokens", tokens)
    (tokens / "_manifest.json").write_text('{"stage": "tokenize"')
    result = CliRunner().invoke(train, ["pretrain", "--data", str(tokens), "--out",
                                        str(tmp_path / "run"), "max_steps=1"])  # fmt: skip
    one_line_error(result, "_manifest.json")
