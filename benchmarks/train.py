"""Speed of the `llm-train pretrain` loop next to a minimal plain-PyTorch loop.

Both train the same model (`llm_pretrain.train.model.Transformer`, same config, same seed) on
the same rows of the same packed shards, with the same batch: `--micro-rows` rows per forward
pass, `--accumulation` passes per optimizer step.

- ours: `pretrain()`: FSDP2 over a one-process group, loss over the step's target tokens,
  gradient clipping, NaN check, a metrics line every step. The timed span is steps `--warmup`
  to `--steps`, from the `elapsed_s` of its metrics lines: data loading and logging are in it,
  the final evaluation and checkpoint are not.
- plain: the model unwrapped, `torch.optim.AdamW`, cross-entropy, backward, clip_grad_norm_,
  step, over batches read from the same shards; the same span timed with perf_counter.

On a GPU (`--device cuda`) both run bf16 (ours: FSDP2 mixed precision; plain: autocast) and,
with `--compile`, compile each block; the report adds MFU against the device's peak. Every
variant runs in a process of its own, `--rounds` times interleaved. The
goal printed: ours >= 0.95x plain steps/s, from the median step time over all rounds.
Nothing is asserted.

    .venv/bin/python benchmarks/train.py [--dim 256 --layers 4 --heads 4 --seq-len 256
        --vocab 8192 --micro-rows 8 --accumulation 2 --steps 40 --warmup 10 --rounds 3]
    .venv/bin/python benchmarks/train.py --device cuda --model 125M --seq-len 2048
        --micro-rows 16 --accumulation 1 --compile
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus_shards import random_token_data
from harness import best, goal, interleaved, median, report, run_child

if TYPE_CHECKING:
    from llm_pretrain.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work" / "train"
VARIANTS = ["ours", "plain"]


def model_overrides(args: argparse.Namespace) -> list[str]:
    """The model's settings: a configs/model recipe's (--model) or --dim, --layers, --heads."""
    if args.model:
        return [f"model.max_seq_len={max(args.seq_len, 2048)}"]
    return [
        f"model.dim={args.dim}",
        f"model.n_layers={args.layers}",
        f"model.n_heads={args.heads}",
        f"model.max_seq_len={args.seq_len}",
    ]


def train_config(args: argparse.Namespace, out: Path) -> TrainConfig:
    """The training config both variants take their model, seed, optimizer and batch from."""
    from llm_pretrain.train.config import load_train_config

    recipe = WORK / "recipe.yaml"
    model = f"model: {ROOT / 'configs' / 'model' / (args.model + '.yaml')}\n" if args.model else ""
    recipe.write_text(model)
    rows = args.micro_rows * args.accumulation
    return load_train_config(
        recipe,
        [
            *model_overrides(args),
            f"max_steps={args.steps}",
            f"batch.global_tokens={rows * args.seq_len}",
            f"batch.micro_batch_rows={args.micro_rows}",
            f"checkpoint.every_steps={args.steps}",
            f"eval.every_steps={args.steps}",
            "eval.max_rows=8",
            f"runtime.device={args.device}",
            f"runtime.compile={str(args.compile).lower()}",
            f"runtime.loss_chunk_tokens={args.loss_chunk_tokens}",
            f"out={out}",
        ],
    )


def prepare(args: argparse.Namespace) -> Path:
    """Random ids in the format of `llm-data tokenize` (the speed does not depend on them),
    enough rows for every step; kept for the same vocabulary and sequence length."""
    data = WORK / f"data-v{args.vocab}-s{args.seq_len}"
    return random_token_data(
        data, args.vocab, args.seq_len, args.micro_rows * args.accumulation * args.steps
    )


# ---------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------


def run_ours(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    """`pretrain()`; the timed span from the `elapsed_s` of its metrics lines."""
    from llm_pretrain.train.metrics import read_metrics
    from llm_pretrain.train.trainer import pretrain

    out = WORK / "run-ours"
    shutil.rmtree(out, ignore_errors=True)
    result = pretrain(train_config(args, out), data, out, show_progress=False)
    records = read_metrics(out / "metrics.jsonl")
    elapsed = {r["step"]: r["elapsed_s"] for r in records if "loss" in r}
    steps = range(args.warmup + 1, args.steps + 1)
    return {
        "seconds": elapsed[args.steps] - elapsed[args.warmup],
        "step_seconds": [elapsed[step] - elapsed[step - 1] for step in steps],
        "parameters": result.parameters,
        "final_loss": result.losses[args.steps],
    }


def run_plain(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    """The plain PyTorch loop over the same batches; the same span timed with perf_counter."""
    import torch
    import torch.nn.functional as F

    from llm_pretrain.tokenizer.shards import open_split
    from llm_pretrain.train.data import TokenBatches
    from llm_pretrain.train.model import Transformer

    config = train_config(args, WORK / "run-plain")
    model_config = config.model.model_copy(update={"vocab_size": args.vocab})
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    torch.manual_seed(config.seed)
    model = Transformer(model_config).to(device)
    if args.compile:
        for block in model.model.layers:
            block.compile()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.optimizer.lr, weight_decay=config.optimizer.weight_decay
    )
    batches = TokenBatches(open_split(data, "train"), args.micro_rows, seed=config.seed)
    bf16 = device.type == "cuda"
    started = 0.0
    loss = torch.zeros(())
    step_seconds = []
    for step in range(args.steps):
        step_started = time.perf_counter()
        if step == args.warmup:
            started = step_started
        for _ in range(args.accumulation):
            batch = batches.next_batch()
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                logits = model(batch.inputs.to(device))
            loss = F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.to(device).flatten())
            (loss / args.accumulation).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optimizer.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()  # ours reads the loss every step too (and so waits for the GPU)
        if step >= args.warmup:
            step_seconds.append(time.perf_counter() - step_started)
    return {
        "seconds": time.perf_counter() - started,
        "step_seconds": step_seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": loss.item(),
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def device_peak(args: argparse.Namespace) -> tuple[str, float | None]:
    """The device's name and its peak FLOP/s (None on CPU: no MFU)."""
    import torch

    from llm_pretrain.train.flops import peak_flops

    if args.device != "cuda":
        return "cpu", None
    name = torch.cuda.get_device_name()
    return name, peak_flops(name)


def print_report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> None:
    """Steps and tokens per second of both, their ratio, MFU on a GPU, and the goals."""
    from llm_pretrain.train.config import load_train_config
    from llm_pretrain.train.flops import flops_per_token
    from llm_pretrain.train.model import Transformer

    tokens_per_step = args.micro_rows * args.accumulation * args.seq_len
    # Steps per second from the median step time of all rounds: robust to the spikes of other
    # work on a shared machine, which a total over the span is not.
    step = {name: median(t for r in results[name] for t in r["step_seconds"]) for name in VARIANTS}
    fastest = {name: best(results[name]) for name in VARIANTS}
    config = load_train_config(None, model_overrides(args)).model
    if args.model:
        config = train_config(args, WORK / "report").model
    config = config.model_copy(update={"vocab_size": args.vocab})
    import torch

    with torch.device("meta"):
        model = Transformer(config)
    per_token = flops_per_token(config, model.matmul_parameter_count(), args.seq_len)
    device, peak = device_peak(args)
    print(
        f"\nmodel {model.parameter_count() / 1e6:.1f}M parameters, seq {args.seq_len}, "
        f"{args.micro_rows} rows x {args.accumulation} micro-batches = {tokens_per_step:,} "
        f"tokens per step, {device}{', compiled' if args.compile else ''}; steps "
        f"{args.warmup + 1}-{args.steps} timed, median step of {args.rounds} rounds"
    )
    plain_rate = 1 / step["plain"]
    for name in VARIANTS:
        rate = 1 / step[name]
        tokens = rate * tokens_per_step
        mfu = f"  MFU {tokens * per_token / peak:6.1%}" if peak else ""
        print(
            f"  {name:<6} {rate:7.2f} steps/s  {tokens:12,.0f} tokens/s  "
            f"ratio {rate / plain_rate:5.3f}{mfu}  (last loss {fastest[name]['final_loss']:.3f})"
        )
    ratio = step["plain"] / step["ours"]
    goal("ours >= 0.95x plain steps/s", ratio >= 0.95, indent="  ", sep=": ")
    if args.device == "cuda" and peak:
        ours_mfu = tokens_per_step / step["ours"] * per_token / peak
        goal("MFU >= 45% (H100)", ours_mfu >= 0.45, indent="  ", sep=": ")


def main() -> None:
    """Parent: rounds of both variants in children, then the report; child: one variant."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a configs/model name (125M, 350M, ...) instead of --dim")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--micro-rows", type=int, default=8)
    parser.add_argument("--accumulation", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=10, help="untimed first steps")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile each block")
    parser.add_argument(
        "--loss-chunk-tokens",
        type=int,
        default=0,
        help="ours: runtime.loss_chunk_tokens (the output layer and loss in chunks); 0: off",
    )
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    data = prepare(args)
    if args.variant:
        run = run_ours if args.variant == "ours" else run_plain
        report(run(args, data))
        return
    argv = sys.argv[1:]
    results = interleaved(
        VARIANTS,
        args.rounds,
        lambda name: run_child(__file__, name, argv),
        "round {round}: {name:<6} {seconds:7.2f} s",
        stream=sys.stdout,
    )
    print_report(args, results)


if __name__ == "__main__":
    main()
