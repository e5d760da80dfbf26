"""What `llm-train pretrain` and `llm-train export` print: as a run starts, as it goes, and
when they finish."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm


class StepClock:
    """Elapsed time and ETA of this process's steps. Once there are others, the first step is
    left out of the mean step time: it compiles and warms up, and would inflate the ETA."""

    def __init__(self, start_step: int, last_step: int, now: float) -> None:
        self.start_step, self.last_step = start_step, last_step
        self.started = now
        self.first_done: float | None = None

    def step_done(self, now: float) -> None:
        if self.first_done is None:
            self.first_done = now

    def elapsed(self, now: float) -> float:
        return now - self.started

    def eta(self, done: int, now: float) -> float | None:
        """Seconds until `last_step`, after step `done` finished at `now`; None before a step."""
        steps = done - self.start_step
        if self.first_done is None or steps < 1:
            return None
        if steps == 1:
            mean = self.first_done - self.started
        else:
            mean = (now - self.first_done) / (steps - 1)
        return mean * max(0, self.last_step - done)

    def describe(self, done: int, now: float) -> str:
        """`elapsed 01:05, ETA 12:40`, for a step line."""
        eta = self.eta(done, now)
        shown = "?" if eta is None else tqdm.format_interval(eta)
        return f"elapsed {tqdm.format_interval(self.elapsed(now))}, ETA {shown}"


def format_start_line(
    *,
    parameters: int,
    processes: int,
    accumulation: int,
    micro_batch_rows: int,
    seq_len: int,
    start_step: int,
    max_steps: int,
    last_step: int,
    device: str,
) -> str:
    """The line logged before the first step, so that a long start-up says what is coming."""
    tokens_per_step = processes * accumulation * micro_batch_rows * seq_len
    plural = "es" if processes != 1 else ""
    micro = "es" if accumulation != 1 else ""
    parts = [
        f"pretrain: {parameters:,} parameters",
        f"{tokens_per_step:,} tokens a step ({processes} process{plural} x {accumulation} "
        f"micro-batch{micro} of {micro_batch_rows} rows x {seq_len} tokens)",
        f"{max_steps:,} steps, {tokens_per_step * max_steps:,} tokens in all",
    ]
    where = (
        f"resuming at step {start_step:,} of {max_steps:,}" if start_step else "starting at step 0"
    )
    if last_step < max_steps:
        where += f", stopping after step {last_step:,}"
    parts.append(where)
    parts.append(device)
    return "; ".join(parts)


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
    if result.get("val_bpb") is not None:
        lines.append(f"  val bits/byte {result['val_bpb']:.4f}")
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
