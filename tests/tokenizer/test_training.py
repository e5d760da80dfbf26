"""`llm-data train-tokenizer` on a dataset: the byte budget, the report and the CLI."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.config import ConfigError, load_config
from llm_pretrain.samples import paragraph
from llm_pretrain.stages import run_extract
from llm_pretrain.tokenizer import training
from llm_pretrain.tokenizer.bpe import BpeTokenizer, TokenizerError
from llm_pretrain.tokenizer.sampling import picked
from llm_pretrain.tokenizer.training import REPORT_FILE, train_tokenizer


@pytest.fixture
def dataset(tmp_path, config):
    rng = random.Random(0)
    rows = [{"text": paragraph(rng, 8), "url": f"https://x.org/{i}"} for i in range(200)]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_extract([str(tmp_path / "in")], tmp_path / "ex", config, show_progress=False)
    return tmp_path / "ex"


def test_trains_on_all_text_within_the_budget(dataset, tmp_path, config):
    config.tokenizer.vocab_size = 500
    report = train_tokenizer(dataset, tmp_path / "tok", config.tokenizer)
    assert report["trained_on"]["documents"] == 200
    assert report["trained_on"]["bytes"] == report["corpus_bytes"]
    assert report["bytes_per_token"] > 2
    tokenizer = BpeTokenizer.load(tmp_path / "tok")
    assert tokenizer.vocab_size == 500
    assert report["tokenizer_sha256"] == tokenizer.fingerprint()
    assert json.loads((tmp_path / "tok" / REPORT_FILE).read_text()) == report


def test_a_byte_budget_samples_the_same_documents_every_time(dataset, tmp_path, config):
    config.tokenizer.vocab_size = 300
    config.tokenizer.train_bytes = 20_000
    first = train_tokenizer(dataset, tmp_path / "a", config.tokenizer)
    again = train_tokenizer(dataset, tmp_path / "b", config.tokenizer)
    assert first["trained_on"] == again["trained_on"]
    assert 10_000 < first["trained_on"]["bytes"] < 35_000 < first["corpus_bytes"]
    assert first["tokenizer_sha256"] == again["tokenizer_sha256"]


def test_picked_share_is_about_right():
    chosen = sum(picked(f"doc-{i}", 0.25, salt="0") for i in range(10_000))
    assert 2300 < chosen < 2700
    assert sum(picked(f"doc-{i}", 0.25, salt="1") for i in range(10_000)) != chosen


def test_not_a_dataset(tmp_path, config):
    with pytest.raises(TokenizerError, match="not a finished dataset"):
        train_tokenizer(tmp_path, tmp_path / "tok", config.tokenizer)


def test_cli(dataset, tmp_path):
    out = tmp_path / "tok"
    result = CliRunner().invoke(
        data, ["train-tokenizer", "-i", str(dataset), "-o", str(out), "--vocab-size", "400"]
    )
    assert result.exit_code == 0, result.output
    assert "400 tokens" in result.output and "bytes per token" in result.output
    too_big = CliRunner().invoke(
        data, ["train-tokenizer", "-i", str(dataset), "-o", str(out), "--vocab-size", "100000"]
    )
    assert too_big.exit_code == 1 and "too few distinct pairs" in too_big.output


def test_without_a_budget_all_text_is_used_unmeasured(dataset, tmp_path, config):
    config.tokenizer.vocab_size = 400
    config.tokenizer.train_bytes = None
    report = train_tokenizer(dataset, tmp_path / "tok", config.tokenizer)
    assert report["trained_on"]["documents"] == 200
    assert report["corpus_bytes"] == report["trained_on"]["bytes"] > 0


def test_the_sample_stays_within_the_trainers_32_bit_counts(dataset, tmp_path, config, monkeypatch):
    monkeypatch.setattr(training, "_HARD_LIMIT", 20_000)  # stands for 2**31 - 1 bytes
    config.tokenizer.vocab_size = 300
    config.tokenizer.train_bytes = None
    report = train_tokenizer(dataset, tmp_path / "tok", config.tokenizer)
    assert 0 < report["trained_on"]["bytes"] <= 20_000 < report["corpus_bytes"]
    with pytest.raises(ConfigError, match="tokenizer.train_bytes"):
        load_config(None, {"tokenizer.train_bytes": 3_000_000_000})
