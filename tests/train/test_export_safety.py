"""`llm-train export` never deletes what it did not write (issue 18, case 1)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from llm_pretrain.cli_train import train
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
    export_module.export(runs / "r1", out, max_shard_bytes=20_000)  # several shards and an index
    assert (out / EXPORT_MARKER).is_file() and (out / "model.safetensors.index.json").is_file()
    again = export_cli("--checkpoint", runs / "r2", "--out", out, "--dtype", "fp32")
    assert again.exit_code == 0, again.output
    assert not (out / "model.safetensors.index.json").exists()  # the earlier shards went too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "runs"]  # no temporaries


def test_an_export_with_files_added_since_needs_overwrite(runs, tmp_path):
    out = tmp_path / "hf"
    assert export_cli("--checkpoint", runs / "r1", "--out", out).exit_code == 0
    (out / "README.md").write_text("my model card")
    refused(export_cli("--checkpoint", runs / "r2", "--out", out), "README.md")
    assert (out / "README.md").read_text() == "my model card"


def test_an_export_killed_between_its_renames_is_restored_then_replaced(runs, tmp_path):
    out = tmp_path / "hf"
    assert export_cli("--checkpoint", runs / "r1", "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    aside = tmp_path / ".hf.old-12345"  # where _publish had put it when the kill came
    out.rename(aside)
    (tmp_path / ".hf.tmp-12345").mkdir()  # and the new one, half written
    again = export_cli("--checkpoint", runs / "r1", "--out", out)
    assert again.exit_code == 0, again.output
    assert {p.name: p.read_bytes() for p in out.iterdir()}.keys() == before.keys()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "runs"]


def test_a_symlinked_out_keeps_its_link(runs, tmp_path):
    (tmp_path / "models" / "v1").mkdir(parents=True)
    (tmp_path / "current").symlink_to(tmp_path / "models" / "v1")
    done = export_cli("--checkpoint", runs / "r1", "--out", tmp_path / "current")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "current").is_symlink()
    assert (tmp_path / "models" / "v1" / "model.safetensors").is_file()


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


def test_an_out_through_a_link_and_dotdot_inside_the_run_is_refused(runs, tmp_path):
    (tmp_path / "L").symlink_to(runs / "r1" / "checkpoints")
    before = everything(runs)
    result = export_cli("--checkpoint", runs / "r1", "--out", f"{tmp_path}/L/../checkpoints",
                        "--overwrite")  # fmt: skip
    refused(result, "checkpoint or run folder")
    assert everything(runs) == before
