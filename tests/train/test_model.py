"""The model: shapes, causality, rotary embeddings against the formula, learning, and the same
logits as Hugging Face `LlamaForCausalLM` given our state dict unchanged."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import transformers
import yaml

from llm_pretrain.configbase import ConfigError
from llm_pretrain.train.model import ModelConfig, Transformer, apply_rotary, rotary_tables

TINY = {"vocab_size": 97, "dim": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 64}


def tiny(**changes) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig(**{**TINY, **changes}))


def test_shapes_and_parameter_counts():
    model = tiny(n_kv_heads=2)
    ids = torch.randint(0, 97, (3, 10))
    assert model(ids).shape == (3, 10, 97)
    assert model.matmul_parameter_count() == model.parameter_count() - 97 * 32
    tied = tiny(tie_embeddings=True)
    # tied: no output matrix, and full-size k and v (2 layers x 2 x 32 x 16 more)
    assert tied.parameter_count() == model.parameter_count() - 97 * 32 + 2 * 2 * 32 * 16
    assert tied.matmul_parameter_count() == tied.parameter_count()


@pytest.mark.parametrize("changes", [{}, {"n_kv_heads": 1}, {"qk_norm": True}])
def test_a_future_token_never_changes_an_earlier_logit(changes):
    model = tiny(**changes).eval()
    ids = torch.randint(0, 97, (2, 16))
    changed = ids.clone()
    changed[:, 9:] = (changed[:, 9:] + 1) % 97
    with torch.no_grad():
        before, after = model(ids), model(changed)
    assert torch.allclose(before[:, :9], after[:, :9], atol=1e-6)
    assert not torch.allclose(before[:, 9:], after[:, 9:])


def test_rotary_embedding_equals_the_formula():
    """Dimensions i and i + d/2 rotate together by position * theta^(-2i/d)."""
    head_dim, theta = 8, 500.0
    cos, sin = rotary_tables(head_dim, 12, theta)
    x = torch.randn(1, 1, 12, head_dim, dtype=torch.float64)
    out = apply_rotary(x, cos.double(), sin.double())
    for position in range(12):
        for i in range(head_dim // 2):
            angle = position * theta ** (-2 * i / head_dim)
            a, b = x[0, 0, position, i].item(), x[0, 0, position, i + head_dim // 2].item()
            assert out[0, 0, position, i].item() == pytest.approx(
                a * math.cos(angle) - b * math.sin(angle), abs=1e-6
            )
            assert out[0, 0, position, i + head_dim // 2].item() == pytest.approx(
                b * math.cos(angle) + a * math.sin(angle), abs=1e-6
            )


def test_a_tiny_model_overfits_a_tiny_batch():
    model = tiny()
    ids = torch.randint(0, 97, (4, 17), generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(150):
        logits = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 97), ids[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_depth_scaled_init():
    model = tiny(n_layers=8, dim=256, n_heads=4)
    block = model.model.layers[0]
    assert block.self_attn.q_proj.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert block.mlp.down_proj.weight.std().item() == pytest.approx(0.02 / 4, rel=0.05)


def test_bad_shapes_are_config_errors():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        ModelConfig(**{**TINY, "n_heads": 5})
    with pytest.raises(ValueError, match="n_kv_heads"):
        ModelConfig(**{**TINY, "n_kv_heads": 3})
    with pytest.raises(ValueError, match="must be even"):
        ModelConfig(**{**TINY, "dim": 36})  # head size 9
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    "changes", [{}, {"n_kv_heads": 2}, {"tie_embeddings": True}, {"rope_theta": 500000.0}]
)
def test_llama_for_causal_lm_gives_our_logits(changes):
    model = tiny(**changes).eval()
    config = model.config
    hf_config = transformers.LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.dim,
        intermediate_size=config.hidden_dim,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.kv_heads,
        max_position_embeddings=config.max_seq_len,
        rope_theta=config.rope_theta,
        rms_norm_eps=config.norm_eps,
        tie_word_embeddings=config.tie_embeddings,
    )
    hf = transformers.LlamaForCausalLM(hf_config).eval()
    hf.load_state_dict(model.state_dict(), strict=True)
    ids = torch.randint(0, 97, (2, 20))
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    assert (ours - theirs).abs().max().item() <= 1e-4


@pytest.mark.parametrize(
    ("name", "millions"), [("tiny", 5.2), ("125M", 135.3), ("350M", 337.7), ("1B", 1040.3)]
)
def test_model_configs_load_with_the_sizes_their_comments_give(name, millions):
    """The sizes with a 32k vocabulary (the configs leave vocab_size to the tokenizer)."""
    path = Path(__file__).resolve().parents[2] / "configs" / "model" / f"{name}.yaml"
    config = ModelConfig.model_validate({**yaml.safe_load(path.read_text()), "vocab_size": 32768})
    with torch.device("meta"):
        model = Transformer(config)
    assert model.parameter_count() / 1e6 == pytest.approx(millions, abs=0.1)
