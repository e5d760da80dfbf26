"""A training recipe: model, data, batch, optimizer, schedule, checkpoints, evaluation, logging.

A recipe is a YAML file (`configs/train/*.yaml`). Its `model` is either a mapping or the path
of a model config file (`configs/model/*.yaml`), relative to the recipe. `key=value`
overrides (`optimizer.lr=1e-3`, `model.n_layers=2`) apply after the model file is read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from llm_pretrain.configbase import (
    Section,
    apply_overrides,
    parse_assignment,
    read_yaml_mapping,
    validate,
)
from llm_pretrain.train.model import ModelConfig
from llm_pretrain.train.schedule import ScheduleConfig


class BatchConfig(Section):
    global_tokens: int = Field(
        524_288,
        ge=1,
        description="tokens per optimizer step over all processes; a multiple of seq_len x "
        "micro_batch_rows x processes (gradient accumulation makes up the rest)",
    )
    micro_batch_rows: int = Field(
        8, ge=1, description="rows (sequences) per forward pass on each process"
    )


class OptimizerConfig(Section):
    lr: float = Field(3e-4, gt=0, description="peak learning rate")
    beta1: float = Field(0.9, ge=0, lt=1, description="AdamW beta1")
    beta2: float = Field(0.95, ge=0, lt=1, description="AdamW beta2")
    eps: float = Field(1e-8, gt=0, description="AdamW epsilon")
    weight_decay: float = Field(
        0.1, ge=0, description="decoupled weight decay of the matrices in matrix multiplies"
    )
    decay_norms_and_embeddings: bool = Field(
        False, description="also decay norm weights and the input embedding"
    )
    grad_clip: float = Field(1.0, ge=0, description="clip the global gradient norm; 0: off")


class CheckpointConfig(Section):
    every_steps: int = Field(1000, ge=1, description="save every N steps (and at the end)")
    keep_last: int = Field(3, ge=1, description="complete checkpoints kept; older are removed")


class EvalConfig(Section):
    every_steps: int = Field(
        500, ge=1, description="validation loss every N steps (and at the end)"
    )
    max_rows: int | None = Field(
        None, ge=1, description="validation rows used; empty: the whole validation split"
    )


class LogConfig(Section):
    every_steps: int = Field(1, ge=1, description="write a metrics line every N steps")
    tensorboard: bool = Field(
        False, description="also write TensorBoard events under OUT/tensorboard"
    )


class RuntimeConfig(Section):
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: cuda when a GPU is visible, else cpu"
    )
    precision: Literal["auto", "bf16", "fp32", "fp8"] = Field(
        "auto",
        description="parameter dtype in forward and backward (gradients are reduced and the "
        "optimizer runs in fp32); fp8: bf16, with the blocks' linear layers multiplying in "
        "float8 (torchao; GPUs of compute capability 8.9+: H100, H200, L40S, L4), the output "
        "layer and norms in bf16; auto: bf16 on cuda, fp32 on cpu",
    )
    fp8_scaling: Literal["tensorwise", "rowwise"] = Field(
        "tensorwise",
        description="precision fp8: one scale per tensor (fastest) or per row (closer to bf16)",
    )
    compile: bool | Literal["blocks", "model"] | None = Field(
        None,
        description="torch.compile: blocks (each block on its own), model (the whole forward "
        "with the output layer and the loss as one compiled call), false (none); true: "
        "blocks; empty: blocks on cuda, none on cpu",
    )
    activation_checkpointing: bool = Field(
        False, description="recompute each block in backward instead of keeping activations"
    )
    loss_chunk_tokens: int = Field(
        0,
        ge=0,
        description="make the output layer's logits and their cross-entropy this many tokens "
        "at a time in training, never holding a batch's logits (a 16 x 2048 batch of a 32k "
        "vocabulary: 4.3 GB in fp32); 0: the whole batch at once",
    )
    peak_flops: float | None = Field(
        None,
        gt=0,
        description="peak FLOP/s of one device for MFU; empty: from the table of known GPUs "
        "(no MFU on a device not in it)",
    )


class MixSource(Section):
    """One source of a data mixture: a token dataset and its share of the training rows."""

    path: str = Field(description="folder written by llm-data tokenize")
    weight: float = Field(
        gt=0, description="share of training rows (the weights are normalised to sum to 1)"
    )


SOURCE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"  # in metric keys (val_loss/NAME) and overrides


class TrainConfig(Section):
    data: str | dict[str, MixSource] | None = Field(
        None,
        description="folder written by llm-data tokenize (--data overrides it), or a mixture: "
        "NAME: {path: FOLDER, weight: W} per source, all tokenized with the same tokenizer; "
        "batches draw rows from the sources in proportion to the weights",
    )
    out: str | None = Field(
        None, description="run folder: checkpoints, metrics, config (--out overrides it)"
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    max_steps: int = Field(1000, ge=1, description="optimizer steps of the whole run")
    tokens_per_parameter: float | None = Field(
        None,
        gt=0,
        description="train on this many tokens per model parameter instead of max_steps: "
        "max_steps = ceil(tokens_per_parameter x parameters / batch.global_tokens), the "
        "parameters counted once the vocabulary is known, embedding included (20: the "
        "compute-optimal budget of Hoffmann et al. 2022, Chinchilla)",
    )
    seed: int = Field(0, description="model init and data order")
    batch: BatchConfig = Field(default_factory=BatchConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)

    @field_validator("data")
    @classmethod
    def _named_sources(cls, data: str | dict[str, MixSource] | None) -> Any:
        if isinstance(data, dict):
            if not data:
                raise ValueError("a mixture names at least one source")
            for name in data:
                if not re.match(SOURCE_NAME, name):
                    raise ValueError(f"source name {name!r}: use letters, digits, '_' and '-'")
        return data


def load_train_config(
    path: Path | None = None, assignments: tuple[str, ...] | list[str] = ()
) -> TrainConfig:
    """Read a recipe (or start from defaults), inline its model file, apply overrides."""
    data: dict[str, Any] = read_yaml_mapping(Path(path), "training config") if path else {}
    model = data.get("model")
    if isinstance(model, str):
        model_path = Path(model)
        if not model_path.is_absolute() and path is not None:
            model_path = Path(path).parent / model_path
        data["model"] = read_yaml_mapping(model_path, "model config")
    overrides = dict(parse_assignment(text) for text in assignments)
    apply_overrides(data, overrides)
    return validate(TrainConfig, data, Path(path) if path else None, what="training config")
