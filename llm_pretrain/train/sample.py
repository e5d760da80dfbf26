"""`llm-train sample`: text from a checkpoint or an exported folder, token by token.

Generation runs the prompt once into a KV cache, then one position per new token. Sampling:
temperature 0 is greedy (argmax); otherwise logits / temperature, cut to the top-k tokens and
to the smallest set whose probability reaches top-p (nucleus sampling, Holtzman et al. 2019),
drawn with a seeded generator. Generation stops at `<|endoftext|>`, at `max_new_tokens` or at
the model's `max_seq_len`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from tokenizers import Tokenizer

from llm_pretrain.train.export import load_model
from llm_pretrain.train.hf_import import is_hf_folder, load_exported, load_tokenizer
from llm_pretrain.train.integrity import check_finite
from llm_pretrain.train.model import KVCache, Transformer
from llm_pretrain.train.runtime import TrainError

END_OF_TEXT = "<|endoftext|>"


def load_for_sampling(path: Path) -> tuple[Transformer, Tokenizer]:
    """A checkpoint, a run folder or an exported folder, with its tokenizer (a damaged
    checkpoint and weights that are not finite are refused)."""
    if is_hf_folder(path):
        model, folder = load_exported(path), path
        check_finite(model.state_dict(), path)
    else:
        model, state = load_model(path)
        folder = Path(state["path"])
    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise TrainError(f"{folder} has no tokenizer.json")
    return model, load_tokenizer(tokenizer_file)


def pick(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator,
) -> int:
    """The next token from the last position's logits."""
    logits = logits.float()
    if temperature == 0:
        return int(logits.argmax())
    logits = logits / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        ordered, order = torch.sort(logits, descending=True)
        cumulative = ordered.softmax(-1).cumsum(-1)
        drop = cumulative - ordered.softmax(-1) >= top_p  # keep up to the token reaching p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return int(torch.multinomial(logits.softmax(-1), 1, generator=generator))


@torch.no_grad()
def generate(
    model: Transformer,
    prompt: list[int],
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    stop_id: int | None = None,
    use_cache: bool = True,
) -> Iterator[int]:
    """New token ids, one at a time (without the cache: the whole sequence each step)."""
    if not prompt:
        raise TrainError("the prompt is empty")
    generator = torch.Generator().manual_seed(seed)
    ids = list(prompt)
    room = model.config.max_seq_len - len(ids)
    if room < 0:
        raise TrainError(f"the prompt has {len(ids)} tokens, more than max_seq_len")
    cache = KVCache(model.config.n_layers) if use_cache else None
    step_input = torch.tensor([ids])
    for _ in range(min(max_new_tokens, room)):
        logits = model(step_input, cache)[0, -1]
        token = pick(logits, temperature, top_k, top_p, generator)
        if token == stop_id:
            return
        yield token
        ids.append(token)
        step_input = torch.tensor([[token]]) if cache is not None else torch.tensor([ids])


def stream_text(tokenizer: Tokenizer, tokens: Iterator[int]) -> Iterator[str]:
    """Decoded text as it grows; a byte sequence cut inside a character waits for the rest."""
    ids: list[int] = []
    shown = ""
    for token in tokens:
        ids.append(token)
        text = tokenizer.decode(ids)
        if text.endswith("\ufffd"):
            continue
        yield text[len(shown) :]
        shown = text
    text = tokenizer.decode(ids)
    if len(text) > len(shown):
        yield text[len(shown) :]
