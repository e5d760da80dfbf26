import json
import time
from collections import Counter

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig
from llm_pretrain.pipeline.filters.stage import StepStats, run_steps
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.stages import run_extract, run_filter
from tests.pipeline.filters.documents import doc_of
from tests.pipeline.filters.samples import CHINESE, ENGLISH, GERMAN, RUSSIAN


@pytest.fixture
def extracted(tmp_path, config):
    """An extracted dataset of 8 documents in 4 languages, over 2 shards."""
    folder = tmp_path / "jsonl"
    folder.mkdir()
    texts = [ENGLISH + " Write to jane.doe@example.org for a copy.", GERMAN, CHINESE, RUSSIAN]
    for part in range(2):
        rows = [{"text": text, "url": f"https://x.org/{part}/{i}"} for i, text in enumerate(texts)]
        (folder / f"part{part}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "extracted"
    run_extract([str(folder)], out, config, show_progress=False)
    return out


def test_language_filter_keeps_annotates_and_rejects(extracted, config, tmp_path):
    out = tmp_path / "filtered"
    config.filter.steps = ["language", "pii"]
    summary = run_filter(extracted, out, config, show_progress=False)
    kept = read_table(out).to_pylist()
    assert [row["language"] for row in kept] == ["en", "en"]
    assert all(row["language_score"] >= 0.65 for row in kept)
    assert all("<EMAIL>" in row["text"] and "jane.doe" not in row["text"] for row in kept)
    assert all(json.loads(row["metadata"])["pii"] == {"email": 1} for row in kept)
    rejected = read_table(out, rejected=True).to_pylist()
    assert Counter(row["reason"] for row in rejected) == {"language:other_language": 6}
    assert {row["language"] for row in rejected} == {"de", "zh", "ru"}
    steps = summary.stats["steps"]
    assert steps["language"]["seen"] == 8 and steps["language"]["rejected"] == 6
    assert steps["language"]["counts"]["detected:zh"] == 2
    assert steps["pii"]["seen"] == 2 and steps["pii"]["counts"] == {"email": 2}
    assert summary.manifest["counts"] == {"documents": 2, "rejected": 6}
    assert summary.manifest["inputs"][0]["stage"] == "extract"
    again = run_filter(extracted, out, config, show_progress=False)
    assert again.up_to_date


def test_dry_run_rejects_nothing_and_lists_reasons(extracted, config, tmp_path):
    config.filter.dry_run = True
    config.filter.steps = ["language", "gopher_quality"]
    out = tmp_path / "dry"
    run_filter(extracted, out, config, show_progress=False)
    rows = read_table(out).to_pylist()
    assert len(rows) == 8
    assert read_table(out, rejected=True).num_rows == 0
    by_language = {row["language"]: row["would_reject"] for row in rows}
    assert by_language["en"] == []
    # Every failing rule is listed: the German sample is also under 50 words.
    assert by_language["de"] == ["language:other_language", "gopher_quality:doc_words"]
    assert by_language["zh"] == ["language:other_language"]  # word rules skip Chinese


class Exploding(Step):
    name = "exploding"
    config_class = StepConfig

    def apply(self, doc: Document) -> str | None:
        if "slow" in doc.text:
            time.sleep(5)
        raise ValueError("bad regex")


def test_a_failing_or_slow_step_rejects_the_document_only():
    step = Exploding(StepConfig())
    stats = StepStats([step])
    doc = doc_of(id="x", text="text")
    assert run_steps(doc, [step], stats, dry_run=False, timeout_s=5) == ["exploding:error"]
    assert "bad regex" in doc.metadata["filter_error"]
    started = time.monotonic()
    slow = doc_of(id="y", text="slow")
    assert run_steps(slow, [step], stats, dry_run=False, timeout_s=0.1) == ["exploding:timeout"]
    assert time.monotonic() - started < 3


def test_input_must_be_a_finished_dataset(tmp_path, config):
    with pytest.raises(StageError, match="not a finished dataset"):
        run_filter(tmp_path, tmp_path / "out", config, show_progress=False)


def test_cli_filter(extracted, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        data,
        [
            "filter",
            "-i",
            str(extracted),
            "-o",
            str(out),
            "--set",
            "filter.language.languages=[de]",
            "--set",
            "filter.steps=[language]",
            "--language-min-score",
            "0.5",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "language" in result.output and "language:other_language" in result.output
    assert read_table(out).column("language").to_pylist() == ["de", "de"]
    bad = CliRunner().invoke(
        data, ["filter", "-i", str(extracted), "-o", str(out), "--set", "filter.steps=[nope]"]
    )
    assert bad.exit_code == 2 and "unknown step 'nope'" in bad.output
