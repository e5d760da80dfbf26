"""Our model <-> Hugging Face `LlamaForCausalLM`, both ways: parameter names, config fields,
and the settings our model fixes.

Export (`export.py`) reads these tables from ours to theirs, import (`hf_import.py`) from
theirs to ours. No tensor is permuted or transposed either way: our `nn.Linear` weights are
stored (out, in) as transformers stores them, and our rotary embeddings use its half-split
layout (`model.py`). Our parameter names were chosen to be transformers', so the table of
names maps each to itself; it is the one place to change should they ever differ. What does
differ is that a tied output matrix is stored once, as the embedding, and that some
transformers versions saved a rotary buffer beside the weights, which our model recomputes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from llm_pretrain.train.model import ModelConfig
from llm_pretrain.train.runtime import TrainError

T = TypeVar("T")

EMBEDDING = "model.embed_tokens.weight"
OUTPUT = "lm_head.weight"  # not stored when tied: transformers ties it to the embedding
LAYER = "{}"  # stands for a block's number in NAMES
# Buffers some transformers versions saved beside the weights; our model recomputes them.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)

# Our parameter name -> LlamaForCausalLM's.
NAMES: dict[str, str] = {
    EMBEDDING: "model.embed_tokens.weight",
    "model.layers.{}.input_layernorm.weight": "model.layers.{}.input_layernorm.weight",
    "model.layers.{}.self_attn.q_proj.weight": "model.layers.{}.self_attn.q_proj.weight",
    "model.layers.{}.self_attn.k_proj.weight": "model.layers.{}.self_attn.k_proj.weight",
    "model.layers.{}.self_attn.v_proj.weight": "model.layers.{}.self_attn.v_proj.weight",
    "model.layers.{}.self_attn.o_proj.weight": "model.layers.{}.self_attn.o_proj.weight",
    "model.layers.{}.post_attention_layernorm.weight": (
        "model.layers.{}.post_attention_layernorm.weight"
    ),
    "model.layers.{}.mlp.gate_proj.weight": "model.layers.{}.mlp.gate_proj.weight",
    "model.layers.{}.mlp.up_proj.weight": "model.layers.{}.mlp.up_proj.weight",
    "model.layers.{}.mlp.down_proj.weight": "model.layers.{}.mlp.down_proj.weight",
    "model.norm.weight": "model.norm.weight",
    OUTPUT: "lm_head.weight",
}
_HF_NAMES = {theirs: ours for ours, theirs in NAMES.items()}

_REQUIRED = object()


@dataclass(frozen=True)
class Setting:
    """A field of our ModelConfig and the LlamaForCausalLM config key that holds it."""

    ours: str
    theirs: str
    exported: str | None = None  # the ModelConfig property written (the field with its default)
    default: Any = _REQUIRED  # read when the key is missing; without one the key is required
    convert: Callable[[Any], Any] | None = None  # applied to the value read

    def write(self, config: ModelConfig) -> Any:
        """The value transformers gets: the field as our model resolves it."""
        return getattr(config, self.exported or self.ours)

    def read(self, hf: dict[str, Any]) -> Any:
        """The field's value from a config.json (KeyError: the key is required and missing)."""
        value = hf[self.theirs] if self.default is _REQUIRED else hf.get(self.theirs, self.default)
        return self.convert(value) if self.convert else value


# In ModelConfig's order, which is the order they are read in (the first missing is named).
SETTINGS: tuple[Setting, ...] = (
    Setting("vocab_size", "vocab_size"),
    Setting("dim", "hidden_size"),
    Setting("n_layers", "num_hidden_layers"),
    Setting("n_heads", "num_attention_heads"),
    Setting("n_kv_heads", "num_key_value_heads", exported="kv_heads", default=None),
    Setting("ffn_dim", "intermediate_size", exported="hidden_dim"),
    Setting("max_seq_len", "max_position_embeddings"),
    # transformers < 5 reads rope_theta, 5 reads rope_parameters: both are written.
    Setting("rope_theta", "rope_theta", default=10000.0, convert=float),
    Setting("norm_eps", "rms_norm_eps", convert=float),
    Setting("tie_embeddings", "tie_word_embeddings", default=False, convert=bool),
    Setting("init_std", "initializer_range", default=0.02, convert=float),
)

# What our model computes and has no setting for: written on export. On import, the ones that
# change what a model computes are refused when different (`unsupported`: activation, biases,
# rope type); attention dropout acts only in training and is not checked.
FIXED: dict[str, Any] = {
    "hidden_act": "silu",
    "rope_scaling": None,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "mlp_bias": False,
}

DTYPE_NAMES = {"bf16": "bfloat16", "fp32": "float32"}


def _rename(name: str, table: dict[str, str]) -> str:
    """`name` through `table`, whose keys stand for every block's number by `{}`; a name not
    in the table stays as it is (what import then reports as unexpected)."""
    parts = name.split(".")
    if len(parts) > 3 and parts[:2] == ["model", "layers"] and parts[2].isdigit():
        key = ".".join([*parts[:2], LAYER, *parts[3:]])
        return table[key].format(parts[2]) if key in table else name
    return table.get(name, name)


def to_hf_weights(state: dict[str, T], config: ModelConfig) -> dict[str, T]:
    """Our state dict by transformers' names, in its order; a tied output matrix left out."""
    return {
        _rename(name, NAMES): value
        for name, value in state.items()
        if not (config.tie_embeddings and name == OUTPUT)
    }


def from_hf_weights(weights: dict[str, T], config: ModelConfig) -> dict[str, T]:
    """transformers' weights by our names, buffers we recompute left out, a tied output filled."""
    ours = {
        _rename(name, _HF_NAMES): value
        for name, value in weights.items()
        if not name.endswith(IGNORED_SUFFIXES)
    }
    if config.tie_embeddings and EMBEDDING in ours:
        ours.setdefault(OUTPUT, ours[EMBEDDING])
    return ours


def to_hf_config(config: ModelConfig, eot_id: int | None, dtype: str) -> dict[str, Any]:
    """config.json of `LlamaForCausalLM` for our model, weights in `dtype` (bf16, fp32)."""
    if config.qk_norm:
        raise TrainError("a model with qk_norm has no LlamaForCausalLM equivalent to export to")
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **{setting.theirs: setting.write(config) for setting in SETTINGS},
        "head_dim": config.head_dim,
        "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta},
        **FIXED,
        "bos_token_id": eot_id,
        "eos_token_id": eot_id,
        "torch_dtype": DTYPE_NAMES[dtype],
        "use_cache": True,
    }


def unsupported(hf: dict[str, Any]) -> list[str]:
    """The settings of a LlamaForCausalLM config that make it compute what ours does not."""
    problems = []
    if hf.get("hidden_act", "silu") != "silu":
        problems.append(f"hidden_act {hf['hidden_act']} (ours: silu)")
    for key in ("attention_bias", "mlp_bias"):
        if hf.get(key):
            problems.append(f"{key} true (ours: no biases)")
    rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        problems.append(f"rope type {rope.get('rope_type', rope.get('type'))} (ours: default)")
    head_dim = hf.get("head_dim")
    if head_dim is not None and head_dim * hf["num_attention_heads"] != hf["hidden_size"]:
        problems.append(f"head_dim {head_dim} x heads != hidden_size {hf['hidden_size']}")
    return problems


def from_hf_config(hf: dict[str, Any]) -> ModelConfig:
    """Our model config from a LlamaForCausalLM config.json (KeyError: a required key is
    missing; TypeError, ValueError: a value does not fit)."""
    rope = hf.get("rope_parameters") or {}
    if "rope_theta" in rope:  # transformers 5 keeps it there, before 5 at the top level
        hf = {**hf, "rope_theta": rope["rope_theta"]}
    return ModelConfig(**{setting.ours: setting.read(hf) for setting in SETTINGS})
