import json
import random

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.filters.classifier import (
    ClassifierError,
    QualityClassifier,
    QualityClassifierConfig,
)
from llm_pretrain.pipeline.filters.training import (
    TrainClassifierConfig,
    TrainingError,
    train_classifier,
)
from llm_pretrain.samples import paragraph
from llm_pretrain.stages import run_extract, run_filter
from tests.pipeline.filters.documents import doc_of

SMALL = TrainClassifierConfig(bucket=20_000, dim=50)  # a small model keeps the tests quick

SPAM_WORDS = "click here buy now cheap deals free shipping login register casino win".split()


def spam(rng: random.Random) -> str:
    return " ".join(rng.choice(SPAM_WORDS) for _ in range(rng.randint(20, 60))) + " !!!"


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Prose (positive) against spam (negative), 300 each, as a .txt and a .jsonl file."""
    folder = tmp_path_factory.mktemp("labelled")
    rng = random.Random(3)
    (folder / "good.txt").write_text("\n".join(paragraph(rng) for _ in range(300)) + "\n")
    rows = [json.dumps({"text": spam(rng)}) for _ in range(300)]
    (folder / "bad.jsonl").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def model(labelled, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "quality.bin"
    report = train_classifier([labelled / "good.txt"], [labelled / "bad.jsonl"], path, SMALL)
    return path, report


def test_training_reports_held_out_metrics(model):
    path, report = model
    assert path.exists() and json.loads(path.with_name("quality.bin.json").read_text()) == report
    assert report["examples"]["positive"] == 300 and report["examples"]["negative"] == 300
    held_out = report["held_out"]
    assert 30 <= held_out["test_examples"] <= 100
    assert held_out["precision"] > 0.95 and held_out["recall"] > 0.95


def test_training_is_deterministic(labelled, model, tmp_path):
    again = tmp_path / "again.bin"
    train_classifier([labelled / "good.txt"], [labelled / "bad.jsonl"], again, SMALL)
    assert again.read_bytes() == model[0].read_bytes()


def test_step_scores_and_rejects(model):
    step = QualityClassifier(QualityClassifierConfig(model_path=str(model[0])))
    rng = random.Random(99)
    good, bad = doc_of(id="g", text=paragraph(rng)), doc_of(id="b", text=spam(rng))
    assert step.apply(good) is None and good.annotations["quality_score"] > 0.5
    assert step.apply(bad) == "low_quality" and bad.annotations["quality_score"] < 0.5


def test_filter_stage_with_classifier(model, tmp_path, config):
    rng = random.Random(5)
    rows = [{"text": paragraph(rng)} for _ in range(4)] + [{"text": spam(rng)} for _ in range(3)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run_extract([str(tmp_path / "d.jsonl")], tmp_path / "ex", config, show_progress=False)
    config.filter.steps = ["quality_classifier"]
    config.filter.quality_classifier.model_path = str(model[0])
    run_filter(tmp_path / "ex", tmp_path / "out", config, show_progress=False)
    kept = read_table(tmp_path / "out")
    assert kept.num_rows == 4 and min(kept.column("quality_score").to_pylist()) > 0.5
    rejected = read_table(tmp_path / "out", rejected=True)
    assert rejected.column("reason").to_pylist() == ["quality_classifier:low_quality"] * 3


def test_missing_model_is_a_clear_error():
    with pytest.raises(ClassifierError, match="train-classifier"):
        QualityClassifier(QualityClassifierConfig())


def test_bad_examples(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "x.csv").write_text("a,b")
    config = SMALL
    with pytest.raises(TrainingError, match="no positive examples"):
        train_classifier([tmp_path / "empty.txt"], [tmp_path / "empty.txt"], tmp_path / "m", config)
    with pytest.raises(TrainingError, match="expected a dataset folder"):
        train_classifier([tmp_path / "x.csv"], [tmp_path / "x.csv"], tmp_path / "m", config)


def test_cli_train_classifier(labelled, tmp_path):
    result = CliRunner().invoke(
        data,
        [
            "train-classifier",
            "--positive",
            str(labelled / "good.txt"),
            "--negative",
            str(labelled / "bad.jsonl"),
            "-o",
            str(tmp_path / "m.bin"),
            "--epoch",
            "3",
            "--bucket",
            "20000",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held out" in result.output and "precision" in result.output
    assert json.loads((tmp_path / "m.bin.json").read_text())["config"]["epoch"] == 3


def test_diverging_training_is_a_clear_error(labelled, tmp_path):
    wild = SMALL.model_copy(update={"lr": 1000.0})
    with pytest.raises(TrainingError, match="fastText training failed"):
        train_classifier([labelled / "good.txt"], [labelled / "bad.jsonl"], tmp_path / "m", wild)
    assert not (tmp_path / "m").exists()
