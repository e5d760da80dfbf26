"""AdamW with decoupled weight decay on the matrices of matrix multiplies only.

Decaying norm gains pulls them toward zero and decaying embedding rows shrinks rare tokens that
get few gradient updates, so neither is decayed by default (the usual GPT-2/Llama practice). A
tied embedding is an embedding here.
"""

from __future__ import annotations

import torch
from torch import nn

from llm_pretrain.train.config import OptimizerConfig


def decays(name: str, parameter: nn.Parameter, config: OptimizerConfig) -> bool:
    if config.decay_norms_and_embeddings:
        return True
    return parameter.ndim >= 2 and "embed_tokens" not in name


def build_optimizer(model: nn.Module, config: OptimizerConfig) -> torch.optim.AdamW:
    decayed, plain = [], []
    for name, parameter in model.named_parameters():
        (decayed if decays(name, parameter, config) else plain).append(parameter)
    groups = [
        {"params": decayed, "weight_decay": config.weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]
    # Fused kernels on GPU; elsewhere the multi-tensor (foreach) path, which torch would not
    # pick by itself on CPU: one call per operation for all parameters instead of one per
    # parameter, which matters more with FSDP's sharded parameters (each call is dispatched).
    on_gpu = any(p.is_cuda for p in model.parameters())
    return torch.optim.AdamW(
        [group for group in groups if group["params"]],
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        eps=config.eps,
        fused=on_gpu or None,
        foreach=not on_gpu or None,
    )


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
