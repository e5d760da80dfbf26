"""A Llama-style decoder: RMSNorm, rotary attention (optionally grouped-query, QK-norm), SwiGLU.

Parameter names are those of Hugging Face `LlamaForCausalLM` (`model.layers.0.self_attn.q_proj.
weight`, ...), and rotary embeddings use its half-split layout (the first and second halves of
each head are the pair rotated together), so exporting is renaming nothing: the state dict is
already in that format.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn
from torch.utils.checkpoint import checkpoint

from llm_pretrain.configbase import Section
from llm_pretrain.train.chunked_loss import chunked_loss_sum, logits_loss_sum


class ModelConfig(Section):
    vocab_size: int | None = Field(
        None,
        ge=1,
        description="tokens: at least the tokenizer's vocabulary; empty: the tokenizer's, read "
        "from the training data's manifest",
    )
    dim: int = Field(768, ge=1, description="hidden size")
    n_layers: int = Field(12, ge=1, description="transformer blocks")
    n_heads: int = Field(12, ge=1, description="attention (query) heads")
    n_kv_heads: int | None = Field(
        None, ge=1, description="key/value heads (grouped-query attention); empty: n_heads"
    )
    ffn_dim: int | None = Field(
        None, ge=1, description="SwiGLU hidden size; empty: 8/3 dim rounded up to 256"
    )
    max_seq_len: int = Field(2048, ge=1, description="longest sequence (rotary table size)")
    rope_theta: float = Field(10000.0, gt=0, description="rotary embedding base")
    norm_eps: float = Field(1e-5, gt=0, description="RMSNorm epsilon")
    tie_embeddings: bool = Field(False, description="the output layer shares the embedding")
    qk_norm: bool = Field(False, description="RMSNorm on each head's queries and keys")
    init_std: float = Field(0.02, gt=0, description="std of the normal weight init")

    @model_validator(mode="after")
    def _heads_fit(self) -> ModelConfig:
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not a multiple of n_heads {self.n_heads}")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads")
        if self.head_dim % 2:
            raise ValueError("the head size (dim / n_heads) must be even for rotary embeddings")
        return self

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def hidden_dim(self) -> int:
        # Llama's rule: two thirds of 4 x dim (SwiGLU has three matrices), rounded up to 256.
        return self.ffn_dim or 256 * math.ceil(8 * self.dim / 3 / 256)


class RMSNorm(nn.Module):
    """Computed in float32 and cast back, as `LlamaRMSNorm` does (bf16 squares lose bits)."""

    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotary_tables(head_dim: int, length: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (length x head_dim) of the half-split layout: frequency i serves dimensions i
    and i + head_dim / 2."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (batch, heads, time, head_dim) by position: pairs (i, i + head_dim / 2)."""
    first, second = x.chunk(2, dim=-1)
    rotated = torch.cat([-second, first], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


class KVCache:
    """Keys and values of the positions seen so far, per layer, for generation."""

    def __init__(self, layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * layers
        self.values: list[torch.Tensor | None] = [None] * layers
        self.length = 0

    def extend(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        past_k, past_v = self.keys[layer], self.values[layer]
        if past_k is not None and past_v is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class Attention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.kv_heads = config.n_heads, config.kv_heads
        self.head_dim = config.head_dim
        self.q_proj = nn.Linear(config.dim, config.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.dim, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(config.dim, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(config.n_heads * self.head_dim, config.dim, bias=False)
        self.q_norm = RMSNorm(self.head_dim, config.norm_eps) if config.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, config.norm_eps) if config.qk_norm else None

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        batch, time, _ = x.shape
        q = self.q_proj(x).view(batch, time, self.n_heads, self.head_dim)
        k = self.k_proj(x).view(batch, time, self.kv_heads, self.head_dim)
        v = self.v_proj(x).view(batch, time, self.kv_heads, self.head_dim)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:
            k, v = cache.extend(layer, k, v)
        # With a cache, a single new position attends to every earlier one: no mask needed.
        out = F.scaled_dot_product_attention(
            q, k, v, is_causal=time > 1, enable_gqa=self.kv_heads != self.n_heads
        )
        return self.o_proj(out.transpose(1, 2).reshape(batch, time, -1))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.dim, config.hidden_dim, bias=False)
        self.up_proj = nn.Linear(config.dim, config.hidden_dim, bias=False)
        self.down_proj = nn.Linear(config.hidden_dim, config.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.dim, config.norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.dim, config.norm_eps)
        self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    """`LlamaModel`'s part: embeddings, blocks, final norm."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.dim)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)


class Transformer(nn.Module):
    """Ids (batch x time) in, logits (batch x time x vocab) out."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.vocab_size is None:
            raise ValueError("model.vocab_size is not set (the trainer takes it from the data)")
        self.config = config
        self.checkpoint_activations = False
        self.model = Decoder(config)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        cos, sin = rotary_tables(config.head_dim, config.max_seq_len, config.rope_theta)
        # Not in the state dict: they are a function of the config.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Normal(0, init_std) weights; the projections that write into the residual stream
        (o_proj, down_proj) scaled by 1/sqrt(2 n_layers), so its variance does not grow with
        depth (GPT-2, section 2.3); norms at one."""
        std = self.config.init_std
        depth_std = std / math.sqrt(2 * self.config.n_layers)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                late = name.endswith(("o_proj", "down_proj"))
                nn.init.normal_(module.weight, mean=0.0, std=depth_std if late else std)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)
        self.reset_rotary()

    @torch.no_grad()
    def reset_rotary(self) -> None:
        """Fill the rotary tables (after `to_empty`, which leaves them uninitialized)."""
        cos, sin = rotary_tables(
            self.config.head_dim, self.config.max_seq_len, self.config.rope_theta
        )
        self.rope_cos.copy_(cos)
        self.rope_sin.copy_(sin)

    def forward(
        self,
        ids: torch.Tensor,
        cache: KVCache | None = None,
        targets: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        loss_chunk_tokens: int = 0,
    ) -> torch.Tensor:
        """Logits of every position; with a cache, `ids` continue the cached positions (a whole
        prompt into an empty cache, then one token at a time). Given `targets` and their `mask`,
        the summed cross-entropy instead: inside the forward, so that FSDP has the output
        layer's weight gathered and a compiled model fuses the loss with it; with
        `loss_chunk_tokens`, its logits made that many tokens at a time and never held whole
        (train/chunked_loss.py)."""
        time = ids.shape[1]
        start = cache.length if cache is not None else 0
        if start + time > self.config.max_seq_len:
            raise ValueError(f"{start + time} tokens exceed max_seq_len {self.config.max_seq_len}")
        if start and time > 1:
            raise ValueError("after the prompt, a cache takes one token at a time")
        cos, sin = self.rope_cos[start : start + time], self.rope_sin[start : start + time]
        x = self.model.embed_tokens(ids)
        for layer, block in enumerate(self.model.layers):
            if cache is not None:
                x = block(x, cos, sin, cache, layer)
            elif self.checkpoint_activations and torch.is_grad_enabled():
                # Keep only each block's input; recompute its insides during backward.
                x = checkpoint(block, x, cos, sin, use_reentrant=False)
            else:
                x = block(x, cos, sin)
        if cache is not None:
            cache.length += time
        if targets is not None and mask is not None:
            hidden = self.model.norm(x)
            if loss_chunk_tokens:
                weight = self.lm_head.weight
                return chunked_loss_sum(hidden, weight, targets, mask, loss_chunk_tokens)
            return logits_loss_sum(self.lm_head(hidden), targets, mask)
        return self.lm_head(self.model.norm(x))

    def parameter_count(self) -> int:
        """Distinct parameters (a tied matrix counts once)."""
        return sum(p.numel() for p in self.parameters())

    def matmul_parameter_count(self) -> int:
        """The N of 6N training FLOPs per token: every parameter but the input embedding, a
        lookup (a tied matrix counts, as the output layer's weight)."""
        if self.config.tie_embeddings:
            return self.parameter_count()
        return self.parameter_count() - self.model.embed_tokens.weight.numel()


def empty_model(config: ModelConfig) -> Transformer:
    """A model on the CPU with uninitialized weights, to load weights into (no random init)."""
    with torch.device("meta"):
        model = Transformer(config)
    model.to_empty(device="cpu")  # one new tensor per parameter: ties are undone
    if config.tie_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.reset_rotary()
    return model.eval()
