"""The Hugging Face mapping both ways: transformers builds the same parameters from the config
we write, and names and config fields come back as they went."""

from __future__ import annotations

import pytest
import torch
import transformers

from llm_pretrain.train.hf_mapping import (
    from_hf_config,
    from_hf_weights,
    to_hf_config,
    to_hf_weights,
    unsupported,
)
from llm_pretrain.train.model import ModelConfig, Transformer

SHAPES = {
    "plain": {},
    "gqa": {"n_kv_heads": 2},
    "tied": {"tie_embeddings": True, "rope_theta": 500000.0},
    "ffn": {"ffn_dim": 96, "norm_eps": 1e-6, "init_std": 0.01},
}


def model_config(shape: str) -> ModelConfig:
    return ModelConfig(
        vocab_size=300, dim=32, n_layers=2, n_heads=4, max_seq_len=64, **SHAPES[shape]
    )


def state_of(config: ModelConfig) -> dict[str, torch.Tensor]:
    with torch.device("meta"):  # shapes only
        return Transformer(config).state_dict()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_transformers_builds_our_parameters_from_our_config(shape):
    config = model_config(shape)
    ours = to_hf_weights(state_of(config), config)
    hf_config = transformers.LlamaConfig.from_dict(to_hf_config(config, 299, "fp32"))
    with torch.device("meta"):
        theirs = transformers.LlamaForCausalLM(hf_config).state_dict()
    if config.tie_embeddings:  # in transformers' state dict, not in its saved files
        assert "lm_head.weight" not in ours
        theirs.pop("lm_head.weight")
    assert {name: tuple(t.shape) for name, t in ours.items()} == {
        name: tuple(t.shape) for name, t in theirs.items()
    }


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_names_and_config_come_back_as_they_went(shape):
    config = model_config(shape)
    state = state_of(config)
    exported = to_hf_weights(state, config)
    exported["model.rotary_emb.inv_freq"] = torch.zeros(4)  # older transformers saved it
    back = from_hf_weights(exported, config)
    assert list(back) == [name for name in state if name in back] and set(back) == set(state)
    assert all(back[name] is state[name] for name in exported if name in state)
    if config.tie_embeddings:
        assert back["lm_head.weight"] is back["model.embed_tokens.weight"]

    hf = to_hf_config(config, None, "bf16")
    assert unsupported(hf) == []
    resolved = config.model_copy(
        update={"n_kv_heads": config.kv_heads, "ffn_dim": config.hidden_dim}
    )
    assert from_hf_config(hf) == resolved
    assert from_hf_config({**hf, "rope_parameters": None}).rope_theta == config.rope_theta
