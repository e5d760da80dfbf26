"""A small token dataset, built once per test session through extract and tokenize."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from llm_pretrain.config import load_config
from llm_pretrain.samples import paragraph
from llm_pretrain.stages import run_extract, run_tokenize

SETTINGS = {
    "executor.workers": 1,
    "extract.min_chars": 20,
    "tokenizer.vocab_size": 300,
    "tokenize.seq_len": 32,
}


@pytest.fixture(scope="session")
def token_data(tmp_path_factory) -> Path:
    """About 40k tokens of made-up English: a 300-token vocabulary, rows of 32 + 1 ids."""
    root = tmp_path_factory.mktemp("token_data")
    rng = random.Random(7)
    raw = root / "raw"
    raw.mkdir()
    for part in range(2):
        rows = [
            {"text": paragraph(rng, rng.randint(2, 8)), "url": f"https://example.org/{part}/{n}"}
            for n in range(120)
        ]
        (raw / f"docs-{part}.jsonl").write_text(
            "".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8"
        )
    config = load_config(None, {**SETTINGS, "tokenize.val_fraction": 0.1})
    run_extract([str(raw)], root / "docs", config, show_progress=False)
    run_tokenize(root / "docs", root / "tokens", config, show_progress=False)
    return root / "tokens"


@pytest.fixture(scope="session")
def token_data_without_val(token_data: Path, tmp_path_factory) -> Path:
    """The same documents tokenized with no validation split (val_fraction 0)."""
    out = tmp_path_factory.mktemp("token_data_without_val") / "tokens"
    config = load_config(None, {**SETTINGS, "tokenize.val_fraction": 0.0})
    run_tokenize(token_data.parent / "docs", out, config, show_progress=False)
    return out
