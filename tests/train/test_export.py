"""Export to Hugging Face: transformers loads the folder and gives our logits and our ids."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from click.testing import CliRunner
from safetensors import safe_open
from tokenizers import Tokenizer

from llm_pretrain.cli_train import train
from llm_pretrain.train.export import export, load_model
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import tiny_config

SHAPES = {
    "plain": [],
    "gqa": ["model.n_kv_heads=2"],
    "tied": ["model.tie_embeddings=true", "model.rope_theta=500000.0"],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_transformers_gives_our_logits_and_ids(token_data, tmp_path, shape):
    config = tiny_config("max_steps=2", *SHAPES[shape])
    pretrain(config, token_data, tmp_path / "run", show_progress=False)
    result = export(tmp_path / "run", tmp_path / "hf", dtype="fp32")
    assert result["step"] == 2

    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    ours, _ = load_model(tmp_path / "run")
    assert type(hf).__name__ == "LlamaForCausalLM"
    assert ours.parameter_count() == hf.num_parameters()
    ids = torch.randint(0, 300, (2, 40))
    with torch.no_grad():
        assert (ours(ids) - hf(ids).logits).abs().max().item() <= 1e-4

    text = "The old bridge near the coast was repaired in 1987 <|endoftext|> again."
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    reference = Tokenizer.from_file(str(token_data / "tokenizer.json"))
    assert theirs.encode(text) == reference.encode(text).ids
    hf_config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert hf_config["eos_token_id"] == theirs.eos_token_id == 299


def test_bf16_and_sharded_export_hold_no_pickle(token_data, tmp_path):
    pretrain(tiny_config("max_steps=1"), token_data, tmp_path / "run", show_progress=False)
    result = export(tmp_path / "run", tmp_path / "hf", dtype="bf16", max_shard_bytes=20_000)
    assert len(result["weights"]) > 1
    names = {path.name for path in (tmp_path / "hf").iterdir()}
    assert all(name.endswith((".safetensors", ".json")) for name in names), names
    assert "model.safetensors.index.json" in names
    with safe_open(str(tmp_path / "hf" / result["weights"][0]), "pt") as shard:
        assert shard.get_tensor(next(iter(shard.keys()))).dtype == torch.bfloat16

    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32)
    ours, _ = load_model(tmp_path / "run")
    ids = torch.randint(0, 300, (1, 16))
    with torch.no_grad():  # bf16 weights: equal to ours rounded to bf16, so only close
        assert torch.allclose(ours(ids), hf(ids).logits, atol=0.1)


def test_export_command(token_data, tmp_path):
    pretrain(tiny_config("max_steps=1"), token_data, tmp_path / "run", show_progress=False)
    runner = CliRunner()
    out = str(tmp_path / "hf")
    done = runner.invoke(train, ["export", "--checkpoint", str(tmp_path / "run"), "-o", out])
    assert done.exit_code == 0, done.output
    assert "weights       model.safetensors" in done.output
    missing = runner.invoke(train, ["export", "--checkpoint", str(tmp_path), "-o", out])
    assert missing.exit_code == 1 and "neither a checkpoint nor a run folder" in missing.output
