"""FLOPs per token by the formula, and peaks that are found, configured, or absent."""

import pytest

from llm_pretrain.train.flops import flops_per_token, mfu, peak_flops
from llm_pretrain.train.model import ModelConfig


def test_flops_per_token_by_hand():
    config = ModelConfig(vocab_size=100, dim=64, n_layers=2, n_heads=4, max_seq_len=128)
    # 6N, plus 12 x layers x heads x head size x sequence length.
    assert flops_per_token(config, 1000, 128) == 6 * 1000 + 12 * 2 * 4 * 16 * 128


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA H200", 989e12),
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("NVIDIA L4", 121e12),
        ("NVIDIA L40S", 362e12),
        ("NVIDIA GH200 480GB", 989e12),
        ("NVIDIA L40", None),  # not in the table: no MFU rather than L4's peak
    ],
)
def test_known_devices(name, peak):
    assert peak_flops(name) == peak


def test_unknown_device_has_no_mfu_unless_configured():
    assert peak_flops("cpu") is None and mfu(1e4, 1e9, None, 1) is None
    assert peak_flops("cpu", configured=1e12) == 1e12
    assert mfu(1e4, 1e9, 1e14, 2) == pytest.approx(0.05)
