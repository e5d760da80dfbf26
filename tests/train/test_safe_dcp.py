"""Loading a checkpoint never runs code hidden in it: the index and plain values are checked."""

from __future__ import annotations

import io
import pickle
import shutil

import pytest
import torch

from llm_pretrain.train.checkpoint import latest_checkpoint
from llm_pretrain.train.export import load_model
from llm_pretrain.train.runtime import TrainError
from llm_pretrain.train.safe_dcp import SafePlanner
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import record_files_again, tiny_config


class WritesAFile:
    """Unpickled, it would create `path`: the stand-in for any code an attacker runs."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def run(token_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("safe") / "run"
    pretrain(tiny_config("max_steps=2"), token_data, out, show_progress=False)
    return out


def test_a_checkpoint_with_code_in_its_index_is_refused(run, tmp_path):
    checkpoint = tmp_path / "step-000002"
    shutil.copytree(latest_checkpoint(run / "checkpoints"), checkpoint)
    marker = tmp_path / "ran"
    (checkpoint / ".metadata").write_bytes(pickle.dumps(WritesAFile(str(marker))))
    record_files_again(checkpoint)  # an attacker would
    with pytest.raises(TrainError, match="open, which is not part of a checkpoint index"):
        load_model(checkpoint)
    assert not marker.exists()

    (checkpoint / ".metadata").write_bytes(pickle.dumps({"a": 1})[:-3])
    record_files_again(checkpoint)
    with pytest.raises(TrainError, match="is not a readable checkpoint index"):
        load_model(checkpoint)


def test_a_genuine_checkpoint_loads_and_code_in_a_value_is_refused(run, tmp_path):
    model, state = load_model(run)  # the allow-list admits everything DCP writes
    assert state["step"] == 2 and model.parameter_count() > 0

    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    torch.save({"lr": 0.1, "hook": WritesAFile(str(marker))}, buffer)
    buffer.seek(0)
    read_item = type("Item", (), {"dest_index": type("Index", (), {"fqn": "optim.x"})()})()
    with pytest.raises(TrainError, match="optim.x is not plain data"):
        SafePlanner().load_bytes(read_item, buffer)
    assert not marker.exists()
