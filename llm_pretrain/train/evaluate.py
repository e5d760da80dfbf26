"""Loss over target tokens, validation loss and perplexity, and the unigram baseline.

The validation loss is the mean cross-entropy (nats) over every real target token of the
validation rows, the same in any number of processes: each process sums its rows' losses and
tokens, and the sums are added. The unigram baseline is the cross-entropy of the validation
targets under the training split's token frequencies: the loss of a model that has learned
which tokens are common but nothing about context, the bar a trained model must clear.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from llm_pretrain.tokenizer.shards import PackedReader
from llm_pretrain.train.data import rows_batch
from llm_pretrain.train.runtime import Runtime

UNIGRAM_SAMPLE_TOKENS = 1 << 24


def token_loss_sum(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of the masked-in targets, computed in fp32."""
    targets = targets.masked_fill(~mask, -100)
    return F.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="sum"
    )


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    reader: PackedReader,
    runtime: Runtime,
    batch_rows: int,
    max_rows: int | None = None,
) -> tuple[float, int]:
    """(mean loss, target tokens) over the first `max_rows` rows (all by default).

    Every process runs the same number of forward passes (FSDP gathers weights collectively);
    a process with no rows left in the last round runs on row 0 with every target masked out.
    """
    rows = min(len(reader), max_rows or len(reader))
    per_round = batch_rows * runtime.world
    # Summed on the device: reading each batch's loss back would wait for the GPU every time.
    loss, tokens = torch.zeros((), dtype=torch.float64, device=runtime.device), 0
    for start in range(0, rows, per_round):
        first = start + runtime.rank * batch_rows
        indices = list(range(first, min(first + batch_rows, rows)))
        batch = rows_batch(reader, indices or [0])
        if not indices:
            batch.mask.zero_()
        logits = model(batch.inputs.to(runtime.device))
        device = runtime.device
        loss += token_loss_sum(logits, batch.targets.to(device), batch.mask.to(device)).double()
        tokens += batch.target_tokens
    total_loss, total_tokens = runtime.sum(loss), runtime.sum(tokens)
    count = int(total_tokens.item())
    return (total_loss.item() / count if count else float("nan")), count


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else float("inf")


def _target_ids(reader: PackedReader, max_tokens: int) -> np.ndarray:
    """The real target ids of evenly spaced rows, about `max_tokens` of them."""
    if not len(reader):
        return np.empty(0, np.int64)
    row_len = len(reader[0][0])
    step = max(1, len(reader) * row_len // max_tokens)
    parts = []
    for index in range(0, len(reader), step):
        row, length = reader[index]
        parts.append(row[1:length])
    return np.concatenate(parts).astype(np.int64)


def unigram_loss(train: PackedReader, val: PackedReader, vocab_size: int) -> float:
    """Cross-entropy (nats) of val targets under add-one smoothed train token frequencies."""
    counts = np.bincount(_target_ids(train, UNIGRAM_SAMPLE_TOKENS), minlength=vocab_size) + 1.0
    log_probs = np.log(counts) - np.log(counts.sum())
    targets = _target_ids(val, UNIGRAM_SAMPLE_TOKENS)
    return float(-log_probs[targets].mean()) if len(targets) else float("nan")
