"""The trainer's GPU figures in one command: per model (125M, 350M, 1B; rows of 2048 tokens of
a 32k vocabulary), a plain PyTorch loop and `llm-train pretrain` with each compile mode, the
chunked loss on and off and FP8 on and off: tokens/s, MFU and peak memory, as a table.

Every variant runs in a process of its own (fresh CUDA state and compile caches), `--steps`
steps of which the first `--warmup` are not timed (they compile). Variants run in order of
importance while `--budget-s` lasts (estimated from the ones before); those left out are named
in the table. Results are appended to OUT/results.jsonl as each variant finishes and the table
is written to OUT/table.md, so a run stopped by a time limit keeps what it measured. The
default matrix fits in about 8 minutes on one H100 or H200.

    plain         the model unwrapped, each block compiled, bf16 autocast, fused AdamW
    plain-model   the same, the forward and the loss compiled as one function
    blocks        ours: FSDP2, bf16, runtime.compile=blocks (the default on GPUs)
    model         ours: runtime.compile=model (the forward with the loss in one compiled call)
    model+chunk   ours: model, runtime.loss_chunk_tokens=4096
    blocks+chunk  ours: blocks, runtime.loss_chunk_tokens=4096
    model+fp8     ours: model, runtime.precision=fp8 (tensorwise scales)
    blocks+fp8    ours: blocks, runtime.precision=fp8

MFU is against the device's dense bf16 peak for every variant, FP8 included. `--loss-steps N`
adds a run of N steps of 1B in bf16 and in FP8 on the same rows and prints both final losses
(the issue's goal: within 1% after 200 steps); give `--data` a real token dataset for it (random
ids only reach the unigram loss).

    python benchmarks/gpu_train.py --out /tmp/gpu                      # the default matrix
    python benchmarks/gpu_train.py --out /tmp/gpu --loss-steps 200 --data corpus/tokens
    python benchmarks/gpu_train.py --out /tmp/cpu --device cpu --models tiny --steps 4 \\
        --warmup 1                                                     # the script's own check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from corpus_shards import random_token_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (model, rows per micro-batch): the table; tiny is for checking the script on a CPU.
MODELS = {"125M": 16, "350M": 16, "1B": 8, "tiny": 4}
# (model, variant) in order of importance: what the default budget runs first.
PLAN = [
    ("125M", "plain"),
    ("125M", "blocks"),
    ("125M", "model"),
    ("125M", "plain-model"),
    ("125M", "model+chunk"),
    ("125M", "model+fp8"),
    ("1B", "blocks"),
    ("1B", "model"),
    ("1B", "model+fp8"),
    ("350M", "blocks"),
    ("350M", "model"),
    ("125M", "blocks+chunk"),
    ("125M", "blocks+fp8"),
    ("1B", "blocks+fp8"),
    ("350M", "model+fp8"),
]
CHUNK = 4096
SETTINGS = {
    "blocks": ["runtime.compile=blocks"],
    "model": ["runtime.compile=model"],
    "model+chunk": ["runtime.compile=model", f"runtime.loss_chunk_tokens={CHUNK}"],
    "blocks+chunk": ["runtime.compile=blocks", f"runtime.loss_chunk_tokens={CHUNK}"],
    "model+fp8": ["runtime.compile=model", "runtime.precision=fp8"],
    "blocks+fp8": ["runtime.compile=blocks", "runtime.precision=fp8"],
}


def recipe(args: argparse.Namespace, model: str, steps: int, out: Path, extra: list[str]) -> Any:
    """The training config every variant of `model` takes its shapes and optimizer from."""
    from llm_pretrain.train.config import load_train_config

    rows = MODELS[model]
    file = Path(args.out) / f"recipe-{model}.yaml"
    lines = [] if model == "tiny" else [f"model: {ROOT / 'configs' / 'model' / (model + '.yaml')}"]
    file.write_text("\n".join(lines) + "\n")
    shapes = ["model.dim=64", "model.n_layers=2", "model.n_heads=4"] if model == "tiny" else []
    shapes.append(f"model.max_seq_len={max(args.seq_len, 2048)}")
    return load_train_config(
        file,
        [
            *shapes,
            f"max_steps={steps}",
            f"batch.global_tokens={rows * args.seq_len}",
            f"batch.micro_batch_rows={rows}",
            f"checkpoint.every_steps={steps}",
            f"eval.every_steps={steps}",
            "eval.max_rows=8",
            f"runtime.device={args.device}",
            f"out={out}",
            *extra,
        ],
    )


# -- one variant (in its own process) --------------------------------------------------------


def run_ours(args: argparse.Namespace, model: str, variant: str, data: Path) -> dict[str, Any]:
    """`pretrain()` with the variant's settings; steps after --warmup timed from metrics."""
    import shutil

    from llm_pretrain.train.metrics import read_metrics
    from llm_pretrain.train.trainer import pretrain

    out = Path(args.out) / "runs" / f"{model}-{variant}"
    shutil.rmtree(out, ignore_errors=True)
    config = recipe(args, model, args.steps, out, SETTINGS[variant])
    result = pretrain(config, data, out, show_progress=False)
    lines = [r for r in read_metrics(out / "metrics.jsonl") if "loss" in r]
    elapsed = {r["step"]: r["elapsed_s"] for r in lines}
    seconds = elapsed[args.steps] - elapsed[args.warmup]
    return {
        "tokens_per_s": (args.steps - args.warmup) * config.batch.global_tokens / seconds,
        "peak_gib": max(r["peak_mem_gib"] for r in lines),
        "final_loss": result.losses[args.steps],
        "parameters": result.parameters,
    }


def run_plain(args: argparse.Namespace, model: str, variant: str, data: Path) -> dict[str, Any]:
    """The model unwrapped in a plain loop: blocks compiled, or forward and loss as one."""
    import torch
    import torch.nn.functional as F

    from llm_pretrain.tokenizer.shards import open_split
    from llm_pretrain.train.data import TokenBatches
    from llm_pretrain.train.model import Transformer

    config = recipe(args, model, args.steps, Path(args.out) / "runs" / "plain", [])
    device = torch.device(args.device)
    torch.manual_seed(config.seed)
    net = Transformer(config.model.model_copy(update={"vocab_size": args.vocab})).to(device)
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.optimizer.lr, fused=fused)

    def loss_of(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            logits = net(inputs)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())

    if variant == "plain-model":
        loss_of = torch.compile(loss_of)
    else:
        for block in net.model.layers:
            block.compile()
    batches = TokenBatches(open_split(data, "train"), MODELS[model], seed=config.seed)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started, loss = 0.0, torch.zeros(())
    for step in range(args.steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        batch = batches.next_batch()
        loss = loss_of(batch.inputs.to(device), batch.targets.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), config.optimizer.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()  # ours reads the loss every step too
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return {
        "tokens_per_s": (args.steps - args.warmup) * config.batch.global_tokens / seconds,
        "peak_gib": peak,
        "final_loss": loss.item(),
        "parameters": sum(p.numel() for p in net.parameters()),
    }


def run_variant(args: argparse.Namespace) -> None:
    """Child: one variant; its result as the last line of output (an error as one line)."""
    model, variant = args.variant.split(":")
    data = random_token_data(
        Path(args.out) / f"data-v{args.vocab}-s{args.seq_len}",
        args.vocab,
        args.seq_len,
        MODELS[model] * max(args.steps, args.loss_steps),
    ) if args.data is None else Path(args.data)  # fmt: skip
    run = run_plain if variant.startswith("plain") else run_ours
    try:
        result = run(args, model, variant, data)
    except Exception as exc:  # a refusal (fp8 on a CPU) or an error: one line in the table
        result = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
    print(json.dumps(result))


# -- the matrix --------------------------------------------------------------------------------


def child(model: str, variant: str, timeout: float, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one variant in a fresh interpreter, with this command's options and `extra` (later
    options win); its result, or why there is none."""
    command = [sys.executable, __file__, *sys.argv[1:], *extra, "--variant", f"{model}:{variant}"]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:.0f} s (the budget)", "wall_s": timeout}
    wall = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    return {**result, "wall_s": wall}


def mfu(args: argparse.Namespace, model: str, tokens_per_s: float) -> float | None:
    """Model FLOP utilisation against the device's dense bf16 peak."""
    import torch

    from llm_pretrain.train.flops import flops_per_token, peak_flops
    from llm_pretrain.train.model import Transformer

    if args.device != "cuda":
        return None
    config = recipe(args, model, 1, Path(args.out) / "runs" / "mfu", []).model
    config = config.model_copy(update={"vocab_size": args.vocab})
    with torch.device("meta"):
        net = Transformer(config)
    per_token = flops_per_token(config, net.matmul_parameter_count(), args.seq_len)
    peak = peak_flops(torch.cuda.get_device_name())
    return tokens_per_s * per_token / peak if peak else None


def table(args: argparse.Namespace, rows: list[dict[str, Any]], skipped: list[str]) -> str:
    """The results as a Markdown table, with each variant's speed against its model's plain
    loop and its compile-blocks run."""
    import torch

    device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {device}, seq {args.seq_len}, vocab {args.vocab}, "
        f"{args.steps - args.warmup} timed steps after {args.warmup}",
        "",
        "| model | variant | tokens/s | MFU | peak GiB | vs plain | vs blocks | last loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    speed = {(r["model"], r["variant"]): r.get("tokens_per_s") for r in rows}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['variant']} | {r['error']} | | | | | |")
            continue
        rate = r["tokens_per_s"]
        share = mfu(args, r["model"], rate)
        ratios = [
            f"{rate / base:.2f}x" if base else "-"
            for base in (speed.get((r["model"], "plain")), speed.get((r["model"], "blocks")))
        ]
        used = f"{share:.1%}" if share else "-"
        peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] == r["peak_gib"] else "-"  # nan on CPU
        lines.append(
            f"| {r['model']} | {r['variant']} | {rate:,.0f} | {used} | {peak} | "
            f"{ratios[0]} | {ratios[1]} | {r['final_loss']:.4f} |"
        )
    if skipped:
        lines += ["", f"left out by the budget: {', '.join(skipped)}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for results.jsonl, table.md, runs")
    parser.add_argument("--models", default="125M,350M,1B")
    parser.add_argument("--variants", help="only these (comma-separated); default: the plan")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps (compile)")
    parser.add_argument("--budget-s", type=float, default=450)
    parser.add_argument("--loss-steps", type=int, default=0, help="1B bf16 vs fp8 loss run")
    parser.add_argument("--data", help="a token dataset instead of random ids")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        run_variant(args)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(out / "inductor"))
    models = args.models.split(",")
    wanted = args.variants.split(",") if args.variants else None
    plan = [(m, v) for m, v in PLAN if m in models and (wanted is None or v in wanted)]
    if "tiny" in models:
        plan += [("tiny", v) for v in (wanted or [v for _, v in PLAN if _ == "125M"])]
    deadline, rows, skipped, walls = time.monotonic() + args.budget_s, [], [], []
    for model, variant in plan:
        left = deadline - time.monotonic()
        if left < (max(walls) if walls else 0) * 0.8 or left < 20:
            skipped.append(f"{model} {variant}")
            continue
        result = {"model": model, "variant": variant, **child(model, variant, left)}
        walls.append(result["wall_s"])
        rows.append(result)
        print(json.dumps(result), flush=True)
        with (out / "results.jsonl").open("a") as handle:
            handle.write(json.dumps(result) + "\n")
    if args.loss_steps:
        steps = ("--steps", str(args.loss_steps), "--warmup", "1")
        for variant in ("model", "model+fp8"):
            result = {"model": "1B", "variant": f"{variant} ({args.loss_steps} steps)"}
            result.update(child("1B", variant, max(60.0, deadline - time.monotonic()), steps))
            rows.append(result)
            print(json.dumps(result), flush=True)
    text = table(args, rows, skipped)
    (out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
