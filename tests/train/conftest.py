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
    # Two more for mixtures (tests/train/test_mixture.py), made here, at the session's start:
    # the stages fork their workers, and a fork after torch has started its threads can hang.
    books = made_up_docs(root / "books", seed=11, count=60)
    run_tokenize(books, root / "books" / "tokens", config, root / "tokens", show_progress=False)
    other = made_up_docs(root / "other", seed=12, count=40)
    run_tokenize(other, root / "other" / "tokens", config, show_progress=False)
    return root / "tokens"


def made_up_docs(root: Path, seed: int, count: int) -> Path:
    """A document dataset of `count` made-up paragraphs."""
    rng = random.Random(seed)
    raw = root / "raw"
    raw.mkdir(parents=True)
    rows = [
        {"text": paragraph(rng, rng.randint(2, 8)), "url": f"https://b.org/{n}"}
        for n in range(count)
    ]
    (raw / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run_extract([str(raw)], root / "docs", load_config(None, SETTINGS), show_progress=False)
    return root / "docs"


@pytest.fixture(scope="session")
def books(token_data: Path) -> Path:
    """A second, smaller token dataset with token_data's tokenizer."""
    return token_data.parent / "books" / "tokens"


@pytest.fixture(scope="session")
def other_tokenizer(token_data: Path) -> Path:
    """A token dataset with a tokenizer of its own."""
    return token_data.parent / "other" / "tokens"


@pytest.fixture(scope="session")
def token_data_without_val(token_data: Path, tmp_path_factory) -> Path:
    """The same documents tokenized with no validation split (val_fraction 0)."""
    out = tmp_path_factory.mktemp("token_data_without_val") / "tokens"
    config = load_config(None, {**SETTINGS, "tokenize.val_fraction": 0.0})
    run_tokenize(token_data.parent / "docs", out, config, show_progress=False)
    return out
