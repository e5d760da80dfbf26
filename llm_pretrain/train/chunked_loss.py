"""The output layer and the cross-entropy together, a chunk of tokens at a time, so that the
logits of a whole batch are never held: 16 rows x 2048 tokens x a 32k vocabulary are 4.3 GB in
fp32, written and read every step, the largest tensor of a small model's step.

Each chunk's logits are made, turned into the chunk's loss and into the gradients of the hidden
states and of the output weight, and dropped; backward only scales those gradients. This is
the approach of Liger-Kernel's fused linear cross-entropy (Hsu et al. 2024) in plain PyTorch:
no kernel of its own, so it runs on the CPU and wherever the model runs. The loss and gradients
equal the plain path's (`lm_head`, then `F.cross_entropy` in fp32) within float rounding
(tests/train/test_chunked_loss.py).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

IGNORE = -100


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int
    ) -> torch.Tensor:
        want_hidden, want_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_hidden = torch.zeros_like(hidden) if want_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if want_weight else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk):
            part = hidden[start : start + chunk]
            wanted = targets[start : start + chunk]
            valid = wanted != IGNORE
            index = wanted.clamp_min(0).unsqueeze(1)
            logits = (part @ weight.t()).float()
            lse = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, index).squeeze(1)
            total += ((lse - picked) * valid).sum()
            if grad_hidden is None and grad_weight is None:
                continue
            # d(loss sum)/d(logits): softmax minus the target's one-hot, on valid tokens only
            grad = torch.exp(logits.sub_(lse.unsqueeze(1)))
            grad.scatter_add_(1, index, torch.full_like(picked, -1.0).unsqueeze(1))
            grad.mul_(valid.unsqueeze(1))
            grad = grad.to(part.dtype)
            if grad_hidden is not None:
                grad_hidden[start : start + chunk] = grad @ weight
            if grad_weight is not None:
                grad_weight.addmm_(grad.t().float(), part.float())
        ctx.save_for_backward(
            grad_hidden if grad_hidden is not None else torch.empty(0),
            grad_weight if grad_weight is not None else torch.empty(0),
        )
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        grad_hidden, grad_weight = ctx.saved_tensors
        hidden = grad_hidden * grad_output if ctx.needs_input_grad[0] else None
        weight = (
            (grad_weight * grad_output).to(ctx.weight_dtype) if ctx.needs_input_grad[1] else None
        )
        return hidden, weight, None, None


def logits_loss_sum(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Summed cross-entropy (fp32) of whole logits against the masked-in targets."""
    targets = targets.masked_fill(~mask, IGNORE)
    return F.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE, reduction="sum"
    )


def chunked_loss_sum(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    chunk_tokens: int,
) -> torch.Tensor:
    """Summed cross-entropy (fp32) of `hidden @ weight.T` against the masked-in `targets`,
    `chunk_tokens` tokens at a time. hidden: (..., dim); targets and mask: hidden's leading
    shape."""
    flat_targets = targets.masked_fill(~mask, IGNORE).reshape(-1)
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    return _ChunkedLinearCrossEntropy.apply(flat_hidden, weight, flat_targets, chunk_tokens)
