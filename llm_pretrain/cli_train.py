"""`llm-train`: pretrain, eval, plot, export, sample, ablate. Each command parses its
options, calls its component under llm_pretrain/train (ablate: llm_pretrain/ablate), and prints
the component's formatted result; errors become one line in `StopsCleanly` (cli_options.py),
the one error boundary of both programs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from llm_pretrain import __version__
from llm_pretrain.cli_options import (
    FiniteRange,
    LocalPath,
    StopsCleanly,
    config_text,
    output_options,
    safe_console,
    setup_logging,
    start,
)
from llm_pretrain.errors import UserError
from llm_pretrain.pipeline.outputs import overlap_problem, protected_problem
from llm_pretrain.signals import exit_code
from llm_pretrain.train.ranks import process_rank


def checkpoint_option(
    help_text: str = "A checkpoint folder, or a run folder (its latest checkpoint).",
) -> Callable[[Callable], Callable]:
    return click.option(
        "--checkpoint",
        required=True,
        type=LocalPath(exists=True, file_okay=False, path_type=Path),
        help=help_text,
    )


@contextmanager
def exit_when_stopped() -> Iterator[None]:
    """SIGINT or SIGTERM stopped training after a checkpoint of the step it stopped at: say
    how to continue (rank 0) and exit with the signal's code."""
    from llm_pretrain.train.trainer import Stopped

    try:
        yield
    except Stopped as exc:
        if process_rank() == 0:
            click.echo(str(exc), err=True)
        raise SystemExit(exit_code(exc.signum)) from None


@click.group(cls=StopsCleanly)
@click.version_option(__version__, prog_name="llm-pretrain")
def train() -> None:
    """Pretrain a Llama-style model on token shards: pretrain, eval, plot, export, sample, and
    ablate (which of several corpora trains the better model)."""
    safe_console()


@train.command()
@click.option(
    "--config",
    "-c",
    "config_path",
    type=LocalPath(exists=True, dir_okay=False, path_type=Path),
    help="Training recipe (configs/train/*.yaml); defaults apply to what it leaves out.",
)
@click.option(
    "--data",
    "-d",
    "data_dir",
    type=LocalPath(file_okay=False, path_type=Path),
    help="Folder written by llm-data tokenize (overrides the recipe's `data`).",
)
@click.option(
    "--out",
    "-o",
    type=LocalPath(file_okay=False, path_type=Path),
    help="Run folder for checkpoints, metrics.jsonl and config.yaml (overrides `out`).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Require a checkpoint in --out to continue from (resuming is automatic when one is "
    "there; this makes its absence an error).",
)
@click.option(
    "--init-from",
    type=LocalPath(exists=True, file_okay=False, path_type=Path),
    help="Continued pretraining: start from this LlamaForCausalLM folder (llm-train export's, "
    "or a compatible one). Its architecture and weights replace the recipe's model; the data "
    "must be tokenized with its tokenizer (llm-data tokenize --tokenizer HF_DIR).",
)
@click.option(
    "--stop-after-steps",
    type=click.IntRange(min=1),
    help="Stop after this step with a checkpoint (for time-limited jobs); the same command "
    "later continues to max_steps.",
)
@click.option(
    "--print-config",
    is_flag=True,
    help="Print the effective recipe (defaults, --config, KEY=VALUE) as YAML with each key's "
    "description, and exit.",
)
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@output_options
def pretrain(
    config_path: Path | None,
    data_dir: Path | None,
    out: Path | None,
    resume: bool,
    init_from: Path | None,
    stop_after_steps: int | None,
    print_config: bool,
    overrides: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Train the recipe's model on token shards, as one process or under torchrun.

    KEY=VALUE pairs override the recipe: optimizer.lr=1e-3 max_steps=500 model.n_layers=2.
    Started again with the same --out, a run continues from its latest complete checkpoint:
    model, optimizer, schedule, data position and random state, also with another number of
    processes. Several processes: torchrun --nproc-per-node N -m llm_pretrain.train pretrain ...

    \b
    Examples:
      llm-train pretrain -c configs/train/tiny.yaml --data corpus/tokens --out runs/r1
      llm-train pretrain --data corpus/tokens --out runs/r1 max_steps=500 optimizer.lr=1e-3
      torchrun --nproc-per-node 8 -m llm_pretrain.train pretrain \\
          -c configs/train/125M.yaml -d corpus/tokens -o runs/r1
    """
    from llm_pretrain.config import ConfigError
    from llm_pretrain.train.config import load_train_config
    from llm_pretrain.train.summary import format_train_summary
    from llm_pretrain.train.trainer import foreign_run_problem
    from llm_pretrain.train.trainer import pretrain as run_pretrain

    setup_logging(quiet, verbose)
    config = load_train_config(config_path, overrides)
    if print_config:
        click.echo(config_text(config, None, as_json), nl=False)
        return
    data = data_dir or config.data
    out = out or (Path(config.out) if config.out else None)
    if not data or out is None:
        raise ConfigError("give --data and --out (or `data` and `out` in the recipe)")
    folders = [Path(s.path) for s in data.values()] if isinstance(data, dict) else [Path(data)]
    sources = [*folders, *([init_from] if init_from else [])]
    problem = overlap_problem(out, sources, "--out", "input folder")
    problem = problem or protected_problem(out, "--out") or foreign_run_problem(out)
    if problem:
        raise UserError(problem)
    with exit_when_stopped():
        result = run_pretrain(config, data, out, resume, not quiet, stop_after_steps, init_from)
    if process_rank() != 0:
        return
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(format_train_summary(result.to_json()), nl=False)


ABLATE_RECIPE = Path("configs/train/ablate-tiny.yaml")


@train.command()
@click.option(
    "--variant",
    "variants",
    multiple=True,
    required=True,
    metavar="NAME=DATASET",
    help="A corpus to compare (repeatable): a document dataset (extract's, filter's, dedup's), "
    "or a `filter --dry-run` output as the filter would keep it, NAME=DRY:without=RULE[,RULE] "
    "with those rules (or steps) lifted.",
)
@click.option(
    "--eval",
    "evals",
    multiple=True,
    metavar="NAME=PATH",
    help="Held-out text to compare the models on (repeatable): a document dataset, or .txt/.md "
    "files (a document each) and .jsonl files (a text field per line).",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=LocalPath(file_okay=False, path_type=Path),
    help="Ablation folder: token data, a pretrain run per variant and seed, results.json, "
    "ablation.png. The same command again continues a killed ablation.",
)
@click.option(
    "--tokens",
    help="Training tokens of every run (20M, 2.5B...), in whole steps; default: the recipe's "
    "max_steps.",
)
@click.option(
    "--config",
    "-c",
    "config_path",
    type=LocalPath(dir_okay=False, path_type=Path),
    default=ABLATE_RECIPE,
    show_default=True,
    help="Training recipe of every run.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs per variant, with seeds recipe.seed, +1...: mean and spread.",
)
@click.option("--vocab-size", type=click.IntRange(min=260), default=8192, show_default=True)
@click.option("--seq-len", type=click.IntRange(min=1), help="Default: the model's max_seq_len.")
@click.option(
    "--val-fraction",
    type=FiniteRange(min=0, max=1, max_open=True),
    default=0.02,
    show_default=True,
    help="Share of each variant's documents held out (by a hash of the text, so a document "
    "is on the same side in every variant).",
)
@click.option(
    "--tokenizer",
    type=LocalPath(exists=True, path_type=Path),
    help="Use this tokenizer instead of training one on an equal share of every variant.",
)
@click.option(
    "--remove-overlap",
    is_flag=True,
    help="Train without the variants' documents that are also in an eval set (exact text); "
    "without it such an overlap is refused.",
)
@click.option(
    "--val-max-rows",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Rows of each validation split a model is evaluated on, the first ones (eval sets are "
    "always whole).",
)
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@output_options
def ablate(
    variants: tuple[str, ...],
    evals: tuple[str, ...],
    out: Path,
    tokens: str | None,
    config_path: Path,
    seeds: int,
    vocab_size: int,
    seq_len: int | None,
    val_fraction: float,
    tokenizer: Path | None,
    remove_overlap: bool,
    val_max_rows: int,
    overrides: tuple[str, ...],
    **options: Any,
) -> None:
    """Train the same model on each variant of a corpus at an equal token budget, and compare
    them by bits per byte on held-out text: does my filtering help?

    Every variant is tokenized with one tokenizer, its validation split held out by document;
    every run has the same recipe, seeds and tokens (a smaller variant repeats epochs). The
    table gives each model's bits per byte on every eval set and on every variant's validation
    split; results.json and ablation.png hold it all. Each run is an ordinary pretrain run
    folder under OUT/runs/ (export it, sample it). Under torchrun every run uses all processes.

    \b
    Examples:
      llm-train ablate --variant raw=corpus/extracted --variant filtered=corpus/filtered \\
          --eval clean=heldout/ --out ablations/run1 --tokens 2M --seeds 3
      llm-train ablate --variant all=corpus/dry --variant no-c4=corpus/dry:without=c4_quality \\
          --eval clean=heldout/ --out ablations/c4
    """
    from llm_pretrain.ablate.results import format_results
    from llm_pretrain.ablate.run import AblationSettings, run_ablation
    from llm_pretrain.ablate.spec import parse_eval, parse_tokens, parse_variant
    from llm_pretrain.train.config import load_train_config

    run = start(options, config=False)
    if not config_path.is_file():
        raise click.BadParameter(f"{config_path} does not exist", param_hint="'--config'")
    for override in overrides:
        if override.partition("=")[0].strip() in ("data", "out"):
            raise click.UsageError(f"{override}: ablate gives each run its data and folder")
    settings = AblationSettings(
        variants=[parse_variant(text) for text in variants],
        evals=[parse_eval(text) for text in evals],
        out=out,
        recipe=load_train_config(config_path, overrides),
        tokens=parse_tokens(tokens) if tokens is not None else None,
        seeds=seeds,
        vocab_size=vocab_size,
        seq_len=seq_len,
        val_fraction=val_fraction,
        tokenizer=tokenizer,
        remove_overlap=remove_overlap,
        val_max_rows=val_max_rows,
    )
    with exit_when_stopped():
        results = run_ablation(settings, show_progress=not run.quiet)
    if process_rank() != 0:
        return
    run.echo(results, format_results(results, out))


@train.command(name="eval")
@checkpoint_option()
@click.option(
    "--data",
    "-d",
    "data_dir",
    type=LocalPath(exists=True, file_okay=False, path_type=Path),
    help="Folder written by llm-data tokenize with the checkpoint's tokenizer.",
)
@click.option(
    "--text",
    type=LocalPath(exists=True, path_type=Path),
    help="Held-out text instead of --data: a document dataset (extract's, filter's, dedup's), "
    "or .txt/.md files (a document each) and .jsonl files (a text field per line), tokenized "
    "with the checkpoint's tokenizer.",
)
@click.option("--split", type=click.Choice(["val", "train"]), default="val", show_default=True)
@click.option("--max-rows", type=click.IntRange(min=1), help="Rows used; default: all.")
@click.option(
    "--batch-rows", type=click.IntRange(min=1), default=8, show_default=True, help="Rows per pass."
)
@output_options
def eval_(
    checkpoint: Path,
    data_dir: Path | None,
    text: Path | None,
    split: str,
    max_rows: int | None,
    batch_rows: int,
    **options: Any,
) -> None:
    """Loss, perplexity and bits per byte of a checkpoint on a split of a token dataset, or on
    held-out text. Bits per byte does not depend on the tokenizer: models trained with
    different ones compare on the same text.

    \b
    Examples:
      llm-train eval --checkpoint runs/r1 --data corpus/tokens
      llm-train eval --checkpoint runs/r1 --text heldout/ --json
    """
    from llm_pretrain.train.eval_run import evaluate_checkpoint, format_eval

    if (data_dir is None) == (text is None):
        raise click.UsageError("give --data TOKENS or --text PATH (one of them)")
    default = click.core.ParameterSource.DEFAULT
    if text is not None and click.get_current_context().get_parameter_source("split") != default:
        raise click.UsageError("--split chooses a split of --data; --text is evaluated whole")
    run = start(options, config=False)
    result = evaluate_checkpoint(checkpoint, data_dir, split, max_rows, batch_rows, text=text)
    if process_rank() != 0:
        return
    run.echo(result, format_eval(result))


@train.command()
@click.argument("run_dir", type=LocalPath(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=LocalPath(dir_okay=False, path_type=Path),
    help="PNG to write; default: RUN_DIR/loss.png.",
)
@output_options
def plot(run_dir: Path, output: Path | None, **options: Any) -> None:
    """Write the loss curves of a run (train, validation, learning rate) as a PNG.

    \b
    Examples:
      llm-train plot runs/r1
      llm-train plot runs/r1 -o r1.png
    """
    from llm_pretrain.train.plot import plot_run

    run = start(options, config=False)
    path = plot_run(run_dir, output)
    click.echo(json.dumps({"output": str(path)}) if run.as_json else path)


@train.command(name="export")
@checkpoint_option()
@click.option(
    "--out",
    "-o",
    required=True,
    type=LocalPath(file_okay=False, path_type=Path),
    help="Hugging Face folder to write. An earlier export there is replaced once the new one "
    "is complete; a folder with other files only with --overwrite.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace --out even if it holds files llm-train export did not write.",
)
@click.option("--dtype", type=click.Choice(["bf16", "fp32"]), default="bf16", show_default=True)
@click.option(
    "--max-shard-gb",
    type=FiniteRange(min=0.001),
    default=5.0,
    show_default=True,
    help="Split model.safetensors into files of at most this size (with an index file).",
)
@output_options
def export_(
    checkpoint: Path,
    out: Path,
    overwrite: bool,
    dtype: str,
    max_shard_gb: float,
    **options: Any,
) -> None:
    """Write a checkpoint as a LlamaForCausalLM folder: safetensors, config, tokenizer.

    Load it with transformers.AutoModelForCausalLM.from_pretrained(OUT) and
    AutoTokenizer.from_pretrained(OUT). Runs on a CPU, in one process, for a checkpoint written
    by any number of processes.

    \b
    Examples:
      llm-train export --checkpoint runs/r1 --out hf/r1
      llm-train export --checkpoint runs/r1/checkpoints/step-000400 --out hf/r1 --dtype fp32
    """
    from llm_pretrain.train.export import export
    from llm_pretrain.train.summary import format_export_summary

    run = start(options, config=False)
    result = export(checkpoint, out, dtype, int(max_shard_gb * 1e9), overwrite)
    if run.as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    click.echo(format_export_summary(result), nl=False)


@train.command()
@checkpoint_option("A checkpoint, a run folder (its latest checkpoint) or an exported folder.")
@click.option("--prompt", "prompts", multiple=True, help="Text to continue (repeatable).")
@click.option(
    "--prompts-file",
    type=LocalPath(exists=True, dir_okay=False, path_type=Path),
    help="A file of prompts, one per line.",
)
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--temperature",
    type=FiniteRange(min=0),
    default=0.8,
    show_default=True,
    help="0 is greedy decoding.",
)
@click.option("--top-k", type=click.IntRange(min=1), help="Sample among the k likeliest tokens.")
@click.option("--top-p", type=FiniteRange(min=0, max=1, min_open=True), help="Nucleus sampling.")
@click.option("--seed", type=int, default=0, show_default=True)
@output_options
def sample(
    checkpoint: Path,
    prompts: tuple[str, ...],
    prompts_file: Path | None,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int,
    **options: Any,
) -> None:
    """Continue prompts with the model, streaming the text as it is generated.

    Generation stops at <|endoftext|>, after --max-new-tokens, or at the model's max_seq_len.

    \b
    Examples:
      llm-train sample --checkpoint runs/r1 --prompt "The history of"
      llm-train sample --checkpoint hf/r1 --prompts-file prompts.txt --temperature 0 --json
    """
    from llm_pretrain.train.sample import END_OF_TEXT, generate, load_for_sampling, stream_text

    run = start(options, config=False)
    texts = list(prompts)
    if prompts_file is not None:
        try:
            lines = prompts_file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise click.BadParameter(f"{prompts_file} is not UTF-8 text ({exc.reason})") from None
        texts += [line for line in lines if line.strip()]
    if not texts:
        raise click.UsageError("give --prompt TEXT or --prompts-file FILE")
    model, tokenizer = load_for_sampling(checkpoint)
    stop_id = tokenizer.token_to_id(END_OF_TEXT)
    results = []
    for text in texts:
        prompt = tokenizer.encode(text).ids
        tokens = generate(model, prompt, max_new_tokens, temperature, top_k, top_p, seed, stop_id)
        if run.as_json:
            results.append({"prompt": text, "completion": "".join(stream_text(tokenizer, tokens))})
            continue
        click.echo(text, nl=False)
        for piece in stream_text(tokenizer, tokens):
            click.echo(piece, nl=False)
        click.echo("\n")
    if run.as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
