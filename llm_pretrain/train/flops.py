"""Model FLOPs per token and utilisation (MFU) against a device's peak.

Training FLOPs per token: 6N for the matrix multiplies of the forward and backward passes (N
parameters in matrix multiplies) plus 12 L H d_head T for attention's scores and weighted sum
over a sequence of T tokens (PaLM, Chowdhery et al. 2022, appendix B). MFU is the achieved share
of the peak dense bf16 rate of the devices. The peaks come from this table; a device not in it
has no MFU unless a peak is configured: a guessed peak would give a wrong number that looks
right.
"""

from __future__ import annotations

import re

from llm_pretrain.train.model import ModelConfig

# Dense bf16 tensor-core peaks in FLOP/s, from NVIDIA's data sheets (which print them with
# sparsity: twice these). Searched for in torch.cuda.get_device_name(), most specific first.
PEAK_BF16_FLOPS: list[tuple[str, float]] = [
    (r"\bH100\b.*\bPCIe\b", 756e12),
    (r"\bH100\b.*\bNVL\b", 835e12),
    (r"\bH100\b", 989e12),  # SXM5 (e.g. "NVIDIA H100 80GB HBM3")
    (r"\bG?H200\b", 989e12),  # GH200 too: the same compute as H100 SXM5
    (r"\bA100\b", 312e12),
    (r"\bL40S\b", 362e12),
    (r"\bL4\b", 121e12),
]


def peak_flops(device_name: str, configured: float | None = None) -> float | None:
    """The configured peak, else the table's for this device, else None (no MFU)."""
    if configured is not None:
        return configured
    for pattern, flops in PEAK_BF16_FLOPS:
        if re.search(pattern, device_name):
            return flops
    return None


def flops_per_token(config: ModelConfig, matmul_parameters: int, seq_len: int) -> float:
    attention = 12 * config.n_layers * config.n_heads * config.head_dim * seq_len
    return 6 * matmul_parameters + attention


def mfu(
    tokens_per_second: float, per_token: float, peak: float | None, devices: int
) -> float | None:
    """Achieved share of the peak of all devices together; None without a peak."""
    if peak is None:
        return None
    return tokens_per_second * per_token / (peak * devices)
