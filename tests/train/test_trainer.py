"""The training loop in one process: it learns, checkpoints, resumes exactly, stops on NaN, and
refuses configurations that cannot work."""

from __future__ import annotations

import json
import math

import pytest

from llm_pretrain.train import model as model_module
from llm_pretrain.train.checkpoint import complete_checkpoints, read_state
from llm_pretrain.train.metrics import read_metrics
from llm_pretrain.train.runtime import TrainError
from llm_pretrain.train.trainer import Diverged, pretrain
from tests.train.helpers import losses, tiny_config, val_losses


def test_a_tiny_model_learns_and_writes_checkpoints_metrics_and_summary(token_data, tmp_path):
    config = tiny_config("max_steps=80", "checkpoint.keep_last=2", "eval.every_steps=40")
    result = pretrain(config, token_data, tmp_path / "run", show_progress=False)

    assert result.steps == 80 and result.tokens == 80 * 512
    assert result.val_loss < 0.75 * result.unigram_loss, (result.val_loss, result.unigram_loss)
    steps = [step for step, _ in complete_checkpoints(tmp_path / "run" / "checkpoints")]
    assert steps == [76, 80]  # every 4 steps, the last 2 kept
    state = read_state(tmp_path / "run" / "checkpoints" / "step-000080")
    assert state["step"] == 80 and state["position"] == 80 * 16
    assert state["config"]["model"]["vocab_size"] == 300  # from the data's tokenizer
    checkpoint = tmp_path / "run" / "checkpoints" / "step-000080"
    assert (checkpoint / "tokenizer.json").is_file() and (checkpoint / "model.json").is_file()

    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    train = [r for r in records if "loss" in r]
    assert [r["step"] for r in train] == list(range(1, 81))
    assert set(train[0]) >= {"loss", "lr", "grad_norm", "tokens_per_s", "mfu", "peak_mem_gib"}
    assert train[0]["mfu"] is None  # a CPU has no entry in the peak table
    assert sorted(val_losses(tmp_path / "run")) == [40, 80]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["val_loss"] == pytest.approx(result.val_loss)
    assert summary["val_ppl"] == pytest.approx(math.exp(result.val_loss))


def test_stop_and_resume_gives_the_losses_of_an_uninterrupted_run(token_data, tmp_path):
    config = tiny_config()
    pretrain(config, token_data, tmp_path / "whole", show_progress=False)

    stopped = pretrain(config, token_data, tmp_path / "part", False, False, stop_after_steps=7)
    assert stopped.steps == 7 and stopped.checkpoint.name == "step-000007"
    checkpoints = tmp_path / "part" / "checkpoints"
    (checkpoints / ".step-000008.tmp").mkdir()  # a save that was cut short
    (checkpoints / ".step-000008.tmp" / ".metadata").write_bytes(b"garbage")
    (checkpoints / "step-000009").mkdir()  # renamed but without its state: not complete
    resumed = pretrain(config, token_data, tmp_path / "part", resume=True, show_progress=False)

    assert resumed.start_step == 7
    assert losses(tmp_path / "part") == losses(tmp_path / "whole")
    assert val_losses(tmp_path / "part") == val_losses(tmp_path / "whole")
    assert not (checkpoints / ".step-000008.tmp").exists()


def test_resume_of_a_finished_run_does_nothing(token_data, tmp_path):
    config = tiny_config("max_steps=4")
    pretrain(config, token_data, tmp_path / "run", show_progress=False)
    again = pretrain(config, token_data, tmp_path / "run", show_progress=False)
    assert again.start_step == again.steps == 4
    assert sorted(losses(tmp_path / "run")) == [1, 2, 3, 4]


def test_gradient_accumulation_gives_the_same_steps(token_data, tmp_path):
    """16 rows per step as 2 x 8 or 4 x 4: the same loss, normalized by the step's tokens."""
    pretrain(tiny_config("max_steps=4"), token_data, tmp_path / "two", show_progress=False)
    four = tiny_config("max_steps=4", "batch.micro_batch_rows=4")
    pretrain(four, token_data, tmp_path / "four", show_progress=False)
    for step, loss in losses(tmp_path / "two").items():
        assert losses(tmp_path / "four")[step] == pytest.approx(loss, rel=1e-5)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(token_data, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = model_module.logits_loss_sum

    def poisoned(logits, targets, mask):
        calls["n"] += 1
        loss = real(logits, targets, mask)
        return loss * float("nan") if calls["n"] > 2 * 5 else loss  # step 6 (2 micro-batches)

    monkeypatch.setattr(model_module, "logits_loss_sum", poisoned)
    with pytest.raises(Diverged, match=r"diverged at step 6: loss nan.*step-000004"):
        pretrain(tiny_config(), token_data, tmp_path / "run", show_progress=False)
    steps = [step for step, _ in complete_checkpoints(tmp_path / "run" / "checkpoints")]
    assert steps == [4]


def test_settings_that_cannot_work_are_clear_errors(token_data, tmp_path):
    with pytest.raises(TrainError, match="smaller than the tokenizer's 300"):
        pretrain(tiny_config("model.vocab_size=200"), token_data, tmp_path / "a", False, False)
    with pytest.raises(TrainError, match="not a multiple of seq_len 32 x"):
        pretrain(tiny_config("batch.global_tokens=500"), token_data, tmp_path / "b", False, False)
    with pytest.raises(TrainError, match="more than model.max_seq_len 16"):
        pretrain(tiny_config("model.max_seq_len=16"), token_data, tmp_path / "c", False, False)
    with pytest.raises(TrainError, match="training reads the output of llm-data tokenize"):
        pretrain(tiny_config(), token_data.parent / "docs", tmp_path / "d", False, False)
    with pytest.raises(TrainError, match="no complete checkpoint"):
        pretrain(tiny_config(), token_data, tmp_path / "e", resume=True, show_progress=False)


def test_resuming_another_model_is_refused(token_data, tmp_path):
    pretrain(tiny_config("max_steps=4"), token_data, tmp_path / "run", show_progress=False)
    with pytest.raises(TrainError, match="model differs from this config in n_layers"):
        pretrain(tiny_config("model.n_layers=3"), token_data, tmp_path / "run", False, False)


def test_tensorboard_events_are_written(token_data, tmp_path):
    config = tiny_config("max_steps=2", "log.tensorboard=true")
    pretrain(config, token_data, tmp_path / "run", show_progress=False)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_activation_checkpointing_gives_the_same_losses(token_data, tmp_path):
    pretrain(tiny_config("max_steps=3"), token_data, tmp_path / "plain", show_progress=False)
    recompute = tiny_config("max_steps=3", "runtime.activation_checkpointing=true")
    pretrain(recompute, token_data, tmp_path / "recompute", show_progress=False)
    for step, loss in losses(tmp_path / "plain").items():
        assert losses(tmp_path / "recompute")[step] == pytest.approx(loss, rel=1e-6)
