"""Every stage checks the shards it reads against their manifest (issue 18, case 5): a shard
copied over another, zeroed, or a manifest whose sha256 or counts were edited is a one-line
error naming the shard, never documents silently lost or doubled."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.samples import paragraph


def invoke(*args):
    return CliRunner().invoke(data, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """An extracted dataset of two shards, and a dedup index built from it."""
    root = tmp_path_factory.mktemp("verify")
    rng = random.Random(5)
    raw = root / "raw"
    raw.mkdir()
    for part in range(2):
        rows = [{"text": paragraph(rng, 4), "url": f"https://x.org/{part}/{n}"} for n in range(40)]
        (raw / f"docs-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--workers", "1", "-q"]
    extract = invoke("extract", "-i", raw, "-o", root / "docs", "--min-chars", "20", *common)
    assert extract.exit_code == 0, extract.output
    dedup = invoke("dedup", "-i", root / "docs", "-o", root / "deduped", "--index", root / "index",
                   *common)  # fmt: skip
    assert dedup.exit_code == 0, dedup.output
    return root


@pytest.fixture
def dataset(pristine, tmp_path):
    shutil.copytree(pristine / "docs", tmp_path / "docs")
    shutil.copytree(pristine / "index", tmp_path / "index")
    return tmp_path / "docs"


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "_manifest.json").read_text())


def edit_manifest(folder: Path, change) -> None:
    manifest = manifest_of(folder)
    change(manifest)
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def copy_over(folder: Path) -> str:
    shutil.copyfile(folder / "part-00000.parquet", folder / "part-00001.parquet")
    return "part-00001.parquet"


def zero(folder: Path) -> str:
    path = folder / "part-00001.parquet"
    path.write_bytes(bytes(path.stat().st_size))
    return "part-00001.parquet"


def edit_sha256(folder: Path) -> str:
    edit_manifest(folder, lambda m: m["shards"][0].update(sha256="0" * 64))
    return "part-00000.parquet"


def edit_rows(folder: Path) -> str:
    edit_manifest(folder, lambda m: m["shards"][1].update(rows=m["shards"][1]["rows"] + 3))
    return "part-00001.parquet"


STAGES = {
    "filter": ["filter"],
    "dedup": ["dedup"],
    "tokenize": ["tokenize", "--vocab-size", "300", "--seq-len", "32"],
}


@pytest.mark.parametrize("damage", [copy_over, zero, edit_sha256, edit_rows])
@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_damaged_input_shard_is_named_and_nothing_is_written(dataset, tmp_path, stage, damage):
    shard = damage(dataset)
    out = tmp_path / "out"
    result = invoke(*STAGES[stage], "-i", dataset, "-o", out, "--workers", "1", "-q")
    assert result.exit_code == 1, result.output
    assert shard in result.output and "Traceback" not in result.output
    assert "rebuild the dataset" in result.output and "run the same command" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (out / "_manifest.json").exists()


def test_a_damaged_dedup_index_part_is_refused(dataset, tmp_path):
    index = tmp_path / "index"
    [part] = index.glob("part-*.parquet")
    raw = bytearray(part.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    part.write_bytes(bytes(raw))
    # Another batch (the index never reads the part of the batch being deduplicated).
    later = tmp_path / "later"
    assert invoke("filter", "-i", dataset, "-o", later, "--workers", "1", "-q").exit_code == 0
    result = invoke("dedup", "-i", later, "-o", tmp_path / "out", "--index", index, "-q")
    assert result.exit_code == 1, result.output
    assert "dedup index" in result.output and part.name in result.output
    assert "Traceback" not in result.output


def test_an_intact_dataset_still_reads(dataset, tmp_path):
    result = invoke("filter", "-i", dataset, "-o", tmp_path / "out", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output


def test_training_a_tokenizer_or_a_classifier_on_a_damaged_dataset_is_one_line(dataset, tmp_path):
    zero(dataset)
    for args in (
        ["train-tokenizer", "-i", dataset, "-o", tmp_path / "tok", "--vocab-size", "300"],
        ["train-classifier", "--positive", dataset, "--negative", dataset, "-o",
         tmp_path / "model.bin"],
    ):  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        assert "part-00001.parquet" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
