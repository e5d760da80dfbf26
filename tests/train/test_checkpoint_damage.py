"""Damaged checkpoints (A), edited training state (B) and a full disk while saving (E).

A run of 12 steps stopped after 8 leaves checkpoints 4 and 8; each test copies it, damages
step 8 and checks that the run resumes from step 4 with the losses of an uninterrupted run, or
that the commands refuse the damage in one line.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file, save_file
from torch.distributed.checkpoint import filesystem
from torch.distributed.checkpoint.api import CheckpointException

from llm_pretrain.cli_train import train
from llm_pretrain.train import cadence as cadence_module
from llm_pretrain.train import checkpoint as checkpoint_module
from llm_pretrain.train import model as model_module
from llm_pretrain.train import trainer as trainer_module
from llm_pretrain.train.checkpoint import (
    STATE_FILE,
    complete_checkpoints,
    read_state,
    save_failure,
)
from llm_pretrain.train.checkpoint_check import verify_checkpoint
from llm_pretrain.train.export import export
from llm_pretrain.train.integrity import file_record
from llm_pretrain.train.runtime import TrainError
from llm_pretrain.train.trainer import Diverged, pretrain
from tests.train.helpers import TINY, losses, tiny_config

CONFIG = ["checkpoint.keep_last=5"]


@pytest.fixture(scope="module")
def runs(token_data, tmp_path_factory) -> dict[str, Path]:
    """`whole`: 12 uninterrupted steps; `stopped`: the same run stopped after step 8."""
    root = tmp_path_factory.mktemp("damage")
    pretrain(tiny_config(*CONFIG), token_data, root / "whole", show_progress=False)
    pretrain(tiny_config(*CONFIG), token_data, root / "stopped", False, False, 8)
    return {"whole": root / "whole", "stopped": root / "stopped"}


@pytest.fixture
def run(runs, tmp_path) -> Path:
    shutil.copytree(runs["stopped"], tmp_path / "run")
    return tmp_path / "run"


def step8(run: Path) -> Path:
    return run / "checkpoints" / "step-000008"


def edit_state(checkpoint: Path, **changes) -> None:
    state = read_state(checkpoint)
    state.update(changes)
    (checkpoint / STATE_FILE).write_text(json.dumps(state))


def truncate(path: Path, keep: int = 100) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def resume(token_data: Path, run: Path):
    return pretrain(tiny_config(*CONFIG), token_data, run, show_progress=False)


def one_line_error(result, words: str) -> None:
    assert result.exit_code == 1, result.output
    assert words in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


# -- A: damaged checkpoints -----------------------------------------------------------------


def test_a_every_file_of_a_checkpoint_is_recorded_with_its_size_and_sha256(run):
    checkpoint = step8(run)
    files = read_state(checkpoint)["files"]
    on_disk = {
        path.relative_to(checkpoint).as_posix()
        for path in checkpoint.rglob("*")
        if path.is_file() and path.name != STATE_FILE
    }
    assert set(files) == on_disk
    assert {".metadata", "__0_0.distcp", "rng/rank-00000.pt", "tokenizer.json"} <= on_disk
    for name, record in files.items():
        assert record == file_record(checkpoint / name), name
    assert verify_checkpoint(checkpoint).step == 8


DAMAGE = {
    "truncated-distcp": (lambda c: truncate(c / "__0_0.distcp"), "__0_0.distcp is 100 bytes"),
    "deleted-distcp": (lambda c: (c / "__0_0.distcp").unlink(), "__0_0.distcp is missing"),
    "bit-flipped-distcp": (
        lambda c: flip_a_bit(c / "__0_0.distcp"),
        "__0_0.distcp does not match its recorded sha256",
    ),
    "truncated-state": (lambda c: truncate(c / STATE_FILE, 50), "is not readable JSON"),
    "empty-state": (lambda c: (c / STATE_FILE).write_text("{}"), "step: Field required"),
    "truncated-rng": (lambda c: truncate(c / "rng" / "rank-00000.pt"), "rng/rank-00000.pt is 100"),
    "damaged-metadata": (lambda c: flip_a_bit(c / ".metadata"), ".metadata does not match"),
    "deleted-metadata": (lambda c: (c / ".metadata").unlink(), ".metadata is missing"),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(
    damage, token_data, runs, run, caplog
):
    spoil, words = damage
    spoil(step8(run))
    with caplog.at_level(logging.WARNING, logger="llm_pretrain.train.trainer"):
        resumed = resume(token_data, run)
    assert resumed.start_step == 4
    warning = next(r.getMessage() for r in caplog.records if r.name == trainer_module.__name__)
    assert warning.startswith("checkpoints/step-000008: ") and words in warning, warning
    assert warning.endswith("; resuming from step-000004")
    assert losses(run) == losses(runs["whole"])  # steps 5-8 again, exactly as the first time
    verify_checkpoint(step8(run))  # rewritten intact


def test_a_no_intact_checkpoint_is_a_one_line_error(token_data, run):
    truncate(step8(run) / "__0_0.distcp")
    (run / "checkpoints" / "step-000004" / "rng" / "rank-00000.pt").unlink()
    with pytest.raises(TrainError, match=r"no checkpoint in .*checkpoints is intact") as error:
        resume(token_data, run)
    assert "step-000008: __0_0.distcp is 100 bytes" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_checkpoint_saved_before_files_were_recorded_loads_as_before(
    token_data, runs, run, caplog
):
    state = read_state(step8(run))
    del state["files"]
    (step8(run) / STATE_FILE).write_text(json.dumps(state))
    with caplog.at_level(logging.INFO, logger="llm_pretrain.train.checkpoint_check"):
        resumed = resume(token_data, run)
    assert resumed.start_step == 8
    assert any("records no file checksums" in r.getMessage() for r in caplog.records)
    assert losses(run) == losses(runs["whole"])


def test_a_two_processes_agree_on_the_fallback(token_data, runs, run):
    """Rank 1 hashes __0_0.distcp (files[1::2]); rank 0 must fall back with it."""
    truncate(step8(run) / "__0_0.distcp")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node=2", "-m", "llm_pretrain.train", "pretrain"]
    command += ["--data", str(token_data), "--out", str(run), "-q", *TINY, *CONFIG]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "step-000008: __0_0.distcp is 100 bytes" in done.stderr
    whole, resumed = losses(runs["whole"]), losses(run)
    assert sorted(resumed) == sorted(whole)
    for step in whole:
        assert resumed[step] == pytest.approx(whole[step], rel=1e-4), step


def cli(*args) -> object:
    return CliRunner().invoke(train, [str(arg) for arg in args])


def commands(run: Path, token_data: Path, tmp_path: Path, given: Path) -> dict[str, list]:
    return {
        "export": ["export", "-q", "--checkpoint", given, "--out", tmp_path / "hf"],
        "sample": [
            "sample",
            "-q",
            "--checkpoint",
            given,
            "--prompt",
            "The",
            "--max-new-tokens",
            "3",
        ],
        "eval": ["eval", "-q", "--checkpoint", given, "--data", token_data, "--max-rows", "8"],
    }


@pytest.mark.parametrize("command", ["export", "sample", "eval"])
def test_a_export_sample_and_eval_refuse_a_damaged_checkpoint(command, token_data, run, tmp_path):
    flip_a_bit(step8(run) / "__0_0.distcp")
    result = cli(*commands(run, token_data, tmp_path, run)[command])
    one_line_error(result, "step-000008 is damaged: __0_0.distcp does not match")
    assert f"newest intact checkpoint is {run / 'checkpoints' / 'step-000004'}" in result.output

    result = cli(*commands(run, token_data, tmp_path, step8(run))[command])
    one_line_error(result, "step-000008 is damaged: __0_0.distcp does not match")
    assert not (tmp_path / "hf").exists()

    ok = cli(*commands(run, token_data, tmp_path, run / "checkpoints" / "step-000004")[command])
    assert ok.exit_code == 0, ok.output


@pytest.fixture(scope="module")
def nan_run(token_data, tmp_path_factory) -> Path:
    """A run whose only checkpoint verifies but holds a NaN weight (as if saved corrupted)."""
    out = tmp_path_factory.mktemp("nan") / "run"
    real = checkpoint_module.get_state_dict

    def poisoned(model, optimizer):
        model_state, optim_state = real(model, optimizer)
        model_state["model.norm.weight"] = model_state["model.norm.weight"] * float("nan")
        return model_state, optim_state

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoint_module, "get_state_dict", poisoned)
        pretrain(tiny_config("max_steps=1"), token_data, out, show_progress=False)
    return out


@pytest.mark.parametrize("command", ["export", "sample", "eval"])
def test_a_export_sample_and_eval_refuse_weights_that_are_not_finite(
    command, token_data, nan_run, tmp_path
):
    result = cli(*commands(nan_run, token_data, tmp_path, nan_run)[command])
    one_line_error(result, "weight model.norm.weight holds NaN or infinite values")


def test_a_sample_refuses_an_exported_folder_with_infinite_weights(token_data, runs, tmp_path):
    export(runs["whole"], tmp_path / "hf", dtype="fp32")
    weights = load_file(tmp_path / "hf" / "model.safetensors")
    weights["model.norm.weight"][3] = float("inf")
    save_file(weights, tmp_path / "hf" / "model.safetensors", metadata={"format": "pt"})
    result = cli("sample", "-q", "--checkpoint", tmp_path / "hf", "--prompt", "The")
    one_line_error(result, "weight model.norm.weight holds NaN or infinite values")


def test_a_divergence_never_advises_a_checkpoint_that_does_not_verify(
    token_data, tmp_path, monkeypatch
):
    """Step 8's checkpoint is damaged on disk after it was saved; the loss is NaN at step 10."""
    real_save, real_loss = cadence_module.save_checkpoint, model_module.logits_loss_sum
    calls = {"n": 0}

    def save_then_damage(*args, **kwargs):
        path = real_save(*args, **kwargs)
        if path.name == "step-000008":
            flip_a_bit(path / "__0_0.distcp")
        return path

    def poisoned(logits, targets, mask):
        calls["n"] += 1
        loss = real_loss(logits, targets, mask)
        return loss * float("nan") if calls["n"] > 2 * 9 else loss  # step 10

    monkeypatch.setattr(cadence_module, "save_checkpoint", save_then_damage)
    monkeypatch.setattr(model_module, "logits_loss_sum", poisoned)
    with pytest.raises(Diverged, match=r"diverged at step 10") as error:
        pretrain(tiny_config(*CONFIG), token_data, tmp_path / "run", show_progress=False)
    assert "the last intact checkpoint" in str(error.value)
    assert "step-000004" in str(error.value) and "step-000008" not in str(error.value)


# -- B: an edited train_state.json ----------------------------------------------------------

EDITS = {
    "negative-position": ({"position": -5}, "position: Input should be greater than or equal"),
    "edited-step": ({"step": 9}, "says step 9, the folder step-000008"),
    "step-as-text": ({"step": "8"}, "step: Input should be a valid integer"),
    "negative-tokens": ({"tokens": -1}, "tokens: Input should be greater than or equal to 0"),
    "no-processes": ({"world_size": 0}, "world_size: Input should be greater than or equal to 1"),
    "no-model-config": ({"config": {}}, "config: Value error, has no model section"),
    "no-data-section": ({"data": None}, "data: Input should be a valid dictionary"),
    "bad-file-record": ({"files": {".metadata": {"bytes": 1}}}, "files..metadata.sha256"),
    "negative-source-position": (
        {"source_positions": {"data": -3}},
        "source_positions.data: Input should be greater than or equal to 0",
    ),
    "seed-as-text": ({"source_seeds": {"data": "zero"}}, "source_seeds.data"),
    "data-names-nothing": (
        {"data": {"tokenizer_sha256": "0" * 64}},
        "names neither one folder nor the sources of a mixture",
    ),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_b_an_edited_train_state_makes_the_checkpoint_damaged(edit, token_data, runs, run, caplog):
    changes, words = edit
    edit_state(step8(run), **changes)
    with caplog.at_level(logging.WARNING, logger="llm_pretrain.train.trainer"):
        resumed = resume(token_data, run)
    assert resumed.start_step == 4
    assert any(words in r.getMessage() for r in caplog.records), caplog.text
    assert losses(run) == losses(runs["whole"])


# -- E: a full disk while saving ------------------------------------------------------------


class FullDisk:
    """A file that takes `room` bytes, then fails as a full disk does."""

    def __init__(self, stream, room: int) -> None:
        self.stream, self.room = stream, room

    def write(self, data) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.stream.write(data)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def fill_disk_at_step_8(monkeypatch) -> None:
    """DCP's writes into the step-8 checkpoint fail after 50 kB."""
    real = filesystem.FileSystem.create_stream

    @contextmanager
    def create_stream(self, path, mode):
        with real(self, path, mode) as stream:
            full = "w" in mode and ".step-000008.tmp" in str(path)
            yield FullDisk(stream, 50_000) if full else stream

    monkeypatch.setattr(filesystem.FileSystem, "create_stream", create_stream)


def fill_disk_at_rng_of_step_8(monkeypatch) -> None:
    real = checkpoint_module.atomic_write_bytes

    def write(path, data):
        if ".step-000008.tmp" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(checkpoint_module, "atomic_write_bytes", write)


@pytest.mark.parametrize("fill", [fill_disk_at_step_8, fill_disk_at_rng_of_step_8])
def test_e_a_full_disk_while_saving_is_one_line_and_keeps_the_previous_checkpoint(
    fill, token_data, runs, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    fill(monkeypatch)
    result = cli("pretrain", "--data", token_data, "--out", out, "-q", *TINY, *CONFIG)
    checkpoints = out / "checkpoints"
    one_line_error(result, f"no space left on device ({checkpoints / 'step-000008'})")
    assert not list(checkpoints.glob(".step-*.tmp"))
    assert [step for step, _ in complete_checkpoints(checkpoints)] == [4]
    assert verify_checkpoint(checkpoints / "step-000004").step == 4

    monkeypatch.undo()
    assert resume(token_data, out).start_step == 4
    assert losses(out) == losses(runs["whole"])


def test_e_torch_reporting_a_short_write_reads_as_a_full_disk(tmp_path):
    failed = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 12")
    wrapped = CheckpointException("write", {0: (failed, None)})
    message = save_failure(wrapped, tmp_path / "step-000008")
    assert message.startswith(f"no space left on device ({tmp_path / 'step-000008'})")
    other = save_failure(PermissionError(13, "Permission denied", "x"), tmp_path / "step-000008")
    assert other.endswith("step-000008: Permission denied (x)")


FAILING_RANK = """
import os, sys
from pathlib import Path
import pytest
from llm_pretrain.train.runtime import TrainError
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import tiny_config
from tests.train.test_checkpoint_damage import fill_disk_at_rng_of_step_8, fill_disk_at_step_8

data, out, where, *overrides = sys.argv[1:]
if os.environ["RANK"] == "1":
    fill = fill_disk_at_step_8 if where == "distcp" else fill_disk_at_rng_of_step_8
    fill(pytest.MonkeyPatch())
try:
    pretrain(tiny_config(*overrides), Path(data), Path(out), False, False)
except TrainError as exc:
    print(f"rank {os.environ['RANK']}: {exc}", file=sys.stderr)
    sys.exit(1)
"""


@pytest.mark.parametrize("where", ["distcp", "rng"])
def test_e_a_full_disk_on_one_of_two_processes_stops_both_without_a_hang(
    where, token_data, tmp_path
):
    """Only rank 1's writes fail (inside DCP, or its RNG file after DCP): both processes stop
    with the same error instead of one waiting for the other at a barrier."""
    script = tmp_path / "fail_on_rank_1.py"
    script.write_text(FAILING_RANK)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node=2", str(script), str(token_data), str(out), where, *CONFIG]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode != 0
    for rank in (0, 1):
        assert f"rank {rank}: no space left on device" in done.stderr, done.stderr[-3000:]
    checkpoints = out / "checkpoints"
    assert not list(checkpoints.glob(".step-*.tmp"))
    assert [step for step, _ in complete_checkpoints(checkpoints)] == [4]
    assert verify_checkpoint(checkpoints / "step-000004").world_size == 2
