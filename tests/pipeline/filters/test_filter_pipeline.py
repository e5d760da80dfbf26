"""The default step list on a mixed dataset: every document lands where its flaw says."""

import json
import random

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.samples import sentence
from llm_pretrain.stages import run_extract, run_filter
from tests.pipeline.filters.samples import CHINESE, ENGLISH, GERMAN
from tests.pipeline.helpers import assert_kill_and_rerun_is_identical


def prose(seed: int, lines: int = 8) -> list[str]:
    rng = random.Random(seed)
    return [f"{sentence(rng)} {sentence(rng)}" for _ in range(lines)]


DOCUMENTS = {
    "kept": "\n".join([*prose(1), "Questions go to jane.doe@example.org as usual."]),
    "kept_chinese": CHINESE * 3,
    "language:other_language": "\n".join([GERMAN] * 2 + [GERMAN.upper()]),
    "gopher_repetition:dup_line_frac": "\n".join(prose(2, 1) * 10),
    "gopher_quality:doc_words": "The committee met on Monday. It approved the plan for the bridge.",
    "c4_quality:lorem_ipsum": "\n".join(
        [*prose(3), "Lorem ipsum dolor sit amet, consectetur adipiscing elit."]
    ),
    # A short line said twice: over FineWeb's 1% of duplicated characters, under Gopher's
    # limits. Varied real sentences, since the sample grammar repeats its own 5-grams.
    "fineweb_quality:char_dup_ratio": "\n".join(
        [
            *(line + "." for line in ENGLISH.removesuffix(".").split(". ")),
            "The committee met again.",
            "Farmers in the valley expect a late harvest because the spring was unusually cold.",
            "A new ferry service will link the two islands from the first week of June.",
            "Local schools have started a programme to teach children how to swim safely.",
            "The committee met again.",
        ]
    ),
}


def write_inputs(folder, documents):
    folder.mkdir()
    for name, text in documents.items():
        (folder / f"{name.replace(':', '_')}.jsonl").write_text(
            json.dumps({"text": text, "url": f"https://x.org/{name}"}) + "\n"
        )


def test_every_reason_of_the_default_steps(tmp_path, config):
    write_inputs(tmp_path / "in", DOCUMENTS)
    run_extract([str(tmp_path / "in")], tmp_path / "ex", config, show_progress=False)
    config.filter.language.languages = ["en", "zh"]
    summary = run_filter(tmp_path / "ex", tmp_path / "out", config, show_progress=False)
    kept = {row["url"].rsplit("/", 1)[1]: row for row in read_table(tmp_path / "out").to_pylist()}
    rejected = read_table(tmp_path / "out", rejected=True).to_pylist()
    assert {row["url"].rsplit("/", 1)[1]: row["reason"] for row in rejected} == {
        name: name for name in DOCUMENTS if ":" in name
    }
    assert set(kept) == {"kept", "kept_chinese"}
    assert "<EMAIL>" in kept["kept"]["text"] and kept["kept"]["language"] == "en"
    assert kept["kept_chinese"]["language"] == "zh"
    steps = summary.stats["steps"]
    for word_based in ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"):
        assert steps[word_based]["not_applicable"] == 1  # the Chinese document
    assert steps["pii"]["counts"] == {"email": 1}
    assert summary.manifest["counts"] == {"documents": 2, "rejected": len(DOCUMENTS) - 2}


def test_killed_filter_rerun_gives_identical_output(tmp_path, config):
    rng = random.Random(0)
    many = {f"doc{i:03d}": "\n".join(prose(rng.randint(0, 10**6))) for i in range(60)}
    write_inputs(tmp_path / "in", many)
    config.extract.task_max_files = 1  # 60 shards, so that the filter has 60 tasks
    run_extract([str(tmp_path / "in")], tmp_path / "ex", config, show_progress=False)
    args = ["filter", "-i", str(tmp_path / "ex"), "--workers", "1", "-q"]
    assert_kill_and_rerun_is_identical(args, tmp_path)
