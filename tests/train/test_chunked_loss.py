"""The output layer and cross-entropy a chunk of tokens at a time (train/chunked_loss.py): the
same loss and gradients as the plain path within float rounding (fp32), and the same training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llm_pretrain.train.chunked_loss import chunked_loss_sum, logits_loss_sum
from llm_pretrain.train.model import ModelConfig, Transformer
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import losses, tiny_config

CLOSE = {"rtol": 1e-5, "atol": 1e-5}


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_loss_and_gradients_equal_the_plain_path(chunk):
    torch.manual_seed(0)
    hidden = torch.randn(3, 21, 16, requires_grad=True)
    weight = torch.randn(50, 16, requires_grad=True)
    targets = torch.randint(0, 50, (3, 21))
    mask = torch.rand(3, 21) > 0.2
    plain = F.cross_entropy(
        (hidden @ weight.t()).flatten(0, 1), targets.masked_fill(~mask, -100).flatten(),
        ignore_index=-100, reduction="sum",
    )  # fmt: skip
    plain_grads = torch.autograd.grad(plain * 0.37, (hidden, weight))
    chunked = chunked_loss_sum(hidden, weight, targets, mask, chunk)
    chunked_grads = torch.autograd.grad(chunked * 0.37, (hidden, weight))
    torch.testing.assert_close(chunked, plain, **CLOSE)
    for ours, theirs in zip(chunked_grads, plain_grads, strict=True):
        torch.testing.assert_close(ours, theirs, **CLOSE)


@pytest.mark.parametrize("tied", [False, True])
def test_the_models_loss_and_every_gradient_equal_the_plain_path(tied):
    config = ModelConfig(vocab_size=97, dim=32, n_layers=2, n_heads=4, max_seq_len=64,
                         tie_embeddings=tied)  # fmt: skip
    torch.manual_seed(0)
    model = Transformer(config)
    ids, targets = torch.randint(0, 97, (2, 2, 24))
    mask = torch.ones_like(targets, dtype=torch.bool)
    mask[0, :5] = False
    plain = logits_loss_sum(model(ids), targets, mask)
    plain.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    chunked = model(ids, targets=targets, mask=mask, loss_chunk_tokens=10)
    chunked.backward()
    torch.testing.assert_close(chunked, plain, **CLOSE)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name], **CLOSE, msg=name)


def test_training_with_a_chunked_loss_gives_the_same_losses(token_data, tmp_path):
    pretrain(tiny_config("max_steps=3"), token_data, tmp_path / "plain", show_progress=False)
    chunked = tiny_config("max_steps=3", "runtime.loss_chunk_tokens=40")
    pretrain(chunked, token_data, tmp_path / "chunked", show_progress=False)
    for step, loss in losses(tmp_path / "plain").items():
        assert losses(tmp_path / "chunked")[step] == pytest.approx(loss, rel=1e-5)
