"""FP8 training (`runtime.precision: fp8`): the blocks' linear layers multiply in float8 with
dynamic scales, through torchao's float8 training; everything else stays bf16.

The output layer stays bf16 (its logits feed a softmax over the whole vocabulary, where
float8's 3 mantissa bits cost the most; torchtitan and torchao's recipes leave it out too), and
so do the norms and the embedding, which are not matrix multiplies. Layers whose sizes are not
multiples of 16 stay bf16: the float8 matmul (`torch._scaled_mm`) needs them. Float8 matmuls
run on NVIDIA GPUs of compute capability 8.9 and later (Ada, Hopper, Blackwell); elsewhere the
run is refused before any work. MFU stays measured against the bf16 peak, so an FP8 run's MFU
shows its speed-up over bf16 directly.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from llm_pretrain.errors import UserError

MIN_CAPABILITY = (8, 9)  # float8 tensor cores: Ada Lovelace (L4, L40S) and Hopper (H100, H200)
EXTRA = "pip install 'llm-pretrain[fp8]' (torchao)"


class Fp8Error(UserError):
    """FP8 training asked for where it cannot run."""


def fp8_problem(device: torch.device) -> str | None:
    """Why FP8 training cannot run on `device`, or None."""
    if device.type != "cuda":
        return (
            f"runtime.precision fp8 needs an NVIDIA GPU of compute capability 8.9 or later "
            f"(H100, H200, L40S, L4); this run is on {device.type}: use bf16 or fp32"
        )
    capability = torch.cuda.get_device_capability(device)
    if capability < MIN_CAPABILITY:
        name = torch.cuda.get_device_name(device)
        return (
            f"runtime.precision fp8 needs compute capability 8.9 or later (H100, H200, L40S, "
            f"L4); {name} has {capability[0]}.{capability[1]}: use bf16"
        )
    try:
        import torchao.float8  # noqa: F401
    except ImportError:
        return f"runtime.precision fp8 needs torchao: {EXTRA}"
    return None


def converts(module: nn.Module, name: str) -> bool:
    """Whether the layer `name` multiplies in float8: a block's linear layer (not the output
    layer) whose sizes are multiples of 16."""
    if not isinstance(module, nn.Linear) or not name.startswith("model.layers."):
        return False
    return module.in_features % 16 == 0 and module.out_features % 16 == 0


def convert_to_fp8(model: nn.Module, scaling: str, emulate: bool = False) -> int:
    """Swap the layers `converts` picks for torchao's Float8Linear (before FSDP wraps the
    model); the number swapped. `emulate` does the float8 arithmetic without float8 hardware
    (for tests on the CPU)."""
    try:
        from torchao.float8 import Float8LinearConfig, convert_to_float8_training
    except ImportError:
        raise Fp8Error(f"runtime.precision fp8 needs torchao: {EXTRA}") from None
    config = Float8LinearConfig.from_recipe_name(scaling)
    if emulate:
        config = dataclasses.replace(config, emulate=True)
    before = sum(1 for name, m in model.named_modules() if converts(m, name))
    convert_to_float8_training(model, config=config, module_filter_fn=converts)
    return before
