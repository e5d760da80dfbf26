"""When the training loop logs, evaluates, checkpoints and stops, and the work each does.

Each part takes its section of the recipe and decides for itself whether a step is one of its
own (`due`), so that `Trainer.run` reads as the loop: a step, then whatever is due after it.

    StepSpan      the steps of one call: where it starts, where it ends, where the run ends
    ProgressLog   metrics lines, step log lines and the progress bar's figures: every
                  log.every_steps steps and after the call's last step
    Validator     the validation loss: every eval.every_steps steps and after step max_steps
    Checkpointer  a checkpoint: every checkpoint.every_steps steps, after the call's last step
                  and after a step in which a stop was asked
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from llm_pretrain.tokenizer.shards import PackedReader
from llm_pretrain.train.checkpoint import save_checkpoint
from llm_pretrain.train.config import TrainConfig
from llm_pretrain.train.evaluate import Evaluation, evaluate, perplexity
from llm_pretrain.train.metrics import MetricsLog
from llm_pretrain.train.runtime import Runtime
from llm_pretrain.train.summary import StepClock

# Everything a run says goes out under one logger name, the trainer's, whichever part says it.
log = logging.getLogger("llm_pretrain.train.trainer")


@dataclass(frozen=True)
class Every:
    """A cadence: every `steps` steps, and at each step in `also`."""

    steps: int
    also: tuple[int, ...] = ()

    def due(self, step: int) -> bool:
        """Whether the step that made `step` steps done is one of the cadence's."""
        return step % self.steps == 0 or step in self.also


@dataclass(frozen=True)
class StepSpan:
    """The steps one call trains: after step `start` (resumed) to step `last`; `total` is the
    run's max_steps, which --stop-after-steps does not move (nor the schedule with it)."""

    start: int
    last: int
    total: int

    @classmethod
    def build(cls, config: TrainConfig, start: int, stop_after_steps: int | None) -> StepSpan:
        """From the recipe: a call resumed after `start` may end early at `stop_after_steps`."""
        last = config.max_steps
        if stop_after_steps is not None:
            last = min(last, stop_after_steps)
        return cls(start, last, config.max_steps)

    def interrupted(self, step: int, stopping: bool) -> bool:
        """Whether a stop asked in `step` ends the run early (in its last step it just ends)."""
        return stopping and step < self.total

    def completed(self, step: int) -> bool:
        """Whether this call trained the run's last step, so that its summary is due."""
        return step == self.total > self.start


@dataclass
class RunClock:
    """Training seconds across resumes: those before this call (`before`) and this call's."""

    before: float
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self, now: float | None = None) -> float:
        """The run's seconds at perf_counter `now` (default: this moment), for metrics and state."""
        return self.before + (time.perf_counter() if now is None else now) - self.started


class ProgressLog:
    """Training lines of metrics.jsonl, step log lines and the bar, so that progress shows while
    a run goes: mean loss and speed over the steps since the line before."""

    def __init__(
        self,
        config: TrainConfig,
        span: StepSpan,
        metrics: MetricsLog,
        clock: RunClock,
        runtime: Runtime,
        tokens_per_step: int,
        utilisation: Callable[[float], float | None],
        show: bool,
        draw: bool,
    ) -> None:
        self.cadence = Every(config.log.every_steps, (span.last,))
        self.total, self.metrics, self.clock, self.runtime = span.total, metrics, clock, runtime
        self.tokens_per_step, self.utilisation, self.show = tokens_per_step, utilisation, show
        self.bar = tqdm(
            total=span.total,
            initial=span.start,
            disable=not draw,
            desc="pretrain",
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
        )
        # Log lines go through tqdm.write while the bar is drawn, so they do not break it.
        self.redirect = contextlib.ExitStack()
        if draw:
            self.redirect.enter_context(logging_redirect_tqdm())
        self.steps = StepClock(span.start, span.last, clock.started)
        self.window_start, self.window_losses, self.window_tokens = clock.started, [], 0
        # The latest line's figures, for the run's result.
        self.train_loss: float | None = None
        self.tokens_per_s: float | None = None
        self.mfu: float | None = None

    def due(self, step: int) -> bool:
        """Whether a line follows `step`: every log.every_steps steps and the call's last."""
        return self.cadence.due(step)

    def step_done(self, loss: float) -> None:
        """Count a finished step into the window and the bar, so that lines average over steps."""
        self.window_losses.append(loss)
        self.window_tokens += self.tokens_per_step
        self.bar.update(1)
        self.steps.step_done(time.perf_counter())

    def write(
        self,
        step: int,
        lr: float,
        grad_norm: float,
        tokens: int,
        source_tokens: dict[str, int] | None = None,
    ) -> None:
        """Report the window (metrics line, bar, log line when shown), then start a new one;
        a mixture's line also holds the tokens each source gave so far (`tokens/NAME`)."""
        now = time.perf_counter()
        speed = self.window_tokens / max(now - self.window_start, 1e-9)
        utilisation = self.utilisation(speed)
        mean_loss = sum(self.window_losses) / len(self.window_losses)
        self.metrics.write(
            {
                "step": step,
                "loss": mean_loss,
                "lr": lr,
                "grad_norm": grad_norm,
                "tokens": tokens,
                "tokens_per_s": speed,
                "mfu": utilisation,
                "peak_mem_gib": self.runtime.peak_memory_gib(),
                "elapsed_s": self.clock.elapsed(now),
                **{f"tokens/{name}": count for name, count in (source_tokens or {}).items()},
            }
        )
        self.bar.set_postfix(loss=f"{mean_loss:.3f}", tok_s=f"{speed:,.0f}", refresh=False)
        if self.show:
            log.info(
                "step %d/%d: loss %.4f, lr %.3g, grad norm %.3f, %s tokens/s, %s",
                step,
                self.total,
                mean_loss,
                lr,
                grad_norm,
                f"{speed:,.0f}",
                self.steps.describe(step, now),
            )
        self.train_loss, self.tokens_per_s, self.mfu = mean_loss, speed, utilisation
        self.window_start, self.window_losses, self.window_tokens = time.perf_counter(), [], 0

    def close(self) -> None:
        """Stop routing log lines through the bar, then close it, so the terminal is left clean."""
        self.redirect.close()
        self.bar.close()


@dataclass(frozen=True)
class ValSet:
    """The validation rows of one data source, and its weight in the mixture."""

    name: str
    weight: float
    rows: PackedReader


class Validator:
    """The validation loss and bits per byte as a metrics line (and a log line when shown), so
    that a run shows whether it generalises; nothing without validation rows.

    A mixture's sources are evaluated each on its own rows (`val_loss/NAME`, `val_bpb/NAME`);
    `val_loss` and `val_bpb` are then their means weighted by the mixture's weights (over the
    sources that have validation rows): the loss on text drawn as the training rows are."""

    def __init__(
        self,
        config: TrainConfig,
        model: torch.nn.Module,
        sets: list[ValSet],
        token_bytes: np.ndarray | None,
        runtime: Runtime,
        metrics: MetricsLog,
        show: bool,
        per_source: bool = False,
    ) -> None:
        self.cadence = Every(config.eval.every_steps, (config.max_steps,))
        self.batch_rows, self.max_rows = config.batch.micro_batch_rows, config.eval.max_rows
        self.model, self.sets, self.token_bytes, self.runtime = model, sets, token_bytes, runtime
        self.metrics, self.show, self.per_source = metrics, show, per_source
        self.by_source: dict[str, Evaluation] = {}

    def due(self, step: int) -> bool:
        """Whether `step` is evaluated: every eval.every_steps steps and the run's last."""
        return self.cadence.due(step)

    def evaluation(self, step: int) -> Evaluation | None:
        """The validation loss and bits per byte after `step`, written to the metrics; None
        without val rows."""
        if not self.sets:
            return None
        self.by_source = {
            part.name: evaluate(
                self.model,
                part.rows,
                self.runtime,
                self.batch_rows,
                self.max_rows,
                self.token_bytes,
            )  # fmt: skip
            for part in self.sets
        }
        result = _weighted(self.sets, self.by_source)
        line = {"step": step, "val_loss": result.loss, "val_ppl": perplexity(result.loss)}
        line["val_bpb"] = result.bpb
        if self.per_source:
            for name, part in self.by_source.items():
                line[f"val_loss/{name}"], line[f"val_bpb/{name}"] = part.loss, part.bpb
        self.metrics.write(line)
        return result

    def before_training(self, source: str | None) -> Evaluation | None:
        """An imported model's (step 0): where continued pretraining starts from."""
        result = self.evaluation(0)
        if result is not None and self.show:
            log.info(
                "imported %s: val loss %.4f%s%s", source, result.loss, _bits(result), self._parts()
            )
        return result

    def after(self, step: int) -> Evaluation | None:
        """The validation loss after `step`, with its log line when shown."""
        result = self.evaluation(step)
        if result is not None and self.show:
            ppl = f"{perplexity(result.loss):,.2f}"
            log.info(
                "step %d: val loss %.4f (ppl %s%s)%s",
                step, result.loss, ppl, _bits(result), self._parts(),
            )  # fmt: skip
        return result

    def _parts(self) -> str:
        """Each source's loss, for a mixture's log line."""
        if not self.per_source:
            return ""
        return "; " + ", ".join(f"{name} {r.loss:.4f}" for name, r in self.by_source.items())


def _weighted(sets: list[ValSet], results: dict[str, Evaluation]) -> Evaluation:
    """One source's result, or the mixture's: losses and bits per byte weighted by the
    sources' weights, renormalised over those evaluated."""
    if len(sets) == 1:
        return results[sets[0].name]
    total = sum(part.weight for part in sets)
    loss = sum(part.weight * results[part.name].loss for part in sets) / total
    bits = [results[part.name].bpb for part in sets]
    bpb = None
    if all(b is not None for b in bits):
        bpb = (
            sum(part.weight * b for part, b in zip(sets, bits, strict=True) if b is not None)
            / total
        )
    return Evaluation(
        loss,
        sum(r.tokens for r in results.values()),
        bpb,
        sum(r.text_bytes for r in results.values()),
    )


def _bits(result: Evaluation) -> str:
    return f", {result.bpb:.4f} bits/byte" if result.bpb is not None else ""


class Checkpointer:
    """Checkpoints of the run, so that it can continue where it stopped; the last
    checkpoint.keep_last are kept."""

    def __init__(
        self,
        config: TrainConfig,
        span: StepSpan,
        folder: Path,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        runtime: Runtime,
        files: Callable[[], dict[str, Path]],
        state: Callable[[int, int, int, float], dict[str, Any]],
    ) -> None:
        self.cadence = Every(config.checkpoint.every_steps, (span.last,))
        self.keep_last = config.checkpoint.keep_last
        self.folder, self.model, self.optimizer, self.runtime = folder, model, optimizer, runtime
        self.files, self.state = files, state

    def due(self, step: int, stopping: bool) -> bool:
        """Whether `step` is saved: on the cadence, or a stop was asked and the run ends there."""
        return self.cadence.due(step) or stopping

    def save(self, step: int, position: int, tokens: int, elapsed: float) -> Path:
        """Write checkpoint `step` (a collective call) so that the run can continue after it."""
        return save_checkpoint(
            self.folder,
            step,
            self.model,
            self.optimizer,
            self.state(step, position, tokens, elapsed),
            self.files(),
            self.runtime,
            self.keep_last,
        )
