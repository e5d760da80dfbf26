"""`llm-train export` never deletes what it did not write (issue 18, case 1)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from llm_pretrain.cli import train
from llm_pretrain.train import export as export_module
from llm_pretrain.train.export import EXPORT_MARKER
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import tiny_config


@pytest.fixture(scope="module")
def trained(token_data, tmp_path_factory):
    """runs/r1 (a run), runs/r2 (another run) and runs/notes.txt, copied fresh per test."""
    root = tmp_path_factory.mktemp("export_safety")
    pretrain(tiny_config("max_steps=1"), token_data, root / "r1", show_progress=False)
    return root / "r1"


@pytest.fixture
def runs(trained, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(trained, runs / "r1")
    shutil.copytree(trained, runs / "r2")
    (runs / "notes.txt").write_text("my notes\n")
    return runs


def everything(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def export_cli(*args):
    return CliRunner().invoke(train, ["export", *map(str, args)])


def refused(result, words):
    assert result.exit_code == 1, result.output
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "target",
    [
        lambda runs: runs,  # the folder holding the run: other runs and notes
        lambda runs: runs / "r1",  # the run itself
        lambda runs: runs / "r1" / "checkpoints",
        lambda runs: runs / "r1" / "checkpoints" / "step-000001",
        lambda runs: runs / "r1" / "checkpoints" / "step-000001" / "hf",  # inside
    ],
    ids=["parent-of-run", "run", "checkpoints", "checkpoint", "inside-checkpoint"],
)
@pytest.mark.parametrize("overwrite", [False, True])
def test_an_out_overlapping_the_checkpoint_or_run_is_refused(runs, target, overwrite):
    before = everything(runs)
    flags = ["--overwrite"] if overwrite else []
    result = export_cli("--checkpoint", runs / "r1", "--out", target(runs), *flags)
    refused(result, "checkpoint or run folder")
    assert everything(runs) == before
    assert (runs / "notes.txt").read_text() == "my notes\n"


def test_the_current_home_and_root_folders_are_refused(runs, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("x")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    for out, words in [(".", "the current folder"), ("~", "home folder"), ("/", "contains")]:
        result = export_cli("--checkpoint", runs / "r1", "--out", out, "--overwrite")
        refused(result, words)
    assert (work / "keep.txt").read_text() == "x"


def test_a_folder_with_other_files_needs_overwrite(runs, tmp_path):
    out = tmp_path / "models"
    out.mkdir()
    (out / "README.md").write_text("someone's model card")
    refused(export_cli("--checkpoint", runs / "r1", "--out", out), "did not write")
    assert (out / "README.md").read_text() == "someone's model card"

    done = export_cli("--checkpoint", runs / "r1", "--out", out, "--overwrite")
    assert done.exit_code == 0, done.output
    assert not (out / "README.md").exists() and (out / "model.safetensors").is_file()


def test_an_earlier_export_is_replaced_whole_and_nothing_is_left_behind(runs, tmp_path):
    out = tmp_path / "hf"
    assert export_cli("--checkpoint", runs / "r1", "--out", out).exit_code == 0
    assert (out / EXPORT_MARKER).is_file()
    (out / "stale.safetensors").write_bytes(b"old shard")  # as from an export with more shards
    again = export_cli("--checkpoint", runs / "r2", "--out", out, "--dtype", "fp32")
    assert again.exit_code == 0, again.output
    assert not (out / "stale.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "runs"]  # no temporaries


def test_a_failed_export_keeps_the_earlier_one(runs, tmp_path, monkeypatch):
    out = tmp_path / "hf"
    assert export_cli("--checkpoint", runs / "r1", "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "save_file", full_disk)
    result = export_cli("--checkpoint", runs / "r1", "--out", out)
    refused(result, "No space left on device")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "runs"]
