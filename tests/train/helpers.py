"""A tiny training recipe for tests, and reading a run's losses."""

from __future__ import annotations

import json
from pathlib import Path

from llm_pretrain.train.checkpoint import STATE_FILE
from llm_pretrain.train.config import TrainConfig, load_train_config
from llm_pretrain.train.integrity import file_record
from llm_pretrain.train.metrics import read_metrics

TINY = [
    "model.dim=32",
    "model.n_layers=2",
    "model.n_heads=4",
    "model.max_seq_len=64",
    "max_steps=12",
    "batch.global_tokens=512",  # 16 rows of 32
    "batch.micro_batch_rows=8",
    "optimizer.lr=1e-2",
    "schedule.warmup_steps=2",
    "checkpoint.every_steps=4",
    "eval.every_steps=6",
    "eval.max_rows=32",
]


def tiny_config(*overrides: str) -> TrainConfig:
    """A model of a few thousand parameters that trains a step in milliseconds."""
    return load_train_config(None, [*TINY, *overrides])


def losses(run: Path) -> dict[int, float]:
    """Training loss per step, from the run's metrics.jsonl."""
    return {r["step"]: r["loss"] for r in read_metrics(run / "metrics.jsonl") if "loss" in r}


def val_losses(run: Path) -> dict[int, float]:
    return {
        r["step"]: r["val_loss"] for r in read_metrics(run / "metrics.jsonl") if "val_loss" in r
    }


def record_files_again(checkpoint: Path) -> None:
    """Make train_state.json's file records match the files, as someone altering a checkpoint
    on purpose would: what the records cannot catch must still be caught."""
    state_file = checkpoint / STATE_FILE
    state = json.loads(state_file.read_text())
    state["files"] = {name: file_record(checkpoint / name) for name in state["files"]}
    state_file.write_text(json.dumps(state))
