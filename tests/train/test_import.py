"""Import: train -> export -> transformers -> `pretrain --init-from` -> the same logits."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import transformers
from click.testing import CliRunner

from llm_pretrain.cli_train import train
from llm_pretrain.train.eval_run import evaluate_checkpoint
from llm_pretrain.train.export import export, load_model
from llm_pretrain.train.hf_import import load_exported
from llm_pretrain.train.mixture import open_mixture
from llm_pretrain.train.runtime import TrainError, start_runtime, stop_runtime
from llm_pretrain.train.trainer import Trainer, pretrain
from tests.train.helpers import TINY, losses, tiny_config

IDS = torch.randint(0, 300, (2, 30), generator=torch.Generator().manual_seed(0))


def trainer_logits(token_data: Path, out: Path, init_from: Path) -> torch.Tensor:
    """The logits of the sharded model the trainer builds from `init_from`, before any step."""
    config = tiny_config()
    runtime = start_runtime(config.runtime)
    try:
        trainer = Trainer(config, open_mixture(token_data), out, runtime, False, init_from)
        with torch.no_grad():
            return trainer.model(IDS)
    finally:
        stop_runtime()


@pytest.fixture(scope="module")
def exported(token_data, tmp_path_factory) -> tuple[Path, Path]:
    """A tiny GQA run of 12 steps and its fp32 export: (run, hf folder)."""
    root = tmp_path_factory.mktemp("import")
    config = tiny_config("model.n_kv_heads=2")
    pretrain(config, token_data, root / "run", show_progress=False)
    export(root / "run", root / "hf", dtype="fp32")
    return root / "run", root / "hf"


def test_round_trip_gives_the_same_logits(token_data, exported, tmp_path):
    run, hf_dir = exported
    ours, _ = load_model(run)
    hf = transformers.AutoModelForCausalLM.from_pretrained(hf_dir)
    with torch.no_grad():
        reference = ours(IDS)
        assert (hf(IDS).logits - reference).abs().max().item() <= 1e-4
        assert (load_exported(hf_dir)(IDS) - reference).abs().max().item() == 0
    imported = trainer_logits(token_data, tmp_path / "next", hf_dir)
    assert (imported - reference).abs().max().item() <= 1e-5


def test_continued_pretraining_starts_where_the_export_ended(token_data, exported, tmp_path):
    run, hf_dir = exported
    config = tiny_config("max_steps=4", "model.n_layers=7")  # the folder's model wins
    result = pretrain(config, token_data, tmp_path / "next", False, False, None, hf_dir)
    before = evaluate_checkpoint(run, token_data, "val", max_rows=32, batch_rows=8)
    assert result.init_from == str(hf_dir.resolve())
    assert result.init_val_loss == pytest.approx(before["loss"], abs=1e-5)
    fresh = pretrain(tiny_config("max_steps=1"), token_data, tmp_path / "new", show_progress=False)
    assert losses(tmp_path / "next")[1] < fresh.losses[1] - 0.5  # trained, not random
    state = json.loads((result.checkpoint / "train_state.json").read_text())
    assert state["init_from"] == str(hf_dir.resolve())
    assert state["config"]["model"]["n_layers"] == 2

    # Started again (cron): the checkpoint continues, whether --init-from is given or not.
    again = pretrain(
        tiny_config("max_steps=6"), token_data, tmp_path / "next", False, False, None, hf_dir
    )
    assert again.start_step == 4 and again.init_val_loss is None
    with pytest.raises(TrainError, match=f"started with --init-from {hf_dir.resolve()}"):
        pretrain(tiny_config("max_steps=8"), token_data, tmp_path / "next", show_progress=False)


def test_a_model_saved_by_transformers_imports(token_data, tmp_path):
    config = transformers.LlamaConfig(
        vocab_size=320,  # padded past the tokenizer's 300: allowed
        hidden_size=32,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        max_position_embeddings=64,
        rope_theta=50000.0,
    )
    torch.manual_seed(0)
    hf = transformers.LlamaForCausalLM(config).eval()
    hf.save_pretrained(tmp_path / "hf")
    shutil.copyfile(token_data / "tokenizer.json", tmp_path / "hf" / "tokenizer.json")
    with torch.no_grad():
        expected = hf(IDS).logits
    imported = trainer_logits(token_data, tmp_path / "run", tmp_path / "hf")
    assert imported.shape == (2, 30, 320)
    assert (imported - expected).abs().max().item() <= 1e-4


def _edited(hf_dir: Path, into: Path, config: dict | None = None, vocab_swap: bool = False):
    shutil.copytree(hf_dir, into)
    if config:
        settings = json.loads((into / "config.json").read_text())
        (into / "config.json").write_text(json.dumps({**settings, **config}))
    if vocab_swap:
        tokenizer = json.loads((into / "tokenizer.json").read_text())
        vocab = tokenizer["model"]["vocab"]
        first, second = sorted(vocab, key=vocab.get)[100:102]
        vocab[first], vocab[second] = vocab[second], vocab[first]
        (into / "tokenizer.json").write_text(json.dumps(tokenizer))
    return into


def test_a_folder_that_does_not_fit_the_data_is_refused(token_data, exported, tmp_path):
    _, hf_dir = exported
    cases = {
        "fewer than the 300 tokens": _edited(hf_dir, tmp_path / "a", {"vocab_size": 200}),
        "2 of the data's 300 tokens have another id": _edited(
            hf_dir, tmp_path / "b", vocab_swap=True
        ),
        "attention_bias true": _edited(hf_dir, tmp_path / "c", {"attention_bias": True}),
        "rope type linear": _edited(
            hf_dir, tmp_path / "d", {"rope_parameters": {"rope_type": "linear", "factor": 2.0}}
        ),
        "is not a llama model": _edited(hf_dir, tmp_path / "e", {"model_type": "gpt2"}),
    }
    (tmp_path / "f").mkdir()
    shutil.copytree(hf_dir, tmp_path / "f", dirs_exist_ok=True)
    (tmp_path / "f" / "tokenizer.json").unlink()
    cases["has no tokenizer.json"] = tmp_path / "f"
    for name, message in [
        ("config.json", "config.json cannot be read"),
        ("model.safetensors", "not a readable safetensors file"),
        ("tokenizer.json", "not a readable tokenizer"),
    ]:
        cut = _edited(hf_dir, tmp_path / f"cut-{name}")
        (cut / name).write_bytes((hf_dir / name).read_bytes()[:100])  # a copy cut short
        cases[message] = cut
    for message, folder in cases.items():
        with pytest.raises(TrainError, match=message):
            pretrain(tiny_config(), token_data, tmp_path / "run", False, False, None, folder)
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert math.isfinite(load_exported(tmp_path / "b")(IDS).sum().item())  # it is a model


def test_init_from_on_the_command_line(token_data, exported, tmp_path):
    _, hf_dir = exported
    args = ["pretrain", "--data", str(token_data), "--out", str(tmp_path / "run")]
    args += ["--init-from", str(hf_dir), *TINY, "max_steps=2"]
    done = CliRunner().invoke(train, args)
    assert done.exit_code == 0, done.output
    assert f"init from     {hf_dir.resolve()} (val loss" in done.output


def test_a_folder_with_weights_that_are_not_finite_is_refused(token_data, exported, tmp_path):
    from safetensors.torch import load_file, save_file

    _, hf_dir = exported
    broken = _edited(hf_dir, tmp_path / "nan")
    weights = load_file(str(broken / "model.safetensors"))
    name = sorted(weights)[0]
    weights[name][0] = float("nan")
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(TrainError, match="holds NaN or infinite values"):
        pretrain(tiny_config(), token_data, tmp_path / "run", False, False, None, broken)
