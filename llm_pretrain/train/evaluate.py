"""Loss over target tokens, validation loss, perplexity and bits per byte, and the unigram
baseline.

The validation loss is the mean cross-entropy (nats) over every real target token of the
validation rows, the same in any number of processes: each process sums its rows' losses and
tokens, and the sums are added. The unigram baseline is the cross-entropy of the validation
targets under the training split's token frequencies: the loss of a model that has learned
which tokens are common but nothing about context, the bar a trained model must clear.

Bits per byte is the cross-entropy of the text in bits divided by its UTF-8 bytes: unlike the
loss it does not depend on the tokenizer, so models with other vocabularies, and corpora
tokenized differently, compare. As nanochat's `evaluate_bpb` does, the targets that are not
text (end-of-text, 0 bytes) count in neither sum; the bytes of each target id come from the
tokenizer (`BpeTokenizer.token_bytes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from llm_pretrain.tokenizer.shards import PackedReader
from llm_pretrain.train.chunked_loss import logits_loss_sum
from llm_pretrain.train.data import rows_batch
from llm_pretrain.train.runtime import Runtime

UNIGRAM_SAMPLE_TOKENS = 1 << 24


def text_loss_and_bytes(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, token_bytes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed cross-entropy in nats, UTF-8 bytes) of the masked-in targets that are text."""
    per_token = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    nbytes = token_bytes[targets.flatten()] * mask.flatten()
    return (per_token.double() * (nbytes > 0)).sum(), nbytes.sum()


@dataclass(frozen=True)
class Evaluation:
    loss: float  # mean cross-entropy (nats) per target token
    tokens: int  # real target tokens
    bpb: float | None  # bits per byte of text; None without the tokenizer's byte table
    text_bytes: int  # UTF-8 bytes of the text targets


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    reader: PackedReader,
    runtime: Runtime,
    batch_rows: int,
    max_rows: int | None = None,
    token_bytes: np.ndarray | None = None,
) -> Evaluation:
    """Loss (and, given the bytes of each id, bits per byte) over the first `max_rows` rows
    (all by default).

    Every process runs the same number of forward passes (FSDP gathers weights collectively);
    a process with no rows left in the last round runs on row 0 with every target masked out.
    """
    rows = min(len(reader), max_rows or len(reader))
    per_round = batch_rows * runtime.world
    device = runtime.device
    # Summed on the device: reading each batch's loss back would wait for the GPU every time.
    loss, tokens = torch.zeros((), dtype=torch.float64, device=device), 0
    text_loss = torch.zeros((), dtype=torch.float64, device=device)
    text_bytes = torch.zeros((), dtype=torch.int64, device=device)
    byte_table = torch.from_numpy(token_bytes).to(device) if token_bytes is not None else None
    for start in range(0, rows, per_round):
        first = start + runtime.rank * batch_rows
        indices = list(range(first, min(first + batch_rows, rows)))
        batch = rows_batch(reader, indices or [0])
        if not indices:
            batch.mask.zero_()
        logits = model(batch.inputs.to(device))
        targets, mask = batch.targets.to(device), batch.mask.to(device)
        loss += logits_loss_sum(logits, targets, mask).double()
        tokens += batch.target_tokens
        if byte_table is not None:
            nats, nbytes = text_loss_and_bytes(logits, targets, mask, byte_table)
            text_loss += nats
            text_bytes += nbytes
    total_loss, total_tokens = runtime.sum(loss), runtime.sum(tokens)
    count = int(total_tokens.item())
    total_text_loss, total_bytes = runtime.sum(text_loss), int(runtime.sum(text_bytes).item())
    bpb = None
    if byte_table is not None and total_bytes:
        bpb = total_text_loss.item() / math.log(2) / total_bytes
    return Evaluation(total_loss.item() / count if count else float("nan"), count, bpb, total_bytes)


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
