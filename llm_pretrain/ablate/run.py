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
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_pretrain.ablate.chart import write_chart
from llm_pretrain.ablate.results import collect_results
from llm_pretrain.ablate.select import is_dry_run, run_select
from llm_pretrain.ablate.shared_tokenizer import train_shared_tokenizer
from llm_pretrain.ablate.spec import AblationError, EvalSpec, VariantSpec, unique
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.pipeline.outputs import overlap_problem, protected_problem
from llm_pretrain.pipeline.runner import InputDataset, read_input_dataset
from llm_pretrain.storage import atomic_write_json, read_json
from llm_pretrain.tokenizer.bpe import TOKENIZER_FILE, BpeTokenizer
from llm_pretrain.tokenizer.config import TokenizeConfig, TokenizerConfig
from llm_pretrain.tokenizer.encoding import SplitRule
from llm_pretrain.tokenizer.sampling import text_key, validation_salt
from llm_pretrain.tokenizer.stage import run_tokenize
from llm_pretrain.train.config import RuntimeConfig, TrainConfig
from llm_pretrain.train.data import open_token_data
from llm_pretrain.train.eval_text import read_texts, text_rows
from llm_pretrain.train.metrics import METRICS_FILE, read_metrics
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
    val_max_rows: int | None = None  # eval sets are always whole: they give the verdict
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

    @property
    def name(self) -> str:
        return self.spec.name

    def needs_selection(self, remove_overlap: bool) -> bool:
        return self.lifted is not None or (remove_overlap and any(self.overlap.values()))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def run_ablation(settings: AblationSettings, show_progress: bool = True) -> dict[str, Any]:
    """Run (or finish) the ablation into settings.out; return results.json's content."""
    check_output(settings)
    eval_texts = {spec.name: read_texts(spec.path) for spec in settings.evals}
    variants = [read_variant(spec, eval_texts) for spec in settings.variants]
    refuse_overlap(variants, settings.remove_overlap)
    plan = ablation_plan(settings, variants, eval_texts)
    with kept_process_group():
        return _run(settings, variants, eval_texts, plan, show_progress)


def _run(
    settings: AblationSettings,
    variants: list[Variant],
    eval_texts: dict[str, list[str]],
    plan: dict[str, Any],
    show_progress: bool,
) -> dict[str, Any]:
    out = settings.out
    if is_main():
        with folder_lock(out / LOCK_FILE, "being written by llm-train ablate"):
            claim_plan(out, plan)
            token_dirs = prepare(settings, variants, eval_texts, show_progress)
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


def read_variant(spec: VariantSpec, eval_texts: dict[str, list[str]]) -> Variant:
    """A variant's dataset, checked, and how many documents of each eval set it holds."""
    dataset = read_input_dataset(spec.path)
    dry = is_dry_run(dataset)
    if spec.without and not dry:
        raise AblationError(
            f"--variant {spec.name}: {spec.path} is not the output of `llm-data filter "
            "--dry-run`; only a dry run lists the rules a document fails"
        )
    keys = {name: {text_key(text) for text in texts} for name, texts in eval_texts.items()}
    overlap = dict.fromkeys(keys, 0)
    for text in _texts(spec.path):
        key = text_key(text)
        for name, eval_keys in keys.items():
            overlap[name] += key in eval_keys
    return Variant(spec, dataset, overlap, (spec.without or ()) if dry else None)


def _texts(folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    texts: list[str] = []
    for shard in shard_paths(folder):
        texts += pq.read_table(shard, columns=["text"]).column("text").to_pylist()
    return texts


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
    settings: AblationSettings, variants: list[Variant], eval_texts: dict[str, list[str]]
) -> dict[str, Any]:
    """What names the ablation: a rerun with the same plan continues it."""
    plan = {
        "variants": {
            v.name: {"path": str(v.spec.path), "lifted": v.lifted, **_identity(v.dataset)}
            for v in variants
        },
        "evals": {
            name: {
                "path": str(spec.path),
                "documents": len(eval_texts[name]),
                "sha256": _texts_digest(eval_texts[name]),
            }
            for name, spec in ((s.name, s) for s in settings.evals)
        },
        "recipe": settings.run_config(0).model_dump(mode="json", exclude={"data", "out"}),
        "tokens_per_run": settings.steps() * settings.recipe.batch.global_tokens,
        "seeds": settings.seeds,
        "vocab_size": settings.vocab_size,
        "seq_len": settings.row_len,
        "val_fraction": settings.val_fraction,
        "tokenizer": _file_digest(settings.tokenizer) if settings.tokenizer else None,
        "remove_overlap": settings.remove_overlap,
        "val_max_rows": settings.val_max_rows,
    }
    text = json.dumps(plan, sort_keys=True)
    return {**plan, "fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16]}


def _identity(dataset: InputDataset) -> dict[str, Any]:
    identity = dataset.identity()
    return {"stage": identity["stage"], "fingerprint": identity["fingerprint"]}


def _texts_digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(map(text_key, texts))).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    file = path / TOKENIZER_FILE if path.is_dir() else path
    if not file.is_file():
        raise AblationError(f"--tokenizer {path}: no {TOKENIZER_FILE} there")
    return hashlib.sha256(file.read_bytes()).hexdigest()


def claim_plan(out: Path, plan: dict[str, Any]) -> None:
    """Write the plan into a new OUT, or check that OUT holds this same ablation."""
    file = out / PLAN_FILE
    if file.is_file():
        earlier = read_json(file)
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
    eval_texts: dict[str, list[str]],
    show_progress: bool,
) -> dict[str, Path]:
    """Selections, the tokenizer and each variant's token data; the token folders by name."""
    out = settings.out
    folders = {}
    excluded = frozenset(text_key(text) for texts in eval_texts.values() for text in texts)
    for variant in variants:
        folder = variant.spec.path
        if variant.needs_selection(settings.remove_overlap):
            folder = out / "selected" / variant.name
            keys = excluded if settings.remove_overlap else frozenset()
            _say(show_progress, f"select {variant.name} -> {folder}")
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
        run_tokenize(folder, token_dirs[name], tokenize, TokenizerConfig(), settings.executor,
                     tokenizer, show_progress)  # fmt: skip
    return token_dirs


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
    for variant in variants:
        for seed in range(settings.seeds):
            folder = run_dir(settings.out, variant.name, seed)
            if not _finished(folder, steps):
                _say(show_progress, f"pretrain {variant.name} seed {seed} -> {folder}")
                problem = foreign_run_problem(folder)
                if problem:
                    raise AblationError(problem)
                pretrain(settings.run_config(seed), token_dirs[variant.name], folder,
                         show_progress=show_progress)  # fmt: skip
            if not _evaluated(folder, steps):
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
    try:
        return read_json(folder / SUMMARY_FILE).get("steps") == steps
    except (OSError, ValueError):
        return False


def _evaluated(folder: Path, steps: int) -> bool:
    try:
        return read_json(folder / EVAL_FILE).get("step") == steps
    except (OSError, ValueError):
        return False


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
                readers["val"][name] = data.val
        found: dict[str, Any] = {"step": state["step"], "eval": {}, "val": {}}
        batch_rows = max(1, settings.eval_batch_tokens // settings.row_len)
        for kind, sets in readers.items():
            for name, reader in sets.items():
                rows = settings.val_max_rows if kind == "val" else None
                result = evaluate(model, reader, runtime, batch_rows, rows, token_bytes)
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
