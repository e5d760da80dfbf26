"""Generation: the KV cache changes nothing, the sampling knobs do what they say, and the
command samples from a run folder and from an exported folder."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from llm_pretrain.cli_train import train
from llm_pretrain.train.export import export, load_model
from llm_pretrain.train.hf_import import load_exported
from llm_pretrain.train.model import KVCache, ModelConfig, Transformer
from llm_pretrain.train.sample import generate
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import tiny_config

SMALL = {"vocab_size": 97, "dim": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 64}


@pytest.fixture(params=[{}, {"n_kv_heads": 2, "tie_embeddings": True}], ids=["plain", "gqa"])
def model(request) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig(**SMALL, **request.param)).eval()


def test_cached_logits_equal_the_full_forward(model):
    ids = torch.randint(0, 97, (1, 20))
    cache = KVCache(model.config.n_layers)
    with torch.no_grad():
        full = model(ids)
        steps = [model(ids[:, :8], cache)]
        steps += [model(ids[:, t : t + 1], cache) for t in range(8, 20)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_greedy_with_the_cache_equals_greedy_without(model):
    prompt = [5, 17, 3]
    cached = list(generate(model, prompt, 40, use_cache=True))
    recomputed = list(generate(model, prompt, 40, use_cache=False))
    assert cached == recomputed and len(cached) == 40


def test_sampling_knobs(model):
    prompt = [5, 17, 3]
    greedy = list(generate(model, prompt, 20))
    assert list(generate(model, prompt, 20, temperature=1.0, top_k=1, seed=3)) == greedy
    assert list(generate(model, prompt, 20, temperature=1.0, top_p=1e-6, seed=3)) == greedy
    first = list(generate(model, prompt, 20, temperature=1.0, seed=3))
    assert list(generate(model, prompt, 20, temperature=1.0, seed=3)) == first
    assert list(generate(model, prompt, 20, temperature=1.0, seed=4)) != first
    assert list(generate(model, prompt, 20, stop_id=greedy[0])) == []
    assert len(list(generate(model, prompt, 1000))) == 64 - 3  # stops at max_seq_len


def test_sample_command_from_a_run_and_from_its_export(token_data, tmp_path):
    pretrain(tiny_config("max_steps=2"), token_data, tmp_path / "run", show_progress=False)
    export(tmp_path / "run", tmp_path / "hf", dtype="fp32")
    ours, _ = load_model(tmp_path / "run")
    ids = torch.randint(0, 300, (1, 12))
    with torch.no_grad():
        assert torch.allclose(load_exported(tmp_path / "hf")(ids), ours(ids), atol=1e-5)

    runner = CliRunner()
    outputs = []
    for source in ("run", "hf"):
        args = ["sample", "--checkpoint", str(tmp_path / source), "--prompt", "The old"]
        done = runner.invoke(
            train, [*args, "--temperature", "0", "--max-new-tokens", "8", "--json"]
        )
        assert done.exit_code == 0, done.output
        outputs.append(json.loads(done.output))
    assert outputs[0] == outputs[1] and outputs[0][0]["prompt"] == "The old"
    empty = runner.invoke(train, ["sample", "--checkpoint", str(tmp_path / "hf")])
    assert empty.exit_code == 2 and "give --prompt" in empty.output
