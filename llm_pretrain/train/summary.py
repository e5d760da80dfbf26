"""What `llm-train pretrain` and `llm-train export` print when they finish."""

from __future__ import annotations

from typing import Any


def format_train_summary(result: dict[str, Any]) -> str:
    """The console summary of a run, from `RunResult.to_json()`."""

    def loss(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    lines = [f"pretrain  {result['out']}"]
    resumed = f" (resumed at step {result['start_step']})" if result["start_step"] else ""
    lines.append(f"  steps         {result['steps']:,}{resumed}, {result['tokens']:,} tokens")
    lines.append(f"  parameters    {result['parameters']:,}")
    if result.get("init_from"):
        before = result.get("init_val_loss")
        at_start = f" (val loss {before:.4f} before training)" if before is not None else ""
        lines.append(f"  init from     {result['init_from']}{at_start}")
    lines.append(f"  train loss    {loss(result['train_loss'])}")
    if result["val_loss"] is not None:
        lines.append(
            f"  val loss      {loss(result['val_loss'])} (perplexity {result['val_ppl']:,.2f}); "
            f"unigram baseline {loss(result['unigram_loss'])}"
        )
    if result["tokens_per_s"]:
        mfu = f"{result['mfu']:.1%}" if result["mfu"] is not None else "n/a (no peak for device)"
        lines.append(f"  speed         {result['tokens_per_s']:,.0f} tokens/s, MFU {mfu}")
    lines.append(f"  checkpoint    {result['checkpoint'] or '-'}")
    lines.append(f"  time          {result['elapsed_s']:,.1f} s")
    return "\n".join(lines) + "\n"


def format_export_summary(result: dict[str, Any]) -> str:
    """The console summary of `export()`'s result."""
    return (
        f"export  {result['checkpoint']} (step {result['step']}) -> {result['out']}\n"
        f"  parameters    {result['parameters']:,} ({result['dtype']})\n"
        f"  weights       {', '.join(result['weights'])}\n"
        f"  tokenizer     {', '.join(result['tokenizer']) or '-'}\n"
    )
