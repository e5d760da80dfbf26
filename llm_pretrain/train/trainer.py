"""The pretraining loop: batches -> loss -> gradients -> AdamW, with checkpoints, evaluation and
metrics.

A step is one optimizer update over `batch.global_tokens` tokens: each process runs
`accumulation` micro-batches of `batch.micro_batch_rows` rows. The loss of a micro-batch is its
summed token losses divided by the target-token count of the whole step on all processes, so
padding never dilutes the mean and the gradient is the same for any split of the batch into
processes and micro-batches (FSDP averages gradients over processes: the loss is multiplied by
the world size to turn that mean back into the sum).
"""

from __future__ import annotations

import logging
import math
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.distributed.tensor import DTensor

from llm_pretrain.signals import GracefulStop, graceful_stop
from llm_pretrain.storage import atomic_write_bytes, atomic_write_json
from llm_pretrain.train.cadence import (
    Checkpointer,
    ProgressLog,
    RunClock,
    StepSpan,
    Validator,
    ValSet,
)
from llm_pretrain.train.checkpoint import (
    MODEL_FILE,
    latest_checkpoint,
    load_checkpoint,
    read_state,
)
from llm_pretrain.train.checkpoint_check import newest_intact
from llm_pretrain.train.config import MixSource, TrainConfig
from llm_pretrain.train.data import TokenBatches, TokenData, verify_token_data
from llm_pretrain.train.evaluate import perplexity, unigram_loss
from llm_pretrain.train.flops import flops_per_token, mfu, peak_flops
from llm_pretrain.train.hf_import import check_vocabulary, read_hf_config, read_hf_weights
from llm_pretrain.train.integrity import check_finite
from llm_pretrain.train.metrics import MetricsLog
from llm_pretrain.train.mixture import (
    RepeatWarnings,
    Seed,
    TokenMixture,
    open_mixture,
    saved_seed,
    saved_sources,
    source_seed,
)
from llm_pretrain.train.model import ModelConfig, Transformer
from llm_pretrain.train.optim import build_optimizer, set_learning_rate
from llm_pretrain.train.parallel import build_model, set_gradient_sync
from llm_pretrain.train.runtime import Runtime, TrainError, start_runtime, stop_runtime
from llm_pretrain.train.schedule import learning_rate
from llm_pretrain.train.summary import format_start_line

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
SUMMARY_FILE = "summary.json"


def foreign_run_problem(out: Path) -> str | None:
    """Why `out` may not be a run folder: it holds files and is not a run of this trainer,
    whose config.yaml, model.json and metrics.jsonl would replace files of the same names."""
    if not out.is_dir() or not any(out.iterdir()):
        return None
    if (out / CHECKPOINTS).is_dir() or (out / "metrics.jsonl").is_file():
        return None
    try:  # a run stopped before its first step: its config and model files only
        ModelConfig.model_validate_json((out / MODEL_FILE).read_text(encoding="utf-8"))
        return None if (out / "config.yaml").is_file() else f"--out {out} has no config.yaml"
    except (OSError, ValueError):
        names = sorted(path.name for path in out.iterdir())
        return (
            f"--out {out} holds other files ({names[0]}, ...); give a new folder or the folder "
            "of a run to continue"
        )


class Stopped(TrainError):
    """SIGINT or SIGTERM stopped the run after step `step`, saved in a checkpoint."""

    def __init__(self, step: int, signum: int) -> None:
        super().__init__(f"stopped at step {step}; run the same command to continue")
        self.step, self.signum = step, signum


class Diverged(TrainError):
    """The loss or the gradient norm stopped being a finite number."""


@dataclass
class Plan:
    """What the config and the data fix together."""

    model: ModelConfig
    seq_len: int
    global_rows: int
    accumulation: int

    @property
    def tokens_per_step(self) -> int:
        return self.global_rows * self.seq_len


def make_plan(config: TrainConfig, data: TokenData | TokenMixture, world: int) -> Plan:
    """Resolve the vocabulary from the data; check that batch and sequence sizes fit."""
    vocab = config.model.vocab_size or data.vocab_size
    if vocab < data.vocab_size:
        raise TrainError(
            f"model.vocab_size {vocab} is smaller than the tokenizer's {data.vocab_size} "
            f"({data.folder}); leave it empty to use the tokenizer's"
        )
    model = config.model.model_copy(update={"vocab_size": vocab})
    seq_len = data.seq_len
    if seq_len > model.max_seq_len:
        raise TrainError(
            f"the data's rows hold {seq_len} tokens, more than model.max_seq_len "
            f"{model.max_seq_len}"
        )
    rows_per_round = config.batch.micro_batch_rows * world
    if config.batch.global_tokens % (seq_len * rows_per_round):
        raise TrainError(
            f"batch.global_tokens {config.batch.global_tokens:,} is not a multiple of seq_len "
            f"{seq_len} x batch.micro_batch_rows {config.batch.micro_batch_rows} x {world} "
            f"processes = {seq_len * rows_per_round:,}"
        )
    global_rows = config.batch.global_tokens // seq_len
    return Plan(model, seq_len, global_rows, global_rows // rows_per_round)


def steps_for_tokens_per_parameter(tokens_per_parameter: float, plan: Plan) -> int:
    """The optimizer steps that give `tokens_per_parameter` tokens per parameter of the model
    (every distinct parameter, the embedding included), rounded up to a whole step."""
    with torch.device("meta"):
        parameters = Transformer(plan.model).parameter_count()
    return max(1, math.ceil(tokens_per_parameter * parameters / plan.tokens_per_step))


@dataclass
class RunResult:
    out: Path
    steps: int
    start_step: int
    tokens: int
    parameters: int
    train_loss: float | None = None
    val_loss: float | None = None
    val_bpb: float | None = None  # bits per byte; None without the tokenizer's byte table
    unigram_loss: float | None = None
    tokens_per_s: float | None = None
    mfu: float | None = None
    checkpoint: Path | None = None
    elapsed_s: float = 0.0
    init_from: str | None = None
    init_val_loss: float | None = None
    losses: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "steps": self.steps,
            "start_step": self.start_step,
            "tokens": self.tokens,
            "parameters": self.parameters,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "val_ppl": perplexity(self.val_loss) if self.val_loss is not None else None,
            "val_bpb": self.val_bpb,
            "unigram_loss": self.unigram_loss,
            "tokens_per_s": self.tokens_per_s,
            "mfu": self.mfu,
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "elapsed_s": self.elapsed_s,
            "init_from": self.init_from,
            "init_val_loss": self.init_val_loss,
        }


def clip_gradients(model: torch.nn.Module, max_norm: float) -> float:
    """The global gradient norm (over every shard of every process); clip to `max_norm`."""
    parameters = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in parameters], foreach=True)
    if isinstance(norm, DTensor):
        norm = norm.full_tensor()
    if max_norm > 0:
        torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, norm, foreach=True)
    return float(norm.item())


def _compare_resumed(
    saved: dict[str, Any], config: TrainConfig, plan: Plan, data: TokenMixture, main: bool
) -> None:
    """Refuse a resume that cannot continue the same model; note the settings that changed."""
    saved_model = saved["config"]["model"]
    if saved_model != plan.model.model_dump():
        changed = sorted(k for k, v in plan.model.model_dump().items() if saved_model.get(k) != v)
        started = saved.get("init_from")
        hint = f" (the run started with --init-from {started}: give it again)" if started else ""
        raise TrainError(
            f"the checkpoint's model differs from this config in {', '.join(changed)}{hint}; "
            "train into another --out folder to start a new model"
        )
    if saved["data"]["tokenizer_sha256"] != data.identity["tokenizer_sha256"]:
        raise TrainError("the data's tokenizer is not the one the checkpoint was trained with")
    now = config.model_dump(exclude={"model", "data", "out"})
    before = {k: v for k, v in saved["config"].items() if k not in ("model", "data", "out")}
    changed = sorted(k for k in now if now[k] != before.get(k))
    if changed and main:
        log.warning("resuming with changed settings: %s", ", ".join(changed))


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        data: TokenMixture,
        out: Path,
        runtime: Runtime,
        show_progress: bool,
        init_from: Path | None = None,
    ) -> None:
        if init_from is not None:  # the folder's model, architecture and weights
            config = config.model_copy(update={"model": read_hf_config(init_from)})
        self.config, self.data, self.out, self.runtime = config, data, out, runtime
        # A log line per metrics line; on a terminal also a bar, which log lines go above.
        self.show_progress = show_progress and runtime.is_main
        self.draw = self.show_progress and sys.stderr.isatty()
        if init_from is not None:
            check_vocabulary(init_from, config.model, data.primary)
        self.plan = make_plan(config, data, runtime.world)
        if config.tokens_per_parameter is not None:
            steps = steps_for_tokens_per_parameter(config.tokens_per_parameter, self.plan)
            config = self.config = config.model_copy(update={"max_steps": steps})
        self.checkpoints = out / CHECKPOINTS
        # An imported model's weights, unless a checkpoint of this run supersedes them.
        self.init_from = str(init_from.resolve()) if init_from else None
        weights = None
        if init_from is not None and latest_checkpoint(self.checkpoints) is None:
            weights = read_hf_weights(init_from, self.plan.model)
            check_finite(weights, init_from)  # NaN would show only as divergence at step 1
        self.imported = weights is not None
        self.model = build_model(
            self.plan.model,
            runtime,
            config.seed,
            config.runtime.activation_checkpointing,
            weights,
        )
        del weights
        self.optimizer = build_optimizer(self.model, config.optimizer)
        self.flops_per_token = flops_per_token(
            self.plan.model, self._unsharded().matmul_parameter_count(), self.plan.seq_len
        )
        self.peak = peak_flops(runtime.device_name(), config.runtime.peak_flops)

    def _unsharded(self) -> Transformer:
        assert isinstance(self.model, Transformer)
        return self.model

    # -- state ------------------------------------------------------------------------------

    def _state(self, step: int, position: int, tokens: int, elapsed: float) -> dict[str, Any]:
        """A checkpoint's train_state: where the run is, and what a resume must match."""
        config = self.config.model_copy(update={"model": self.plan.model})
        names = [source.name for source in self.data.sources]
        seeds = [source.seed for source in self.batches.sources]
        return {
            "step": step,
            "position": position,
            "source_positions": dict(zip(names, self.batches.source_positions, strict=True)),
            "source_seeds": dict(zip(names, seeds, strict=True)),
            "tokens": tokens,
            "elapsed_s": elapsed,
            "world_size": self.runtime.world,
            "config": config.model_dump(),
            "data": self.data.identity,
            "init_from": self.init_from,
        }

    def _checkpoint_files(self) -> dict[str, Path]:
        """The files a checkpoint carries, so that it can be resumed, sampled and exported."""
        return {MODEL_FILE: self.out / MODEL_FILE, **self.data.tokenizer_files()}

    def _resume(self, resume: bool) -> dict[str, Any] | None:
        """Continue from the newest checkpoint that verifies; damaged newer ones are skipped
        with a warning (every process verifies a share and they pick the same one)."""
        path, damaged = newest_intact(self.checkpoints, self.runtime)
        main = self.runtime.is_main
        then = f"resuming from {path.name}" if path else "no earlier checkpoint is intact"
        for problem in damaged:
            if main:
                log.warning("%s; %s", problem, then)
        if path is None:
            if damaged:
                raise TrainError(
                    f"no checkpoint in {self.checkpoints} is intact (the newest: {damaged[0]}); "
                    "move the damaged ones away to start the run again"
                )
            if resume:
                raise TrainError(f"--resume: no complete checkpoint in {self.checkpoints}")
            return None
        _compare_resumed(read_state(path), self.config, self.plan, self.data, main)
        saved = load_checkpoint(path, self.model, self.optimizer, self.runtime)
        if self.init_from and main:
            log.info("%s: the checkpoint's weights continue, not --init-from's", path)
        self.init_from = saved.get("init_from")
        for group in self.optimizer.param_groups:  # the config's values, not the checkpoint's
            group["betas"] = (self.config.optimizer.beta1, self.config.optimizer.beta2)
            group["eps"] = self.config.optimizer.eps
            if group["weight_decay"]:
                group["weight_decay"] = self.config.optimizer.weight_decay
        saved["continued"] = self._continued_sources(saved)
        if not self.data.is_mixture and not saved["continued"]:
            saved["position"] = 0  # one folder that changed: its order starts again
        if main:
            log.info("resuming from %s (step %d)", path, saved["step"])
        return {**saved, "checkpoint": str(path)}

    def _continued_sources(self, saved: dict[str, Any]) -> dict[str, tuple[int, Seed]]:
        """The rows each source had given and the seed of its order, for the sources that are
        the same as at the checkpoint (by name, else by fingerprint: a source renamed, or the
        run's one folder now in a mixture); a source that changed or is new starts again."""
        before = saved_sources(saved["data"])
        positions = saved.get("source_positions") or {name: saved["position"] for name in before}
        mixed, run_seed = "sources" in saved["data"], saved["config"]["seed"]
        seeds = saved.get("source_seeds") or {
            name: source_seed(run_seed, name, mixed) for name in before
        }
        continued = {}
        for source in self.data.sources:
            name, then = source.name, before.get(source.name)
            if then is None:
                fingerprint = source.data.identity["fingerprint"]
                same = [n for n, seen in before.items() if seen.get("fingerprint") == fingerprint]
                if fingerprint is not None and same:
                    name, then = same[0], before[same[0]]
            if then is None:
                if self.runtime.is_main:
                    log.warning("data source %s is new: it starts at its first row", source.name)
            elif then.get("fingerprint") != source.data.identity["fingerprint"]:
                if self.runtime.is_main:
                    log.warning(
                        "the data changed since the checkpoint (%s): its shuffled order starts "
                        "again",
                        then["path"],
                    )
            elif name in seeds:
                continued[source.name] = (positions.get(name, 0), saved_seed(seeds[name]))
        return continued

    # -- the loop ---------------------------------------------------------------------------

    def _gradients(
        self, batches: TokenBatches, stop: GracefulStop
    ) -> tuple[float, float, int, bool]:
        """One step's gradients: (loss, grad norm, target tokens of all processes, whether any
        process was asked to stop: the flag rides on the loss's all-reduce, so all agree)."""
        micro = [batches.next_batch() for _ in range(self.plan.accumulation)]
        targets = int(self.runtime.sum(sum(b.target_tokens for b in micro)).item())
        denominator = max(1, targets) / self.runtime.world
        device = self.runtime.device
        loss_sum = torch.zeros((), device=device)
        for index, batch in enumerate(micro):
            set_gradient_sync(self.model, index == len(micro) - 1)
            inputs = batch.inputs.to(device, non_blocking=True)
            wanted = batch.targets.to(device, non_blocking=True)
            mask = batch.mask.to(device, non_blocking=True)
            # The loss inside the forward: compiled with it (runtime.compile: model), and
            # made a chunk at a time with loss_chunk_tokens (train/chunked_loss.py).
            chunk = self.config.runtime.loss_chunk_tokens
            loss = self.model(inputs, targets=wanted, mask=mask, loss_chunk_tokens=chunk)
            (loss / denominator).backward()
            loss_sum += loss.detach()
        grad_norm = clip_gradients(self.model, self.config.optimizer.grad_clip)
        asked = torch.tensor(float(stop.requested), device=device)
        total, stopping = self.runtime.sum(torch.stack([loss_sum.double(), asked])).tolist()
        return total / max(1, targets), grad_norm, targets, stopping > 0

    def _update(
        self, step: int, batches: TokenBatches, stop: GracefulStop
    ) -> tuple[float, float, float, bool]:
        """Train step `step` (0-based): (lr, loss, grad norm, stopping); Diverged if not finite."""
        config = self.config
        lr = learning_rate(step, config.max_steps, config.optimizer.lr, config.schedule)
        set_learning_rate(self.optimizer, lr)
        loss, grad_norm, _, stopping = self._gradients(batches, stop)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            raise Diverged(self._divergence_message(step + 1, loss, grad_norm))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return lr, loss, grad_norm, stopping

    def _open(self, resume: bool) -> dict[str, Any] | None:
        """Resume (the saved state, or None); write config.yaml, and model.json for checkpoints."""
        if self.runtime.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.runtime.barrier()
        saved = self._resume(resume)
        if self.runtime.is_main:
            resolved = self.config.model_copy(update={"model": self.plan.model}).model_dump()
            atomic_write_bytes(self.out / "config.yaml", yaml.safe_dump(resolved).encode())
            atomic_write_json(self.out / MODEL_FILE, self.plan.model.model_dump())
        return saved

    def _batches(self, saved: dict[str, Any] | None) -> TokenBatches:
        """This process's batches, from where the resumed run left every source's order."""
        return self.data.batches(
            self.config.batch.micro_batch_rows,
            self.runtime.rank,
            self.runtime.world,
            self.config.seed,
            saved["position"] if saved else 0,
            saved["continued"] if saved else None,
        )

    def _begin(self, saved: dict[str, Any] | None, span: StepSpan) -> RunResult:
        """Announce the call and start its result: where it resumes, and the unigram baseline."""
        result = RunResult(
            out=self.out,
            steps=span.start,
            start_step=span.start,
            tokens=saved["tokens"] if saved else 0,
            parameters=self._unsharded().parameter_count(),
            checkpoint=Path(saved["checkpoint"]) if saved else None,  # the one resumed from
            init_from=self.init_from,
        )
        self._announce(result.parameters, span.start, span.last)
        result.unigram_loss = self._unigram_loss()
        return result

    def _unigram_loss(self) -> float | None:
        """The loss of predicting each token by its frequency in the training rows: what the
        model must beat (a mixture's: the sources' weighted as the validation loss is)."""
        vocab, parts = self.plan.model.vocab_size, []
        for source in self.data.sources:
            if source.data.val is not None:
                loss = unigram_loss(source.data.train, source.data.val, vocab)
                parts.append((source.weight, loss))
        if not parts:
            return None
        return sum(weight * loss for weight, loss in parts) / sum(w for w, _ in parts)

    def _parts(
        self, span: StepSpan, metrics: MetricsLog, clock: RunClock
    ) -> tuple[ProgressLog, Checkpointer]:
        """The loop's progress report and checkpointer, each taking its cadence from the recipe."""
        progress = ProgressLog(
            self.config,
            span,
            metrics,
            clock,
            runtime=self.runtime,
            tokens_per_step=self.plan.tokens_per_step,
            utilisation=self._mfu,
            show=self.show_progress,
            draw=self.draw,
        )
        checkpointer = Checkpointer(
            self.config,
            span,
            self.checkpoints,
            model=self.model,
            optimizer=self.optimizer,
            runtime=self.runtime,
            files=self._checkpoint_files,
            state=self._state,
        )
        return progress, checkpointer

    def _val_sets(self) -> list[ValSet]:
        """The validation rows of each source that has some."""
        return [
            ValSet(source.name, source.weight, source.data.val)
            for source in self.data.sources
            if source.data.val is not None
        ]

    def _source_tokens(self) -> dict[str, int] | None:
        """A mixture's tokens taken of each source so far (rows x row length), for metrics."""
        if not self.data.is_mixture:
            return None
        names = [source.name for source in self.data.sources]
        seq_len = self.plan.seq_len
        return {
            name: rows * seq_len
            for name, rows in zip(names, self.batches.source_positions, strict=True)
        }

    def _mfu(self, tokens_per_s: float) -> float | None:
        """Model FLOP utilisation at `tokens_per_s`, for progress lines; None without a peak."""
        return mfu(tokens_per_s, self.flops_per_token, self.peak, self.runtime.world)

    def run(
        self,
        resume: bool = False,
        stop_after_steps: int | None = None,
        stop: GracefulStop | None = None,
    ) -> RunResult:
        """Train to max_steps (or stop_after_steps); after a step in which `stop` was asked on
        any process (SIGINT, SIGTERM), write a checkpoint and raise Stopped."""
        stop = stop or GracefulStop()
        saved = self._open(resume)
        span = StepSpan.build(self.config, saved["step"] if saved else 0, stop_after_steps)
        batches = self.batches = self._batches(saved)
        repeats = RepeatWarnings(self.data, batches, self.runtime.is_main)
        result = self._begin(saved, span)
        metrics = MetricsLog(
            self.out, span.start, self.config.log.tensorboard, self.runtime.is_main
        )
        validator = Validator(
            self.config, self.model, self._val_sets(), self.data.token_bytes, self.runtime,
            metrics, self.show_progress, per_source=self.data.is_mixture,
        )  # fmt: skip
        if self.imported and saved is None:  # where continued pretraining starts from
            before = validator.before_training(self.init_from)
            result.init_val_loss = before.loss if before is not None else None
        clock = RunClock(saved["elapsed_s"] if saved else 0.0)
        progress, checkpointer = self._parts(span, metrics, clock)
        tokens = result.tokens
        try:
            for step in range(span.start, span.last):
                lr, loss, grad_norm, stopping = self._update(step, batches, stop)
                done, tokens = step + 1, tokens + self.plan.tokens_per_step
                result.losses[done] = loss
                progress.step_done(loss)
                repeats.check(done, span.total)
                if progress.due(done):
                    progress.write(done, lr, grad_norm, tokens, self._source_tokens())
                if validator.due(done) and (evaluation := validator.after(done)) is not None:
                    result.val_loss, result.val_bpb = evaluation.loss, evaluation.bpb
                if checkpointer.due(done, stopping):
                    elapsed = clock.elapsed()
                    result.checkpoint = checkpointer.save(done, batches.position, tokens, elapsed)
                result.steps, result.tokens = done, tokens
                if span.interrupted(done, stopping):  # SIGINT, SIGTERM: done and saved
                    raise Stopped(done, stop.signum or signal.SIGTERM)
        finally:
            progress.close()
            metrics.close()
        return self._finish(result, progress, clock, span)

    def _finish(
        self, result: RunResult, progress: ProgressLog, clock: RunClock, span: StepSpan
    ) -> RunResult:
        """Complete the result; a finished run also writes it to summary.json, for later reading."""
        result.train_loss, result.tokens_per_s = progress.train_loss, progress.tokens_per_s
        result.mfu = progress.mfu
        result.elapsed_s = clock.elapsed()
        # Also when resumed at the last step with no summary: killed between the last
        # checkpoint and the summary, a run would otherwise never have one.
        at_end = result.steps == span.total and not (self.out / SUMMARY_FILE).is_file()
        if self.runtime.is_main and (span.completed(result.steps) or at_end):
            atomic_write_json(self.out / SUMMARY_FILE, result.to_json())
        return result

    def _announce(self, parameters: int, start: int, last_step: int) -> None:
        """The start line and the warnings a run starts with; rank 0 only."""
        if not self.runtime.is_main:
            return
        if self.show_progress:
            plan = self.plan
            line = format_start_line(
                parameters=parameters,
                processes=self.runtime.world,
                accumulation=plan.accumulation,
                micro_batch_rows=self.config.batch.micro_batch_rows,
                seq_len=plan.seq_len,
                start_step=start,
                max_steps=self.config.max_steps,
                last_step=last_step,
                device=self.runtime.describe(),
            )
            log.info("%s", line)
        if self.data.is_mixture and self.show_progress:
            parts = [
                f"{s.name} {s.weight:.0%} of rows ({s.data.rows('train'):,} rows)"
                for s in self.data.sources
            ]
            log.info("data mixture: %s", ", ".join(parts))
        for source in self.data.sources:
            if self.data.is_mixture and source.data.rows("val") == 0 < self.data.rows("val"):
                log.warning(
                    "data source %s has no validation rows: val_loss leaves it out", source.name
                )
        if not self.data.rows("val"):
            log.warning(
                "%s has no validation rows: no validation loss will be reported (tokenize with "
                "tokenize.val_fraction above 0 to hold some out)",
                self.data.folder,
            )

    def _divergence_message(self, step: int, loss: float, grad_norm: float) -> str:
        """What went wrong, and the newest checkpoint that verifies to resume from."""
        last, _ = newest_intact(self.checkpoints, self.runtime)
        where = (
            f"the last intact checkpoint, {last}, holds the weights from before it"
            if last
            else "no intact checkpoint was written before it"
        )
        return (
            f"training diverged at step {step}: loss {loss}, gradient norm {grad_norm}; "
            f"{where}. Resume from it with a lower optimizer.lr, a longer "
            "schedule.warmup_steps or a smaller optimizer.grad_clip"
        )


def pretrain(
    config: TrainConfig,
    data_dir: Path | dict[str, MixSource],
    out: Path,
    resume: bool = False,
    show_progress: bool = True,
    stop_after_steps: int | None = None,
    init_from: Path | None = None,
) -> RunResult:
    """Train (or continue training) into `out`; a collective call on every process.

    `data_dir` is a folder written by llm-data tokenize, or a recipe's mixture of several.

    With `init_from` (a LlamaForCausalLM folder) the model is that folder's, architecture and
    weights: the recipe's `model` section is not used.
    """
    runtime = start_runtime(config.runtime)
    try:
        data = open_mixture(data_dir)
        for source in data.sources:
            verify_token_data(source.data, runtime)
        init_from = Path(init_from) if init_from else None
        trainer = Trainer(config, data, Path(out), runtime, show_progress, init_from)
        with graceful_stop() as stop:  # the first SIGINT/SIGTERM ends the step and saves
            try:
                result = trainer.run(resume, stop_after_steps, stop)
            except Stopped:  # every process stops after the same step
                runtime.barrier()
                raise
        # Every process is done before any tears the group down (a gloo process was seen
        # aborting at exit when its peer had gone first); not after an error, which not every
        # process may share.
        runtime.barrier()
        return result
    finally:
        stop_runtime()
