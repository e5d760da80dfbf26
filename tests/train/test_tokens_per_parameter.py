"""`tokens_per_parameter` sets max_steps from the model's size and the batch (Chinchilla's 20
tokens per parameter in the GPU recipes)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from llm_pretrain.train.config import load_train_config
from llm_pretrain.train.model import ModelConfig, Transformer
from llm_pretrain.train.trainer import Plan, pretrain, steps_for_tokens_per_parameter
from tests.train.helpers import tiny_config

RECIPES = Path(__file__).resolve().parents[2] / "configs" / "train"


def test_the_steps_give_the_tokens_per_parameter_rounded_up():
    model = ModelConfig(vocab_size=1000, dim=64, n_layers=2, n_heads=4, max_seq_len=128)
    parameters = Transformer(model).parameter_count()
    # the embedding and the output layer, then per block attention, MLP and two norms, then
    # the final norm: every parameter counts
    block = 4 * 64 * 64 + 3 * 64 * model.hidden_dim + 2 * 64
    assert parameters == 2 * 1000 * 64 + 2 * block + 64
    plan = Plan(model, seq_len=128, global_rows=32, accumulation=1)  # 4,096 tokens a step
    assert steps_for_tokens_per_parameter(20, plan) == math.ceil(20 * parameters / 4096)
    assert steps_for_tokens_per_parameter(1e-9, plan) == 1


def test_a_run_trains_for_the_steps_it_derives(token_data, tmp_path):
    config = tiny_config("tokens_per_parameter=0.01")
    result = pretrain(config, token_data, tmp_path / "run", show_progress=False)
    tokens_per_step = result.tokens // result.steps
    assert result.steps == math.ceil(0.01 * result.parameters / tokens_per_step) > 1


@pytest.mark.parametrize("size", ["125M", "350M", "1B"])
def test_the_gpu_recipes_train_20_tokens_per_parameter(size):
    recipe = yaml.safe_load((RECIPES / f"{size}.yaml").read_text())
    assert recipe["tokens_per_parameter"] == 20 and "max_steps" not in recipe
    assert load_train_config(RECIPES / f"{size}.yaml").tokens_per_parameter == 20
