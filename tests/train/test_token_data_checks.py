"""Token data checked when training or evaluation opens it: ids within the vocabulary (C) and
shards that are what the manifest lists (D)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from llm_pretrain.cli_train import train
from llm_pretrain.tokenizer.shards import PackedReader, write_shard
from llm_pretrain.train.runtime import TrainError
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import tiny_config

TRAIN_SHARD = "train/shard-00000.arrow"
VAL_SHARD = "val/shard-00000.arrow"


@pytest.fixture
def data(token_data, tmp_path) -> Path:
    shutil.copytree(token_data, tmp_path / "tokens")
    return tmp_path / "tokens"


def edit_manifest(data: Path, edit: Callable[[dict], None]) -> None:
    path = data / "_manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def train_entry(manifest: dict) -> dict:
    return manifest["splits"]["train"]["shards"][0]


def rewrite_train_shard(data: Path, change: Callable[[np.ndarray], None]) -> None:
    """Change the shard's ids and record it in the manifest as tokenize would have."""
    reader = PackedReader([data / TRAIN_SHARD])
    rows = np.stack([ids for ids, _ in reader])
    lengths = np.array([length for _, length in reader], dtype=np.int32)
    change(rows)
    info = write_shard(data / TRAIN_SHARD, rows, lengths)
    edit_manifest(data, lambda manifest: train_entry(manifest).update(info, file=TRAIN_SHARD))


def refused(data: Path, tmp_path: Path, words: str) -> None:
    with pytest.raises(TrainError) as error:
        pretrain(tiny_config(), data, tmp_path / "run", show_progress=False)
    message = str(error.value)
    assert message.startswith(f"token data {data}: ") and words in message, message
    assert "\n" not in message
    assert not (tmp_path / "run" / "checkpoints").exists()


# -- C: ids beyond the vocabulary -----------------------------------------------------------


def test_c_tokenize_records_the_largest_id_of_each_shard(token_data):
    manifest = json.loads((token_data / "_manifest.json").read_text())
    for split in manifest["splits"].values():
        for shard in split["shards"]:
            reader = PackedReader([token_data / shard["file"]])
            assert shard["max_id"] == max(int(ids.max()) for ids, _ in reader)


def test_c_ids_beyond_the_vocabulary_are_refused_by_the_recorded_max_id(data, tmp_path):
    rewrite_train_shard(data, lambda rows: rows.__setitem__((700, 3), 300))
    refused(data, tmp_path, f"{TRAIN_SHARD} holds ids up to 300, the vocabulary has 300")


def test_c_without_a_recorded_max_id_sampled_rows_are_checked(data, tmp_path):
    rewrite_train_shard(data, lambda rows: rows.__setitem__((-1, 0), 301))  # the last row
    edit_manifest(data, lambda manifest: train_entry(manifest).pop("max_id"))
    last = len(PackedReader([data / TRAIN_SHARD])) - 1
    refused(data, tmp_path, f"{TRAIN_SHARD} row {last} holds id 301, the vocabulary has 300")


# -- D: shards against their manifest -------------------------------------------------------


def test_d_a_shard_copied_over_another_is_refused(data, tmp_path):
    sizes = [(data / name).stat().st_size for name in (VAL_SHARD, TRAIN_SHARD)]
    shutil.copyfile(data / VAL_SHARD, data / TRAIN_SHARD)
    refused(data, tmp_path, f"{TRAIN_SHARD} is {sizes[0]:,} bytes, expected {sizes[1]:,}")


def test_d_a_zeroed_shard_is_refused(data, tmp_path):
    size = (data / TRAIN_SHARD).stat().st_size
    (data / TRAIN_SHARD).write_bytes(bytes(size))
    refused(data, tmp_path, f"{TRAIN_SHARD} does not match its recorded sha256")


def test_d_a_missing_shard_is_refused(data, tmp_path):
    (data / VAL_SHARD).unlink()
    refused(data, tmp_path, f"{VAL_SHARD} is missing")


def test_d_an_edited_manifest_sha256_is_refused(data, tmp_path):
    edit_manifest(data, lambda manifest: train_entry(manifest).update(sha256="0" * 64))
    refused(data, tmp_path, f"{TRAIN_SHARD} does not match its recorded sha256")


def test_d_an_edited_manifest_row_count_is_refused(data, tmp_path):
    rows = len(PackedReader([data / TRAIN_SHARD]))
    edit_manifest(data, lambda manifest: train_entry(manifest).update(rows=rows - 1))
    refused(data, tmp_path, f"{TRAIN_SHARD} holds {rows:,} rows, _manifest.json says {rows - 1:,}")


def test_d_eval_refuses_a_damaged_shard(data, tmp_path):
    pretrain(tiny_config("max_steps=1"), data, tmp_path / "run", show_progress=False)
    (data / VAL_SHARD).write_bytes(bytes((data / VAL_SHARD).stat().st_size))
    args = ["eval", "-q", "--checkpoint", str(tmp_path / "run"), "--data", str(data)]
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 1, result.output
    assert f"token data {data}: {VAL_SHARD} does not match its recorded sha256" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_reading_token_data_imports_no_pandas(token_data):
    """pyarrow's to_numpy imports pandas on first use, and an import swallows a Ctrl-C that
    lands in it: the trainer then ran on to the end and exited 0."""
    code = (
        "import sys; from pathlib import Path\n"
        "from llm_pretrain.train.data import open_token_data\n"
        f"data = open_token_data(Path({str(token_data)!r}))\n"
        "rows = data.train[0]\n"
        "print('pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
