"""Outputs and unfinished runs of the version before issue 19 keep working (its fingerprints
named input datasets by the path as typed, and had no filter.pii.mask_bare_digit_runs), and a
dataset named by another path (`-i ex`, `-i /abs/ex`, a copied folder) is the same input."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.config import load_config
from llm_pretrain.pipeline.runner import earlier_fingerprints, stage_fingerprint
from llm_pretrain.samples import paragraph

ARGS = ["--workers", "1", "-q"]


def run(*args: object) -> str:
    result = CliRunner().invoke(data, [*map(str, args), *ARGS])
    assert result.exit_code == 0, result.output
    return result.output


def make_corpus(folder: Path) -> None:
    rng = random.Random(3)
    (folder / "raw").mkdir(parents=True)
    rows = [{"text": paragraph(rng, 5), "url": f"https://x.org/{n}"} for n in range(40)]
    (folder / "raw" / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run("extract", "-i", folder / "raw", "-o", folder / "ex", "--min-chars", "20")


def as_earlier_version(manifest_path: Path) -> None:
    """Give a finished dataset the fingerprint the earlier version wrote for it."""
    manifest = json.loads(manifest_path.read_text())
    earlier = earlier_fingerprints(manifest["stage"], manifest["config"], manifest["inputs"])
    assert earlier and earlier[0] != manifest["fingerprint"]
    manifest["fingerprint"] = earlier[0]
    manifest_path.write_text(json.dumps(manifest))


def test_a_dataset_the_earlier_version_finished_is_up_to_date(tmp_path, monkeypatch):
    make_corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    run("filter", "-i", "ex", "-o", "fi")
    as_earlier_version(tmp_path / "fi" / "_manifest.json")
    assert "up to date" in run("filter", "-i", "ex", "-o", "fi")


def test_dedup_without_line_dedup_keeps_its_identity(tmp_path, monkeypatch):
    """Line dedup off leaves no trace in the run's config or its index batch, so outputs and
    index parts made before it existed stay what they were (its fingerprint and batch id)."""
    make_corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    run("dedup", "-i", "ex", "-o", "dd")
    config = json.loads((tmp_path / "dd" / "_manifest.json").read_text())["config"]
    assert "lines" not in config and "partitions" not in config
    on = load_config(None, {"dedup.lines.mode": "keep_first"}).dedup
    assert on.decision_settings()["lines"]["mode"] == "keep_first"


def test_an_extract_output_made_before_the_engine_keys_is_up_to_date(tmp_path, monkeypatch):
    make_corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    manifest = json.loads((tmp_path / "ex" / "_manifest.json").read_text())
    html = {k: v for k, v in manifest["config"]["html"].items() if k != "engine"}
    before = {k: v for k, v in manifest["config"].items() if k != "prefilter"} | {"html": html}
    earlier = earlier_fingerprints("extract", manifest["config"], manifest["inputs"])
    assert earlier[0] == stage_fingerprint("extract", before, manifest["inputs"])
    as_earlier_version(tmp_path / "ex" / "_manifest.json")
    assert "up to date" in run(
        "extract", "-i", tmp_path / "raw", "-o", tmp_path / "ex", "--min-chars", "20"
    )


def test_an_unfinished_run_of_the_earlier_version_is_started_again(tmp_path, monkeypatch):
    make_corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    run("filter", "-i", "ex", "-o", "fresh")
    run("filter", "-i", "ex", "-o", "fi")
    as_earlier_version(tmp_path / "fi" / "_manifest.json")
    manifest = json.loads((tmp_path / "fi" / "_manifest.json").read_text())
    (tmp_path / "fi" / "_manifest.json").unlink()  # killed before its commit
    plan = tmp_path / "fi" / "_progress" / "plan.json"
    plan.parent.mkdir(exist_ok=True)
    plan.write_text(json.dumps({"fingerprint": manifest["fingerprint"], "stage": "filter"}))
    assert "up to date" not in run("filter", "-i", "ex", "-o", "fi")
    for shard in (tmp_path / "fresh").glob("part-*.parquet"):
        assert (tmp_path / "fi" / shard.name).read_bytes() == shard.read_bytes()


def test_an_input_dataset_is_the_same_under_another_path(tmp_path, monkeypatch):
    make_corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    run("filter", "-i", "ex", "-o", "fi")
    assert "up to date" in run("filter", "-i", tmp_path / "ex", "-o", "fi")
    shutil.copytree(tmp_path, tmp_path.parent / "copy", symlinks=True)
    monkeypatch.chdir(tmp_path.parent / "copy")
    assert "up to date" in run("filter", "-i", "ex", "-o", "fi")


def test_a_key_added_since_changes_the_earlier_fingerprint_only_at_its_default():
    config = {"steps": ["pii"], "pii": {"emails": True, "mask_bare_digit_runs": False}}
    inputs = [{"path": "ex", "stage": "extract", "fingerprint": "f", "shards": ["s"]}]
    earlier = earlier_fingerprints("filter", config, inputs)
    without = {"steps": ["pii"], "pii": {"emails": True}}
    assert earlier == earlier_fingerprints("filter", without, inputs)
    moved = [{**inputs[0], "path": "/elsewhere/ex"}]
    assert stage_fingerprint("filter", config, inputs) == stage_fingerprint("filter", config, moved)
    config["pii"]["mask_bare_digit_runs"] = True  # not what the earlier version did
    assert earlier_fingerprints("filter", config, inputs) != earlier
