"""`llm-train eval`: one number for a checkpoint on a token dataset, outside of training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_pretrain.train.checkpoint import (
    load_model_weights,
    read_model_config,
    read_state,
)
from llm_pretrain.train.checkpoint_check import intact_checkpoint
from llm_pretrain.train.config import RuntimeConfig
from llm_pretrain.train.data import open_token_data, verify_token_data
from llm_pretrain.train.evaluate import evaluate, perplexity, unigram_loss
from llm_pretrain.train.parallel import build_model
from llm_pretrain.train.runtime import TrainError, start_runtime, stop_runtime


def evaluate_checkpoint(
    checkpoint: Path,
    data_dir: Path,
    split: str = "val",
    max_rows: int | None = None,
    batch_rows: int = 8,
    runtime_config: RuntimeConfig | None = None,
) -> dict[str, Any]:
    """Loss of a checkpoint on a split; a damaged checkpoint or token data is refused (the
    processes share the checks)."""
    # One pass over the data: compiling would cost more than it saves.
    runtime = start_runtime(runtime_config or RuntimeConfig(compile=False))
    try:
        checkpoint = intact_checkpoint(checkpoint, runtime)
        state = read_state(checkpoint)
        data = open_token_data(data_dir)
        if data.identity["tokenizer_sha256"] != state["data"]["tokenizer_sha256"]:
            raise TrainError(
                f"{data_dir} was tokenized with another tokenizer than the one {checkpoint} was "
                "trained with"
            )
        verify_token_data(data, runtime)
        reader = data.val if split == "val" else data.train
        if reader is None:
            raise TrainError(f"{data_dir} has no {split} rows")
        model_config = read_model_config(checkpoint)
        if data.seq_len > model_config.max_seq_len:
            raise TrainError(
                f"{data_dir} holds rows of {data.seq_len} tokens, more than the model's "
                f"max_seq_len {model_config.max_seq_len}"
            )
        model = build_model(model_config, runtime, seed=0)
        load_model_weights(checkpoint, model, runtime)
        result = evaluate(model, reader, runtime, batch_rows, max_rows, data.token_bytes)
    finally:
        stop_runtime()
    baseline = None
    if data.val is not None:
        baseline = unigram_loss(data.train, data.val, int(model_config.vocab_size or 0))
    return {
        "checkpoint": str(checkpoint),
        "step": state["step"],
        "data": str(data_dir),
        "split": split,
        "loss": result.loss,
        "ppl": perplexity(result.loss),
        "bpb": result.bpb,
        "tokens": result.tokens,
        "text_bytes": result.text_bytes,
        "unigram_loss": baseline if split == "val" else None,
    }


def format_eval(result: dict[str, Any]) -> str:
    """The command's summary: loss, perplexity and the unigram baseline of a checkpoint."""
    baseline = result["unigram_loss"]
    return (
        f"eval  {result['checkpoint']} (step {result['step']}) on {result['data']} "
        f"[{result['split']}]\n"
        f"  loss          {result['loss']:.4f} over {result['tokens']:,} target tokens\n"
        f"  perplexity    {result['ppl']:,.2f}\n"
        + (f"  bits/byte     {result['bpb']:.4f}\n" if result.get("bpb") is not None else "")
        + (f"  unigram       {baseline:.4f}\n" if baseline is not None else "")
    )
