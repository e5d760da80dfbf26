"""The steps of an ablation, into one folder, each resumable:

    OUT/ablation.json              the plan: variants, eval sets, recipe, budget (a rerun with
                                   another plan is refused)
    OUT/selected/NAME/             a variant less the eval sets' texts, or a dry-run output with
                                   rules lifted (only where a variant needs it)
    OUT/tokenizer/                 the one tokenizer (unless --tokenizer)
    OUT/tokens/NAME/               each variant tokenized with it, validation held out by text
    OUT/runs/NAME/seed-S/          an ordinary `llm-train pretrain` run folder per variant and
                                   seed, with ablation_eval.json: its bits per byte everywhere
    OUT/results.json, ablation.png the comparison

A killed ablation started again skips what is finished, resumes a half-written dataset and a
run from its latest checkpoint (both exactly), and so ends with the same numbers. Under
torchrun, rank 0 prepares the data while the others wait; every process trains and evaluates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_pretrain.ablate.chart import write_chart
from llm_pretrain.ablate.results import collect_results
from llm_pretrain.ablate.select import failing_rules, is_dry_run, run_select, texts_digest
from llm_pretrain.ablate.shared_tokenizer import train_shared_tokenizer
from llm_pretrain.ablate.spec import AblationError, AblationUsage, EvalSpec, VariantSpec, unique
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.filters.stage import WOULD_REJECT
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.pipeline.outputs import overlap_problem, protected_problem
from llm_pretrain.pipeline.runner import InputDataset, StageError, read_input_dataset
from llm_pretrain.storage import atomic_write_json, file_sha256, read_json
from llm_pretrain.tokenizer.bpe import TOKENIZER_FILE, BpeTokenizer
from llm_pretrain.tokenizer.config import TokenizeConfig, TokenizerConfig
from llm_pretrain.tokenizer.encoding import SplitRule
from llm_pretrain.tokenizer.sampling import text_key, validation_salt
from llm_pretrain.tokenizer.stage import run_tokenize
from llm_pretrain.train.config import RuntimeConfig, TrainConfig
from llm_pretrain.train.data import open_token_data
from llm_pretrain.train.eval_text import read_texts, text_rows
from llm_pretrain.train.metrics import METRICS_FILE, read_metrics
from llm_pretrain.train.ranks import process_rank, world_size
from llm_pretrain.train.runtime import kept_process_group
from llm_pretrain.train.trainer import SUMMARY_FILE, foreign_run_problem, pretrain

log = logging.getLogger(__name__)
PLAN_FILE = "ablation.json"
PREPARED_FILE = "_prepared.json"  # rank 0's word to the other processes: the data is ready
EVAL_FILE = "ablation_eval.json"
LOCK_FILE = ".lock"
CURVE_KEYS = ("step", "loss", "val_loss", "val_bpb")
SPLIT_SEED = 0


@dataclass
class AblationSettings:
    """Everything an ablation is run with; every variant gets the same."""

    variants: list[VariantSpec]
    evals: list[EvalSpec]
    out: Path
    recipe: TrainConfig
    tokens: int | None = None  # training tokens per run; None: the recipe's max_steps
    seeds: int = 1
    vocab_size: int = 8192
    seq_len: int | None = None  # None: the recipe model's max_seq_len
    val_fraction: float = 0.02
    tokenizer: Path | None = None
    remove_overlap: bool = False
    val_max_rows: int | None = 256  # eval sets are always whole: they give the verdict
    eval_batch_tokens: int = 8192  # per forward pass of an evaluation: 32 rows of 256, 4 of 2048
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)

    @property
    def row_len(self) -> int:
        return self.seq_len or self.recipe.model.max_seq_len

    def steps(self) -> int:
        """Optimizer steps of every run: the token budget in whole steps (rounded up)."""
        if self.tokens is None:
            return self.recipe.max_steps
        return max(1, math.ceil(self.tokens / self.recipe.batch.global_tokens))

    def run_config(self, seed: int) -> TrainConfig:
        return self.recipe.model_copy(
            update={"seed": self.recipe.seed + seed, "max_steps": self.steps()}
        )


@dataclass
class Variant:
    """A variant as the ablation reads it: its dataset, and what is kept out of it."""

    spec: VariantSpec
    dataset: InputDataset
    overlap: dict[str, int]  # eval set -> documents of it found in this variant
    lifted: tuple[str, ...] | None  # None unless a dry-run output
    training_documents: int  # left for training: not validation, rejected or eval documents

    @property
    def name(self) -> str:
        return self.spec.name

    def needs_selection(self, remove_overlap: bool) -> bool:
        return self.lifted is not None or (remove_overlap and any(self.overlap.values()))


def is_main() -> bool:
    return process_rank() == 0


def run_ablation(settings: AblationSettings, show_progress: bool = True) -> dict[str, Any]:
    """Run (or finish) the ablation into settings.out; return results.json's content."""
    check_output(settings)
    check_recipe(settings)
    eval_texts = {spec.name: read_texts(spec.path) for spec in settings.evals}
    eval_keys = {name: frozenset(map(text_key, texts)) for name, texts in eval_texts.items()}
    rule = SplitRule(settings.val_fraction, validation_salt(SPLIT_SEED))
    variants = [read_variant(spec, eval_keys, rule) for spec in settings.variants]
    refuse_overlap(variants, settings.remove_overlap)
    refuse_empty(variants)
    plan = ablation_plan(settings, variants, eval_texts, eval_keys)
    with kept_process_group():
        return _run(settings, variants, eval_texts, eval_keys, plan, show_progress)


def _run(
    settings: AblationSettings,
    variants: list[Variant],
    eval_texts: dict[str, list[str]],
    eval_keys: dict[str, frozenset[str]],
    plan: dict[str, Any],
    show_progress: bool,
) -> dict[str, Any]:
    out = settings.out
    if is_main():
        with folder_lock(out / LOCK_FILE, "being written by llm-train ablate"):
            claim_plan(out, plan)
            excluded = frozenset().union(*eval_keys.values())
            token_dirs = prepare(settings, variants, excluded, show_progress)
            atomic_write_json(out / PREPARED_FILE, {"fingerprint": plan["fingerprint"]})
            return train_and_compare(settings, variants, token_dirs, eval_texts, plan,
                                     show_progress)  # fmt: skip
    wait_until_prepared(out, plan["fingerprint"])
    token_dirs = {v.name: out / "tokens" / v.name for v in variants}
    return train_and_compare(settings, variants, token_dirs, eval_texts, plan, show_progress)


def check_output(settings: AblationSettings) -> None:
    """Refuse an OUT that is, holds or lies in an input, or that holds what we did not write."""
    out = settings.out
    unique([spec.name for spec in settings.variants], "--variant")
    unique([spec.name for spec in settings.evals], "--eval")
    if not settings.variants:
        raise AblationError("give at least one --variant NAME=DATASET")
    inputs = [spec.path for spec in settings.variants] + [spec.path for spec in settings.evals]
    inputs += [settings.tokenizer] if settings.tokenizer else []
    problem = overlap_problem(out, inputs, "--out", "input") or protected_problem(out, "--out")
    if problem:
        raise AblationError(problem)
    if out.exists() and not out.is_dir():
        raise AblationError(f"--out {out} is a file, not a folder")
    entries = {path.name for path in out.iterdir()} if out.is_dir() else set()
    if PLAN_FILE not in entries and entries - {LOCK_FILE}:
        raise AblationError(
            f"--out {out} holds files that llm-train ablate did not write; give a new folder"
        )


def check_recipe(settings: AblationSettings) -> None:
    """What pretrain would refuse after the data is prepared, refused before anything is
    written: rows longer than the model's context, a batch the rows do not divide, a
    tokenizer that is none."""
    recipe, row_len = settings.recipe, settings.row_len
    if row_len > recipe.model.max_seq_len:
        raise AblationUsage(
            f"--seq-len {row_len} is more than the recipe's model.max_seq_len "
            f"{recipe.model.max_seq_len}"
        )
    rows = recipe.batch.micro_batch_rows * world_size()
    if recipe.batch.global_tokens % (row_len * rows):
        raise AblationUsage(
            f"batch.global_tokens {recipe.batch.global_tokens:,} is not a multiple of rows of "
            f"{row_len} tokens x batch.micro_batch_rows {recipe.batch.micro_batch_rows} x "
            f"{world_size()} processes = {row_len * rows:,}"
        )
    if settings.tokenizer is not None:
        BpeTokenizer.load(tokenizer_file(settings.tokenizer))


def read_variant(
    spec: VariantSpec, eval_keys: dict[str, frozenset[str]], rule: SplitRule
) -> Variant:
    """A variant's dataset, checked: how many documents of each eval set it holds, how many it
    trains on, and (a dry run) that the rules it lifts are rules it records."""
    dataset = read_input_dataset(spec.path)
    dry = is_dry_run(dataset)
    if spec.without and not dry:
        raise AblationError(
            f"--variant {spec.name}: {spec.path} is not the output of `llm-data filter "
            "--dry-run`; only a dry run lists the rules a document fails"
        )
    lifted = (spec.without or ()) if dry else None
    every_key = frozenset().union(*eval_keys.values())
    overlap = dict.fromkeys(eval_keys, 0)
    reasons: set[str] = set()
    training = 0
    for text, failed in _rows(spec.path, dry):
        key = text_key(text)
        for name, keys in eval_keys.items():
            overlap[name] += key in keys
        reasons.update(failed)
        kept = lifted is None or not failing_rules(failed, lifted)
        training += kept and key not in every_key and not rule.is_validation(key)
    unknown = [r for r in lifted or () if r not in reasons and r not in _steps(reasons)]
    if unknown:
        raise AblationError(
            f"--variant {spec.name}: no document of {spec.path} fails {', '.join(unknown)}; "
            f"it records {', '.join(sorted(reasons)) or 'no failed rule'}"
        )
    return Variant(spec, dataset, overlap, lifted, training)


def _steps(reasons: set[str]) -> set[str]:
    return {reason.partition(":")[0] for reason in reasons}


def _rows(folder: Path, dry: bool) -> Iterator[tuple[str, list[str]]]:
    """Each document's text and (a dry run) the rules it fails, a row group at a time: a
    variant may be far bigger than memory."""
    import pyarrow.parquet as pq

    columns = ["text", WOULD_REJECT] if dry else ["text"]
    for shard in shard_paths(folder):
        for batch in pq.ParquetFile(shard).iter_batches(columns=columns):
            texts = batch.column(0).to_pylist()
            failed = batch.column(1).to_pylist() if dry else [None] * len(texts)
            for text, reasons in zip(texts, failed, strict=True):
                yield text, reasons or []


def refuse_empty(variants: list[Variant]) -> None:
    """A variant with no document to train on (none at all, all held out for validation, all
    rejected or in an eval set) is refused before anything is written."""
    for variant in variants:
        if not variant.training_documents:
            raise AblationError(
                f"--variant {variant.name}: no document of {variant.spec.path} is left to train "
                "on (the validation split, the dry run's rules and the eval sets take them all);"
                " give more documents or a lower --val-fraction"
            )


def refuse_overlap(variants: list[Variant], remove_overlap: bool) -> None:
    """An eval set's documents in a variant would be trained on: refused unless they are to be
    removed (--remove-overlap)."""
    found = [(v.name, e, n) for v in variants for e, n in v.overlap.items() if n]
    if found and not remove_overlap:
        listed = ", ".join(f"{e} in {v}: {n:,}" for v, e, n in found)
        raise AblationError(
            f"eval documents are in the training variants ({listed}); pass --remove-overlap to "
            "train without them, or give eval sets the variants do not hold"
        )


def ablation_plan(
    settings: AblationSettings,
    variants: list[Variant],
    eval_texts: dict[str, list[str]],
    eval_keys: dict[str, frozenset[str]],
) -> dict[str, Any]:
    """What names the ablation: a rerun with the same plan continues it."""
    tokenizer = settings.tokenizer
    plan = {
        "variants": {
            v.name: {"path": str(v.spec.path), "lifted": v.lifted, **_identity(v.dataset)}
            for v in variants
        },
        "evals": {
            name: {
                "path": str(spec.path),
                "documents": len(eval_texts[name]),
                "sha256": texts_digest(eval_keys[name])["sha256"],
            }
            for name, spec in ((s.name, s) for s in settings.evals)
        },
        "recipe": settings.run_config(0).model_dump(mode="json", exclude={"data", "out"}),
        "tokens_per_run": settings.steps() * settings.recipe.batch.global_tokens,
        "seeds": settings.seeds,
        "vocab_size": settings.vocab_size,
        "seq_len": settings.row_len,
        "val_fraction": settings.val_fraction,
        "tokenizer": file_sha256(tokenizer_file(tokenizer)) if tokenizer else None,
        "remove_overlap": settings.remove_overlap,
        "val_max_rows": settings.val_max_rows,
    }
    text = json.dumps(plan, sort_keys=True)
    return {**plan, "fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16]}


def _identity(dataset: InputDataset) -> dict[str, Any]:
    identity = dataset.identity()
    return {"stage": identity["stage"], "fingerprint": identity["fingerprint"]}


def tokenizer_file(path: Path) -> Path:
    """--tokenizer: a tokenizer.json, or a folder holding one."""
    return path / TOKENIZER_FILE if path.is_dir() else path


def claim_plan(out: Path, plan: dict[str, Any]) -> None:
    """Write the plan into a new OUT, or check that OUT holds this same ablation."""
    file = out / PLAN_FILE
    if file.is_file():
        earlier = read_json(file)
        if not isinstance(earlier, dict):
            raise AblationError(f"{file} is not an ablation plan (edited?); give a new --out")
        if earlier.get("fingerprint") != plan["fingerprint"]:
            changed = sorted(k for k in plan if k != "fingerprint" and earlier.get(k) != plan[k])
            raise AblationError(
                f"--out {out} holds another ablation ({', '.join(changed) or 'other inputs'} "
                "differ); give a new --out, or the same variants and settings to continue it"
            )
        return
    (out / PREPARED_FILE).unlink(missing_ok=True)
    atomic_write_json(file, plan)


def prepare(
    settings: AblationSettings,
    variants: list[Variant],
    excluded: frozenset[str],
    show_progress: bool,
) -> dict[str, Path]:
    """Selections, the tokenizer and each variant's token data; the token folders by name."""
    out = settings.out
    folders = {}
    for variant in variants:
        folder = variant.spec.path
        if variant.needs_selection(settings.remove_overlap):
            folder = out / "selected" / variant.name
            keys = excluded if settings.remove_overlap else frozenset()
            _say(show_progress, f"select {variant.name} -> {folder}")
            with own_output(folder):
                run_select(variant.dataset, folder, keys, variant.lifted, settings.executor,
                           show_progress)  # fmt: skip
        folders[variant.name] = folder
    rule = SplitRule(settings.val_fraction, validation_salt(SPLIT_SEED))
    tokenizer = settings.tokenizer
    if tokenizer is None:
        _say(show_progress, f"tokenizer ({settings.vocab_size:,} tokens) -> {out / 'tokenizer'}")
        tokenizer_config = TokenizerConfig(vocab_size=settings.vocab_size)
        train_shared_tokenizer(folders, out / "tokenizer", tokenizer_config, rule,
                               settings.row_len)  # fmt: skip
        tokenizer = out / "tokenizer"
    tokenize = TokenizeConfig(
        seq_len=settings.row_len, val_fraction=settings.val_fraction, split_seed=SPLIT_SEED
    )
    token_dirs = {}
    for name, folder in folders.items():
        token_dirs[name] = out / "tokens" / name
        _say(show_progress, f"tokenize {name} -> {token_dirs[name]}")
        with own_output(token_dirs[name]):
            run_tokenize(folder, token_dirs[name], tokenize, TokenizerConfig(), settings.executor,
                         tokenizer, show_progress)  # fmt: skip
    return token_dirs


@contextmanager
def own_output(folder: Path) -> Iterator[None]:
    """A dataset of OUT the runner refuses (damaged, or of other settings) is the ablation's
    own: the way out is to remove it, not --overwrite, which ablate does not have."""
    try:
        yield
    except StageError as exc:
        message = str(exc)
        for advice in ("pass --overwrite to make it again", "choose another --output or pass "
                       "--overwrite"):  # fmt: skip
            message = message.replace(advice, f"remove {folder} and run the same command again")
        raise StageError(message) from None


def _say(show_progress: bool, line: str) -> None:
    if show_progress and is_main():
        log.info("ablate: %s", line)


def wait_until_prepared(out: Path, fingerprint: str) -> None:
    """Processes other than rank 0 wait for its data (torchrun ends them if rank 0 fails)."""
    while True:
        try:
            if read_json(out / PREPARED_FILE).get("fingerprint") == fingerprint:
                return
        except (OSError, ValueError):
            pass
        time.sleep(1.0)


def run_dir(out: Path, variant: str, seed: int) -> Path:
    return out / "runs" / variant / f"seed-{seed}"


def train_and_compare(
    settings: AblationSettings,
    variants: list[Variant],
    token_dirs: dict[str, Path],
    eval_texts: dict[str, list[str]],
    plan: dict[str, Any],
    show_progress: bool,
) -> dict[str, Any]:
    """Train every variant with every seed, evaluate each run everywhere, write the results."""
    steps = settings.steps()
    eval_names = [spec.name for spec in settings.evals]
    val_names = [name for name, tokens in token_dirs.items() if open_token_data(tokens).val]
    for variant in variants:
        for seed in range(settings.seeds):
            folder = run_dir(settings.out, variant.name, seed)
            if not _finished(folder, steps):
                if is_main():  # a summary we wrote that is no summary: pretrain writes it again
                    (folder / SUMMARY_FILE).unlink(missing_ok=True)
                _say(show_progress, f"pretrain {variant.name} seed {seed} -> {folder}")
                problem = foreign_run_problem(folder)
                if problem:
                    raise AblationError(problem)
                pretrain(settings.run_config(seed), token_dirs[variant.name], folder,
                         show_progress=show_progress)  # fmt: skip
            if not _evaluated(folder, steps, eval_names, val_names):
                _say(show_progress, f"evaluate {variant.name} seed {seed}")
                evaluation = evaluate_run(settings, folder, token_dirs, eval_texts)
                if is_main():
                    atomic_write_json(folder / EVAL_FILE, evaluation)
    if not is_main():
        return {}
    results = collect_results(settings, plan, variants, token_dirs, _run_records(settings))
    atomic_write_json(settings.out / "results.json", results)
    write_chart(results, settings.out / "ablation.png")
    return results


def _finished(folder: Path, steps: int) -> bool:
    """Whether the run's summary says it trained all its steps."""
    summary = _record(folder / SUMMARY_FILE)
    return summary is not None and summary.get("steps") == steps


def _evaluated(folder: Path, steps: int, evals: list[str], variants: list[str]) -> bool:
    """Whether the run's evaluation is there, of its last step and of every set (one cut
    short, edited or of other sets is made again)."""
    found = _record(folder / EVAL_FILE)
    if found is None or found.get("step") != steps:
        return False
    cells = [(found.get("eval"), evals), (found.get("val"), variants)]
    return all(
        isinstance(kind, dict)
        and all(isinstance(kind.get(name), dict) and "bpb" in kind[name] for name in names)
        for kind, names in cells
    )


def _record(file: Path) -> dict[str, Any] | None:
    """A JSON object a run left, or None when it is missing or not one."""
    try:
        record = read_json(file)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def evaluate_run(
    settings: AblationSettings,
    folder: Path,
    token_dirs: dict[str, Path],
    eval_texts: dict[str, list[str]],
) -> dict[str, Any]:
    """Bits per byte and loss of a run's last checkpoint on every eval set and on every
    variant's validation split (a collective call under torchrun)."""
    from llm_pretrain.train.checkpoint import load_model_weights, read_model_config, read_state
    from llm_pretrain.train.checkpoint_check import intact_checkpoint
    from llm_pretrain.train.evaluate import evaluate
    from llm_pretrain.train.parallel import build_model
    from llm_pretrain.train.runtime import start_runtime, stop_runtime

    runtime_config = RuntimeConfig(device=settings.recipe.runtime.device, compile=False)
    runtime = start_runtime(runtime_config)
    try:
        checkpoint = intact_checkpoint(folder, runtime)
        state = read_state(checkpoint)
        model = build_model(read_model_config(checkpoint), runtime, seed=0)
        load_model_weights(checkpoint, model, runtime)
        tokenizer = BpeTokenizer.load(checkpoint / TOKENIZER_FILE)
        token_bytes = tokenizer.token_bytes()
        readers: dict[str, dict[str, Any]] = {"eval": {}, "val": {}}
        for name, texts in eval_texts.items():
            readers["eval"][name] = text_rows(texts, tokenizer, settings.row_len)
        for name, tokens in token_dirs.items():
            data = open_token_data(tokens)
            if data.val is not None:
                readers["val"][name] = SpreadRows(data.val, settings.val_max_rows)
        found: dict[str, Any] = {"step": state["step"], "eval": {}, "val": {}}
        batch_rows = max(1, settings.eval_batch_tokens // settings.row_len)
        for kind, sets in readers.items():
            for name, reader in sets.items():
                result = evaluate(model, reader, runtime, batch_rows, None, token_bytes)
                found[kind][name] = {
                    "bpb": result.bpb,
                    "loss": result.loss,
                    "tokens": result.tokens,
                    "text_bytes": result.text_bytes,
                }
        runtime.barrier()
        return found
    finally:
        stop_runtime()


class SpreadRows:
    """At most `limit` rows of a split, spread evenly over it: the first rows are the first
    documents, which two variants often share (dedup keeps first copies), so a capped
    validation split would not stand for the variant."""

    def __init__(self, reader: Any, limit: int | None) -> None:
        self.reader = reader
        count = len(reader) if limit is None else min(limit, len(reader))
        self.rows = sorted({round(i * (len(reader) - 1) / max(1, count - 1)) for i in range(count)})

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Any:
        return self.reader[self.rows[index]]


def _run_records(settings: AblationSettings) -> dict[str, list[dict[str, Any]]]:
    """Per variant, per seed: the run's summary, its evaluations and its curves."""
    records: dict[str, list[dict[str, Any]]] = {}
    step_tokens = settings.recipe.batch.global_tokens
    for spec in settings.variants:
        for seed in range(settings.seeds):
            folder = run_dir(settings.out, spec.name, seed)
            metrics = read_metrics(folder / METRICS_FILE)
            records.setdefault(spec.name, []).append(
                {
                    "seed": settings.run_config(seed).seed,
                    "run": str(folder),
                    "summary": read_json(folder / SUMMARY_FILE),
                    "evaluation": read_json(folder / EVAL_FILE),
                    "curve": [
                        {
                            "tokens": m["step"] * step_tokens,
                            **{k: m[k] for k in CURVE_KEYS if k in m},
                        }
                        for m in metrics
                    ],
                }
            )
    return records
