"""`llm-train eval`: a checkpoint's loss and bits per byte on token data or on held-out text,
outside of training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_pretrain.tokenizer.bpe import TOKENIZER_FILE, BpeTokenizer
from llm_pretrain.tokenizer.shards import PackedReader
from llm_pretrain.train.checkpoint import (
    load_model_weights,
    read_model_config,
    read_state,
)
from llm_pretrain.train.checkpoint_check import intact_checkpoint
from llm_pretrain.train.config import RuntimeConfig
from llm_pretrain.train.data import TokenData, open_token_data, verify_token_data
from llm_pretrain.train.eval_text import read_texts, text_rows
from llm_pretrain.train.evaluate import evaluate, perplexity, unigram_loss
from llm_pretrain.train.parallel import build_model
from llm_pretrain.train.runtime import Runtime, TrainError, start_runtime, stop_runtime


def evaluate_checkpoint(
    checkpoint: Path,
    data_dir: Path | None,
    split: str = "val",
    max_rows: int | None = None,
    batch_rows: int = 8,
    runtime_config: RuntimeConfig | None = None,
    text: Path | None = None,
) -> dict[str, Any]:
    """Loss and bits per byte of a checkpoint on a split of token data, or on held-out `text`
    (eval_text.py) tokenized with the checkpoint's tokenizer; a damaged checkpoint or token
    data is refused (the processes share the checks)."""
    # One pass over the data: compiling would cost more than it saves.
    runtime = start_runtime(runtime_config or RuntimeConfig(compile=False))
    baseline = None
    try:
        checkpoint = intact_checkpoint(checkpoint, runtime)
        state = read_state(checkpoint)
        model_config = read_model_config(checkpoint)
        if text is not None:
            tokenizer = BpeTokenizer.load(checkpoint / TOKENIZER_FILE)
            reader = text_rows(read_texts(text), tokenizer, int(state["data"]["seq_len"]))
            token_bytes, where, split = tokenizer.token_bytes(), text, "text"
        else:
            if data_dir is None:
                raise TrainError("give the token data or the text to evaluate on")
            data = open_token_data(data_dir)
            reader = _token_split(data, data_dir, split, checkpoint, state, runtime)
            token_bytes, where = data.token_bytes, data_dir
            if data.seq_len > model_config.max_seq_len:
                raise TrainError(
                    f"{data_dir} holds rows of {data.seq_len} tokens, more than the model's "
                    f"max_seq_len {model_config.max_seq_len}"
                )
            if data.val is not None and split == "val":
                baseline = unigram_loss(data.train, data.val, int(model_config.vocab_size or 0))
        model = build_model(model_config, runtime, seed=0)
        load_model_weights(checkpoint, model, runtime)
        result = evaluate(model, reader, runtime, batch_rows, max_rows, token_bytes)
    finally:
        stop_runtime()
    return {
        "checkpoint": str(checkpoint),
        "step": state["step"],
        "data": str(where),
        "split": split,
        "loss": result.loss,
        "ppl": perplexity(result.loss),
        "bpb": result.bpb,
        "tokens": result.tokens,
        "text_bytes": result.text_bytes,
        "unigram_loss": baseline,
    }


def _token_split(
    data: TokenData,
    data_dir: Path,
    split: str,
    checkpoint: Path,
    state: dict[str, Any],
    runtime: Runtime,
) -> PackedReader:
    """The split, once the data is checked and tokenized with the checkpoint's tokenizer."""
    if data.identity["tokenizer_sha256"] != state["data"]["tokenizer_sha256"]:
        raise TrainError(
            f"{data_dir} was tokenized with another tokenizer than the one {checkpoint} was "
            "trained with"
        )
    verify_token_data(data, runtime)
    reader = data.val if split == "val" else data.train
    if reader is None:
        raise TrainError(f"{data_dir} has no {split} rows")
    return reader


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
