"""FSDP2 wrapping: each block, then the root (embeddings, final norm, output layer).

Every process builds the whole model on the CPU from the same seed (or from the same imported
weights), so the initial weights do not depend on the number of processes, and `fully_shard`
keeps its slice and moves it to the device.
With bf16, FSDP2 gathers bf16 parameters for compute and reduces gradients in fp32; the sharded
parameters and the optimizer stay fp32 (MixedPrecisionPolicy). With fp8 the blocks' linear
layers are swapped for float8 ones first (train/fp8.py). `runtime.compile` compiles each block
(the graph ends at each block's FSDP hooks) or the whole model's forward with its loss.
"""

from __future__ import annotations

import torch
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard

from llm_pretrain.train.fp8 import convert_to_fp8
from llm_pretrain.train.model import ModelConfig, Transformer, empty_model
from llm_pretrain.train.runtime import Runtime


def build_model(
    config: ModelConfig,
    runtime: Runtime,
    seed: int,
    activation_checkpointing: bool = False,
    weights: dict[str, torch.Tensor] | None = None,
) -> Transformer:
    """The sharded model: initialized from `seed`, or holding `weights` (an imported model)."""
    torch.manual_seed(seed)
    if weights is None:
        with torch.device("cpu"):
            model = Transformer(config)
    else:
        model = empty_model(config).train()
        model.load_state_dict(weights, strict=True)
    model.checkpoint_activations = activation_checkpointing
    if runtime.fp8:
        convert_to_fp8(model, runtime.fp8)
    policy = MixedPrecisionPolicy(param_dtype=runtime.param_dtype, reduce_dtype=torch.float32)
    for index, block in enumerate(model.model.layers):
        if runtime.compile == "blocks":
            block.compile()
        # The last block's parameters are needed again at once by backward: keep them gathered.
        last = index == len(model.model.layers) - 1
        fully_shard(block, mesh=runtime.mesh, mp_policy=policy, reshard_after_forward=not last)
    fully_shard(model, mesh=runtime.mesh, mp_policy=policy)
    if runtime.compile == "model":  # the forward with the loss: one call, fused where it can
        model.compile()
    return model


def set_gradient_sync(model: Transformer, enabled: bool) -> None:
    """Off for all but the last micro-batch of a step: gradients accumulate unreduced."""
    assert isinstance(model, FSDPModule)
    model.set_requires_gradient_sync(enabled)
