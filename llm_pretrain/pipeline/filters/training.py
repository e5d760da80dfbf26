"""`llm-data train-classifier`: a fastText classifier from positive and negative examples.

DCLM (Li et al. 2024, "DataComp-LM", section 4.4) trains a bigram fastText model on high-quality
reference text (positive) against random crawl (negative) and keeps the documents it scores
highest; the same recipe with toxic/clean examples gives a toxicity model. Held-out precision
and recall at the 0.5 threshold are reported so a user can judge the model before using it.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from pydantic import Field, ValidationInfo, field_validator

from llm_pretrain.configbase import Section
from llm_pretrain.errors import UserError
from llm_pretrain.pipeline.dataset import read_manifest, shard_paths
from llm_pretrain.pipeline.filters.classifier import fasttext_line, label_probability
from llm_pretrain.pipeline.filters.language import LABEL_PREFIX, load_model
from llm_pretrain.pipeline.outputs import overlap_problem
from llm_pretrain.storage import atomic_write_json, commit_file, temporary_path


class TrainingError(UserError, ValueError):
    """Examples that cannot train a classifier (missing, empty, one class only)."""


class TrainClassifierConfig(Section):
    positive_label: str = Field(
        "positive", pattern=r"^\S+$", description="label of the positive examples (one word)"
    )
    negative_label: str = Field(
        "negative", pattern=r"^\S+$", description="label of the negative examples (one word)"
    )

    @field_validator("negative_label")
    @classmethod
    def _distinct(cls, label: str, info: ValidationInfo) -> str:
        if label == info.data.get("positive_label"):
            raise ValueError("the two labels must differ")
        return label

    text_field: str = Field("text", description="text field of .jsonl and .parquet examples")
    max_chars: int = Field(10000, ge=1, description="characters of each example used (the head)")
    max_per_class: int | None = Field(
        None, ge=1, description="use at most this many examples of each class; null uses all"
    )
    test_fraction: float = Field(
        0.1, ge=0.01, le=0.5, description="share of examples held out for precision/recall"
    )
    # DCLM's quality classifier uses word bigrams (wordNgrams 2); the others are fastText's
    # supervised defaults.
    word_ngrams: int = Field(2, ge=1, le=5, description="fastText wordNgrams")
    dim: int = Field(100, ge=2, description="fastText vector size")
    epoch: int = Field(5, ge=1, description="fastText training epochs")
    lr: float = Field(0.1, gt=0, description="fastText learning rate")
    min_count: int = Field(
        1, ge=1, description="fastText minCount (words seen fewer times dropped)"
    )
    bucket: int = Field(
        2_000_000,
        ge=1,
        description="fastText hash buckets for word n-grams; the model holds bucket x dim "
        "floats (2M x 100 = 800 MB), so lower it for small training sets",
    )
    seed: int = Field(0, description="seed of the hold-out split and of fastText (1 thread)")


def iter_texts(path: Path, text_field: str) -> Iterator[str]:
    """Texts of a dataset folder, a .parquet or .jsonl(.gz) file, or a .txt file (one per line)."""
    if path.is_dir():
        if read_manifest(path) is None:
            raise TrainingError(
                f"{path} is a folder but not a finished dataset (no _manifest.json)"
            )
        for shard in shard_paths(path):
            yield from pq.read_table(shard, columns=["text"]).column("text").to_pylist()
    elif path.name.endswith(".parquet"):
        table = pq.read_table(path)
        if text_field not in table.column_names:
            raise TrainingError(f"{path} has no column {text_field!r}")
        yield from table.column(text_field).to_pylist()
    elif path.name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        yield json.loads(line)[text_field]
                    except (ValueError, KeyError, TypeError):
                        raise TrainingError(f"{path}:{number}: no {text_field!r} field") from None
    elif path.name.endswith(".txt"):
        yield from path.read_text(encoding="utf-8").splitlines()
    else:
        raise TrainingError(f"{path}: expected a dataset folder, .parquet, .jsonl or .txt")


def examples(paths: list[Path], label: str, config: TrainClassifierConfig) -> list[str]:
    lines = []
    for path in paths:
        for text in iter_texts(path, config.text_field):
            line = fasttext_line(text or "", config.max_chars)
            if line:
                lines.append(f"{LABEL_PREFIX}{label} {line}")
            if config.max_per_class and len(lines) >= config.max_per_class:
                return lines
    if not lines:
        raise TrainingError(f"no {label} examples in {', '.join(map(str, paths))}")
    return lines


def _held_out(line: str, seed: int, fraction: float) -> bool:
    """A stable split by hash, so the same examples give the same split on every run."""
    digest = hashlib.blake2b(f"{seed}:{line}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def _order(line: str, seed: int) -> bytes:
    return hashlib.blake2b(f"order:{seed}:{line}".encode(), digest_size=8).digest()


def evaluate(model: Any, test: list[str], positive: str) -> dict[str, float | int]:
    """Precision, recall, F1 and accuracy of the positive label at probability 0.5."""
    tp = fp = fn = tn = 0
    for line in test:
        label, _, text = line.partition(" ")
        predicted = label_probability(model, text, positive, len(text) + 1) >= 0.5
        actual = label == LABEL_PREFIX + positive
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = (tp + tn) / len(test) if test else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": accuracy,
        "test_examples": len(test),
    }


def train_classifier(
    positive: list[Path], negative: list[Path], output: Path, config: TrainClassifierConfig
) -> dict[str, Any]:
    """Train, evaluate on the held-out share, save the model atomically, return the report."""
    refuse_output(output, [*positive, *negative])
    lines = examples(positive, config.positive_label, config)
    n_positive = len(lines)
    lines += examples(negative, config.negative_label, config)
    lines.sort(key=lambda line: _order(line, config.seed))  # mix the classes for SGD
    test = [line for line in lines if _held_out(line, config.seed, config.test_fraction)]
    train = [line for line in lines if not _held_out(line, config.seed, config.test_fraction)]
    if not test or not train:
        raise TrainingError(f"too few examples ({len(lines)}) to hold out a test share")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(train) + "\n")
    tmp = temporary_path(output)
    params = {
        "dim": config.dim,
        "epoch": config.epoch,
        "lr": config.lr,
        "wordNgrams": config.word_ngrams,
        "minCount": config.min_count,
        "bucket": config.bucket,
        "seed": config.seed,
    }
    # A fresh interpreter per training run: fasttext-numpy2-wheel's trainer reads memory it
    # never initialised (results change with MALLOC_PERTURB_), so on a heap this process has
    # used, the same examples can give another model or diverge to NaN. A new process starts
    # from the same heap every time, which makes training repeatable.
    command = [sys.executable, "-m", __name__, handle.name, str(tmp), json.dumps(params)]
    try:
        child = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.unlink(handle.name)
    if child.returncode != 0:
        tmp.unlink(missing_ok=True)
        error = (child.stderr.strip().splitlines() or ["no message"])[-1]
        raise TrainingError(f"fastText training failed: {error}; try other lr, dim or bucket")
    commit_file(tmp, output)
    model = load_model.__wrapped__(str(output))
    report = {
        "model": str(output),
        "labels": {"positive": config.positive_label, "negative": config.negative_label},
        "examples": {
            "positive": n_positive,
            "negative": len(lines) - n_positive,
            "train": len(train),
        },
        "held_out": evaluate(model, test, config.positive_label),
        "config": config.model_dump(),
    }
    atomic_write_json(output.with_name(output.name + ".json"), report)
    return report


def _fit(train_path: str, model_path: str, params: str) -> None:
    """Child-process side (`python -m` this module): train on one thread, save the model, and
    check that it reads back as trained: fastText writes without reporting errors, and a model
    cut short by a full disk loads without one too (and scores every text 0.5)."""
    import fasttext

    model = fasttext.train_supervised(input=train_path, thread=1, verbose=0, **json.loads(params))
    model.save_model(model_path)
    with open(train_path, encoding="utf-8") as handle:
        sample = [line.split(" ", 1)[-1].strip() for line in itertools.islice(handle, 200)]
    saved = fasttext.load_model(model_path)
    if saved.get_labels() != model.get_labels() or not all(
        _same_prediction(saved.predict(text, k=-1), model.predict(text, k=-1)) for text in sample
    ):
        sys.exit(f"{model_path} does not read back as trained (is the disk full?)")


def _same_prediction(one: tuple, other: tuple) -> bool:
    return one[0] == other[0] and bool(np.allclose(one[1], other[1]))


def refuse_output(output: Path, examples: list[Path]) -> None:
    """The model file and its OUTPUT.json report may be neither, nor lie inside, an examples
    file or folder, and may replace only an earlier model of this command: one whose report is
    there and is one of ours."""
    report = output.with_name(output.name + ".json")
    for path in (output, report):
        problem = overlap_problem(path, examples, "--output", "examples")
        if problem:
            raise TrainingError(problem)
    for path in (output, report):
        if path.exists() and not _our_report(report):
            raise TrainingError(
                f"{path} exists and was not written by train-classifier; choose another --output"
            )


def _our_report(report: Path) -> bool:
    try:
        return "held_out" in json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


if __name__ == "__main__":
    _fit(*sys.argv[1:4])


def format_report(report: dict[str, Any]) -> str:
    """The command's summary of a trained classifier: examples, and how it does held out."""
    held_out, counts, labels = report["held_out"], report["examples"], report["labels"]
    return (
        f"train-classifier -> {report['model']}\n"
        f"  examples   {labels['positive']} {counts['positive']:,}, "
        f"{labels['negative']} {counts['negative']:,} (trained on {counts['train']:,})\n"
        f"  held out   {held_out['test_examples']:,} examples: "
        f"precision {held_out['precision']:.3f}, recall {held_out['recall']:.3f}, "
        f"F1 {held_out['f1']:.3f}, accuracy {held_out['accuracy']:.3f} "
        f"({labels['positive']} at p >= 0.5)"
    )
