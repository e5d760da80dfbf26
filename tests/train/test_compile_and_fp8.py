"""runtime.compile (each block, or the whole model with its loss) and runtime.precision fp8:
what can be checked on a CPU. The speed of each is measured on a GPU by
benchmarks/gpu_train.py."""

from __future__ import annotations

import sys

import pytest
import torch
from click.testing import CliRunner
from torch._dynamo.utils import counters

from llm_pretrain.cli_train import train
from llm_pretrain.train import fp8 as fp8_module
from llm_pretrain.train.config import RuntimeConfig
from llm_pretrain.train.fp8 import convert_to_fp8, converts, fp8_problem
from llm_pretrain.train.model import ModelConfig, Transformer
from llm_pretrain.train.runtime import TrainError, compile_mode, start_runtime
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import TINY, tiny_config

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)


def test_compile_settings_mean_blocks_model_or_none():
    assert compile_mode(None, CUDA) == "blocks" and compile_mode(None, CPU) is None
    assert compile_mode(True, CPU) == "blocks" and compile_mode(False, CUDA) is None
    assert compile_mode("model", CPU) == "model"


@pytest.mark.parametrize("extra", [[], ["runtime.activation_checkpointing=true"]])
def test_the_whole_model_compiled_with_its_loss_trains_as_eager(token_data, tmp_path, extra):
    """Inductor on the CPU, fp32: the same losses as the eager model, step for step."""
    overrides = ["max_steps=3", "eval.every_steps=100", *extra]
    eager = pretrain(tiny_config(*overrides), token_data, tmp_path / "eager", False, False)
    torch._dynamo.reset()  # compile again: another test's graphs would be reused
    counters.clear()
    compiled = pretrain(
        tiny_config(*overrides, "runtime.compile=model"), token_data, tmp_path / "model", False
    )
    assert counters["frames"]["ok"] >= 1  # dynamo compiled the forward (FSDP's hooks break it)
    for step, loss in eager.losses.items():
        assert compiled.losses[step] == pytest.approx(loss, rel=1e-4), step


def test_fp8_is_refused_on_the_cpu_in_one_line(token_data, tmp_path):
    args = ["pretrain", "--data", str(token_data), "--out", str(tmp_path / "run"), *TINY]
    result = CliRunner().invoke(train, [*args, "runtime.precision=fp8"])
    assert result.exit_code == 1, result.output
    assert "runtime.precision fp8 needs an NVIDIA GPU of compute capability 8.9" in result.output
    assert "this run is on cpu" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()  # refused before any work


def test_fp8_is_refused_on_an_older_gpu_and_without_torchao(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A100")
    assert "NVIDIA A100 has 8.0: use bf16" in fp8_problem(CUDA)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    monkeypatch.setitem(sys.modules, "torchao.float8", None)  # as if not installed
    assert "needs torchao: pip install 'llm-pretrain[fp8]'" in fp8_problem(CUDA)
    with pytest.raises(fp8_module.Fp8Error, match="needs torchao"):
        convert_to_fp8(Transformer(small()), "tensorwise")


def test_fp8_refusal_comes_from_the_runtime():
    with pytest.raises(TrainError, match="fp8 needs an NVIDIA GPU"):
        start_runtime(RuntimeConfig(device="cpu", precision="fp8"))
    assert not torch.distributed.is_initialized()  # refused before the process group


def small() -> ModelConfig:
    return ModelConfig(dim=64, n_layers=2, n_heads=4, max_seq_len=64, vocab_size=300)


@pytest.mark.parametrize("scaling", ["tensorwise", "rowwise"])
def test_fp8_converts_the_blocks_linear_layers_and_nothing_else(scaling):
    """Emulated float8 (no float8 hardware here): the blocks' 7 linear layers each are swapped,
    the output layer, embedding and norms stay, and the loss stays near bf16's."""
    pytest.importorskip("torchao.float8")
    torch.manual_seed(0)
    model = Transformer(small())
    reference = Transformer(small())
    reference.load_state_dict(model.state_dict())
    assert convert_to_fp8(model, scaling, emulate=True) == 2 * 7
    kinds = {name: type(module).__name__ for name, module in model.named_modules()}
    assert kinds["lm_head"] == "Linear" and kinds["model.embed_tokens"] == "Embedding"
    assert kinds["model.layers.0.self_attn.q_proj"] == "Float8Linear"
    assert kinds["model.layers.1.mlp.down_proj"] == "Float8Linear"
    assert all(kind != "Float8Linear" for name, kind in kinds.items() if "norm" in name)
    ids = torch.randint(0, 300, (4, 33), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(4, 32, dtype=torch.bool)
    losses = []
    for each in (model, reference):
        loss = each.to(torch.bfloat16)(ids[:, :-1], targets=ids[:, 1:], mask=mask)
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=0.02)
    assert model.state_dict().keys() == reference.state_dict().keys()  # checkpoints load anywhere


def test_layers_of_sizes_float8_cannot_multiply_stay_bf16():
    assert not converts(torch.nn.Linear(64, 24), "model.layers.0.mlp.up_proj")
    assert converts(torch.nn.Linear(64, 32), "model.layers.0.mlp.up_proj")
    assert not converts(torch.nn.Linear(64, 32), "lm_head")
