"""Command-line entry points `llm-data` and `llm-train`: parse, load config, call, report."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from llm_pretrain import __version__
from llm_pretrain.cli_options import (
    IN_CHAIN,
    ConfigHelp,
    FiniteRange,
    LocalPath,
    MultiValueGroup,
    StopsCleanly,
    config_file_options,
    config_options,
    config_yaml,
    output_options,
    resolve_config,
    setup_logging,
)
from llm_pretrain.errors import UserError
from llm_pretrain.pipeline.documents import for_console
from llm_pretrain.pipeline.outputs import overlap_problem, protected_problem
from llm_pretrain.pipeline.runner import RunSummary
from llm_pretrain.pipeline.summary import format_summary, format_tokenize_summary, summary_json
from llm_pretrain.signals import exit_code
from llm_pretrain.stages import STAGE_FOLDERS


def safe_console() -> None:
    """Print what cannot be encoded (a file name of non-UTF-8 bytes, a lone surrogate from a
    JSON record) as a backslash escape instead of failing on it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def dataset_output_options(command: Callable) -> Callable:
    """--output and --overwrite, the same on every stage that writes a dataset."""
    command = click.option(
        "--overwrite", is_flag=True, help="Replace a dataset already in --output made differently."
    )(command)
    return click.option(
        "--output",
        "-o",
        required=True,
        type=LocalPath(file_okay=False, path_type=Path),
        help="Dataset folder to write (created if missing).",
    )(command)


def dataset_input_option(help_text: str) -> Callable[[Callable], Callable]:
    """--input for the stages that read a dataset folder."""
    return click.option(
        "--input",
        "-i",
        "input_dir",
        required=True,
        # Not checked here: in a chain it is written by the stage before, after parsing.
        type=LocalPath(file_okay=False, path_type=Path),
        help=help_text,
    )


@click.group(cls=MultiValueGroup, chain=True)
@click.version_option(__version__, prog_name="llm-pretrain")
def data() -> None:
    """Build a pretraining corpus: extract -> filter -> dedup -> tokenize.

    Every document stage reads and writes a dataset folder: Parquet shards plus
    _manifest.json and _stats.json, with rejected documents and their reasons under _rejected/;
    tokenize writes the tokenizer and Arrow token shards under train/ and val/. Stages chain:
    `llm-data extract --input crawl/ filter dedup tokenize --output corpus/` writes
    corpus/extracted, corpus/filtered, corpus/deduped and corpus/tokens, each stage reading the
    one before. `refresh` runs that chain on what is new, from cron. A stage killed at
    any point and started again finishes the job with the same result. Exit codes: 0 success
    (also when there is nothing to do), 1 failure, 2 usage error.
    """
    safe_console()


data.chain_folders = STAGE_FOLDERS


@data.command(cls=ConfigHelp)
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    required=True,
    metavar="PATH...",
    help="Files, folders (read recursively) or globs: .warc(.gz), .warc.wet.gz, .html(.gz), "
    ".htm, .pdf, .txt, .md, .jsonl(.gz), .parquet. Several may follow one --input.",
)
@dataset_output_options
@config_file_options
@config_options("executor", "extract")
@output_options
def extract(
    inputs: tuple[str, ...],
    output: Path,
    overwrite: bool,
    config_path: Path | None,
    assignments: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **options: object,
) -> dict | None:
    """Extract documents from web crawls, web pages, PDFs and text into a dataset.

    HTML main text comes from trafilatura, PDF text from pymupdf; WET records and text, JSONL
    and Parquet inputs pass through. Every input document ends up either as a row of OUTPUT
    or as a row of OUTPUT/_rejected/ with its reason; WARC records that are not documents
    (requests, non-200 responses, images) are counted in _stats.json.

    \b
    Examples:
      llm-data extract --input crawl/ pdfs/ --output corpus/extracted
      llm-data extract -i "dumps/*.warc.gz" -o corpus/extracted --workers 8 --html-mode precision
      llm-data extract --input crawl/ filter dedup tokenize --output corpus/
    """
    from llm_pretrain.stages import run_extract

    setup_logging(quiet, verbose)
    config = resolve_config(config_path, assignments, options)
    return _report(
        lambda: run_extract(list(inputs), output, config, not quiet, overwrite), output, as_json
    )


@data.command(name="filter", cls=ConfigHelp)
@dataset_input_option("Dataset folder to filter (the output of extract or of an earlier filter).")
@dataset_output_options
@config_file_options
@config_options("executor", "filter")
@output_options
def filter_(
    input_dir: Path,
    output: Path,
    overwrite: bool,
    config_path: Path | None,
    assignments: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **options: object,
) -> dict | None:
    """Identify languages, apply quality rules and classifiers, mask PII.

    Runs the steps of `filter.steps` in order on every document. Kept documents get their
    annotation columns (language, language_score, scores) and masked text; each rejected one
    goes to OUTPUT/_rejected/ with the reason `<step>:<rule>`. `--dry-run` rejects nothing and
    lists in a `would_reject` column every rule a document fails. Keys of list or mapping
    type (e.g. filter.steps, filter.language.languages) are set with --set or in the YAML.

    \b
    Examples:
      llm-data filter -i corpus/extracted -o corpus/filtered
      llm-data filter -i corpus/extracted -o corpus/filtered --set 'filter.steps=[language, pii]'
      llm-data filter -i corpus/extracted -o corpus/dry --dry-run   # reject nothing, annotate
    """
    from llm_pretrain.stages import run_filter

    setup_logging(quiet, verbose)
    config = resolve_config(config_path, assignments, options)
    return _report(
        lambda: run_filter(input_dir, output, config, not quiet, overwrite), output, as_json
    )


@data.command(cls=ConfigHelp)
@dataset_input_option("Dataset folder to deduplicate (usually the output of filter).")
@click.option(
    "--index",
    "index_dir",
    type=LocalPath(file_okay=False, path_type=Path),
    help="Index folder of everything kept by earlier runs (created if missing): the batch is "
    "deduplicated against it too, and its kept documents are added to it.",
)
@dataset_output_options
@config_file_options
@config_options("executor", "dedup")
@output_options
def dedup(
    input_dir: Path,
    index_dir: Path | None,
    output: Path,
    overwrite: bool,
    config_path: Path | None,
    assignments: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **options: object,
) -> dict | None:
    """Remove exact and near-duplicate documents (MinHash LSH).

    Exact duplicates share their normalised text; near-duplicates have an estimated Jaccard
    similarity of word 5-gram sets of at least dedup.minhash.threshold (0.8). Each cluster of
    duplicates keeps one document (dedup.keep: first, oldest or longest; documents of the
    index always win); the others go to OUTPUT/_rejected/ with the reason
    `exact_duplicate_of:<id>` or `near_duplicate_of:<id>` and the estimated similarity.

    \b
    Examples:
      llm-data dedup -i corpus/filtered -o corpus/deduped
      llm-data dedup -i batch2/filtered -o batch2/deduped --index corpus/dedup-index
      llm-data dedup -i corpus/filtered -o corpus/deduped --set dedup.minhash.threshold=0.7
    """
    from llm_pretrain.stages import run_dedup

    setup_logging(quiet, verbose)
    config = resolve_config(config_path, assignments, options)
    return _report(
        lambda: run_dedup(input_dir, output, config, index_dir, not quiet, overwrite),
        output,
        as_json,
    )


@data.command(cls=ConfigHelp)
@dataset_input_option("Dataset folder to tokenize (usually the output of dedup).")
@click.option(
    "--tokenizer",
    "tokenizer_path",
    type=LocalPath(exists=True, path_type=Path),
    help="Reuse this tokenizer (a folder with tokenizer.json, or the file) instead of training "
    "one on the input; a refresh keeps its corpus's tokenizer this way.",
)
@dataset_output_options
@config_file_options
@config_options("executor", "tokenizer", "tokenize")
@output_options
def tokenize(
    input_dir: Path,
    tokenizer_path: Path | None,
    output: Path,
    overwrite: bool,
    config_path: Path | None,
    assignments: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **options: object,
) -> dict | None:
    """Train a tokenizer (or reuse one), encode every document, pack rows of seq_len + 1 ids.

    OUTPUT gets the tokenizer files (tokenizer.json, tokenizer_config.json: Hugging Face
    format), train/ and val/ with Arrow IPC shards of packed rows (documents joined by
    <|endoftext|>; a split's last row is padded, its `length` column marks where), and
    _manifest.json with token counts, rows per shard and the tokenizer's sha256. Validation
    documents (tokenize.val_fraction, chosen by a hash of their text) are never in the
    tokenizer's training sample.

    \b
    Examples:
      llm-data tokenize -i corpus/deduped -o corpus/tokens --vocab-size 32768
      llm-data tokenize -i more/deduped -o more/tokens --tokenizer corpus/tokens
    """
    from llm_pretrain.stages import run_tokenize

    setup_logging(quiet, verbose)
    config = resolve_config(config_path, assignments, options)
    summary = run_tokenize(input_dir, output, config, tokenizer_path, not quiet, overwrite)
    if as_json:
        return _json_result(summary_json(summary, output))
    click.echo(format_tokenize_summary(summary, output), nl=False)
    return None


@data.command(name="train-classifier", cls=ConfigHelp)
@click.option(
    "--positive",
    "positive",
    multiple=True,
    required=True,
    type=LocalPath(exists=True, path_type=Path),
    metavar="PATH...",
    help="Examples of the positive class: dataset folders, .parquet, .jsonl(.gz) or .txt "
    "(one example per line). Several may follow one --positive.",
)
@click.option(
    "--negative",
    "negative",
    multiple=True,
    required=True,
    type=LocalPath(exists=True, path_type=Path),
    metavar="PATH...",
    help="Examples of the negative class, in the same forms.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=LocalPath(dir_okay=False, path_type=Path),
    help="Model file to write; a report with held-out metrics goes to OUTPUT.json.",
)
@config_file_options
@config_options("train_classifier")
@output_options
def train_classifier(
    positive: tuple[Path, ...],
    negative: tuple[Path, ...],
    output: Path,
    config_path: Path | None,
    assignments: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **options: object,
) -> None:
    """Train a fastText classifier for the quality or toxicity filter step.

    DCLM-style quality: high-quality reference text as --positive, random crawl as --negative;
    toxicity: toxic examples as --positive (label it e.g. toxic with --positive-label). A share
    of the examples is held out, and precision, recall and F1 of the positive class on it are
    printed. Use the model with filter.quality_classifier.model_path (or toxicity_classifier).

    \b
    Examples:
      llm-data train-classifier --positive wiki.txt --negative corpus/extracted -o quality.bin
      llm-data filter -i corpus/extracted -o corpus/filtered \\
          --set 'filter.steps=[language, quality_classifier]' \\
          --set filter.quality_classifier.model_path=quality.bin
    """
    from llm_pretrain.pipeline.filters.training import train_classifier

    setup_logging(quiet, verbose)
    config = resolve_config(config_path, assignments, options).train_classifier
    report_file = output.with_name(output.name + ".json")
    for written in (output, report_file):
        problem = overlap_problem(written, [*positive, *negative], "--output", "examples")
        if problem:
            raise UserError(problem)
    report = train_classifier(list(positive), list(negative), output, config)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    held_out, counts = report["held_out"], report["examples"]
    click.echo(
        f"train-classifier -> {output}\n"
        f"  examples   {config.positive_label} {counts['positive']:,}, "
        f"{config.negative_label} {counts['negative']:,} (trained on {counts['train']:,})\n"
        f"  held out   {held_out['test_examples']:,} examples: "
        f"precision {held_out['precision']:.3f}, recall {held_out['recall']:.3f}, "
        f"F1 {held_out['f1']:.3f}, accuracy {held_out['accuracy']:.3f} "
        f"({config.positive_label} at p >= 0.5)"
    )


@data.command(name="train-tokenizer", cls=ConfigHelp)
@dataset_input_option("Dataset folder to train on (usually the output of dedup).")
@click.option(
    "--output",
    "-o",
    required=True,
    type=LocalPath(file_okay=False, path_type=Path),
    help="Folder for tokenizer.json, tokenizer_config.json and train_report.json.",
)
@config_file_options
@config_options("tokenizer")
@output_options
def train_tokenizer(
    input_dir: Path,
    output: Path,
    config_path: Path | None,
    assignments: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **options: object,
) -> None:
    """Train a byte-level BPE tokenizer on a dataset's documents.

    The 256 bytes are tokens (any text encodes), <|endoftext|> and tokenizer.special_tokens
    are never learned as pieces, and the files load unchanged in Hugging Face tokenizers and
    transformers (AutoTokenizer.from_pretrained(OUTPUT)). A corpus larger than
    tokenizer.train_bytes is sampled by a hash of the document texts.

    \b
    Examples:
      llm-data train-tokenizer -i corpus/deduped -o tokenizer/ --vocab-size 32768
    """
    from llm_pretrain.tokenizer.training import foreign_output_problem
    from llm_pretrain.tokenizer.training import train_tokenizer as train

    setup_logging(quiet, verbose)
    config = resolve_config(config_path, assignments, options).tokenizer
    problem = overlap_problem(output, [input_dir], "--output", "input dataset")
    problem = problem or foreign_output_problem(output)
    if problem:
        raise UserError(problem)
    report = train(input_dir, output, config)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    trained = report["trained_on"]
    click.echo(
        f"train-tokenizer -> {output}\n"
        f"  vocabulary     {report['vocab_size']:,} tokens "
        f"({len(report['special_tokens'])} special)\n"
        f"  trained on     {trained['documents']:,} documents, {trained['bytes'] / 1e6:,.1f} MB "
        f"of {report['corpus_bytes'] / 1e6:,.1f} MB in {report['train_seconds']:,.1f} s\n"
        f"  compression    {report['bytes_per_token']:.2f} bytes per token\n"
        f"  sha256         {report['tokenizer_sha256']}"
    )


@data.command(cls=ConfigHelp)
@click.option(
    "--workdir",
    "-w",
    required=True,
    type=LocalPath(file_okay=False, path_type=Path),
    help="The corpus work folder (created on the first run); train on WORKDIR/tokens.",
)
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="PATH...",
    help="Files, folders or globs to watch, instead of the config's refresh.inputs.",
)
@config_file_options
@config_options("executor")
@output_options
def refresh(
    workdir: Path,
    inputs: tuple[str, ...],
    config_path: Path | None,
    assignments: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **options: object,
) -> None:
    """Process what is new in the watched inputs and commit it as the corpus's next version.

    Runs extract -> filter -> dedup (against everything kept before) -> tokenize (with the
    corpus's tokenizer; the first run trains it) on the inputs no earlier run processed, as one
    batch, then commits a new version of WORKDIR/tokens. Safe from cron: a second run while one
    is going exits at once with code 75; a run killed at any point leaves the last version
    intact, and the next run finishes the batch exactly once. Prints one line (--json: the
    details); logs go to WORKDIR/refresh.log. Exit codes: 0 committed or nothing new, 1 error,
    2 usage error, 75 the work folder is locked by another run.

    \b
    Examples:
      llm-data refresh --workdir corpus/ --input "crawl/*.warc.gz"
      0 * * * * cd /data && llm-data refresh -w corpus/ -c pipeline.yaml -q   # crontab line
    """
    from llm_pretrain.corpus.refresh import refresh as run_refresh

    setup_logging(quiet, verbose)
    config = resolve_config(config_path, assignments, options)
    result = run_refresh(workdir, config, list(inputs) or None, not quiet)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(for_console(result.line(), lines=False))


class LastInChain(click.Command):
    """A command with an argument that takes its options after it too (`status DIR --json`).

    Click parses the commands of a chain with options first; this one reads all that follows
    it, so nothing chains after it.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.allow_interspersed_args = True
        return super().parse_args(ctx, args)


@data.command(cls=LastInChain)
@click.argument("workdir", type=LocalPath(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="PATH...",
    help="Count new files here instead of in the patterns the last refresh watched.",
)
@output_options
def status(
    workdir: Path, inputs: tuple[str, ...], quiet: bool, verbose: bool, as_json: bool
) -> None:
    """Versions, documents and tokens of a refresh work folder, pending inputs, the last run.

    \b
    Examples:
      llm-data status corpus/
      llm-data status corpus/ --json
    """
    from llm_pretrain.corpus.status import corpus_status, format_status

    setup_logging(quiet, verbose)
    result = corpus_status(workdir, list(inputs) or None)
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo(format_status(result), nl=False)


@data.command(cls=LastInChain)
@click.argument("corpus", type=LocalPath(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=LocalPath(dir_okay=False, path_type=Path),
    help="The HTML file to write (default: CORPUS/report.html).",
)
@output_options
def report(corpus: Path, output: Path | None, quiet: bool, verbose: bool, as_json: bool) -> None:
    """One self-contained HTML page on a corpus: the funnel of every stage and rule, languages,
    dedup clusters, tokens, charts. CORPUS is a refresh work folder or a chain's --output.

    \b
    Examples:
      llm-data report corpus/
      llm-data report corpus/ -o report.html
    """
    from llm_pretrain.corpus.report import collect_report, kept_row
    from llm_pretrain.corpus.report_html import write_report

    setup_logging(quiet, verbose)
    data = collect_report(corpus)
    path = write_report(data, output or corpus / "report.html")
    if as_json:
        click.echo(json.dumps({**data, "output": str(path)}, indent=2, sort_keys=True))
        return
    kept = kept_row(data)
    click.echo(
        f"report -> {path}: {kept.get('documents_out', 0):,} documents, "
        f"{data['tokens']['tokens']:,} tokens, {len(data['rejections'])} rejection reasons"
    )


def _report(run: Callable[[], RunSummary], output: Path, as_json: bool) -> dict | None:
    """Run a stage; print its summary, or its JSON (in a chain: hand it to `print_chain`)."""
    summary = run()
    for error in summary.stats.get("input_errors", []):
        logging.getLogger(__name__).debug("input not read: %s: %s", error["path"], error["error"])
    if not as_json:
        click.echo(format_summary(summary, output), nl=False)
        return None
    return _json_result(summary_json(summary, output))


def _json_result(result: dict) -> dict | None:
    """Print a stage's JSON result; in a chain, return it keyed by stage for `print_chain`,
    so that a chain prints one JSON document."""
    ctx = click.get_current_context()
    if ctx.meta.get(IN_CHAIN):
        return {ctx.info_name: result}
    click.echo(json.dumps(result, indent=2, sort_keys=True))
    return None


@data.result_callback()
def print_chain(results: list[dict | None], **_: object) -> None:
    """A chain with --json prints one object: each stage's result under its name."""
    merged = {name: result for item in results if item for name, result in item.items()}
    if merged:
        click.echo(json.dumps(merged, indent=2, sort_keys=True))


def checkpoint_option(
    help_text: str = "A checkpoint folder, or a run folder (its latest checkpoint).",
) -> Callable[[Callable], Callable]:
    return click.option(
        "--checkpoint",
        required=True,
        type=LocalPath(exists=True, file_okay=False, path_type=Path),
        help=help_text,
    )


@click.group(cls=StopsCleanly)
@click.version_option(__version__, prog_name="llm-pretrain")
def train() -> None:
    """Pretrain a Llama-style model on token shards: pretrain, eval, sample, export."""
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
    from llm_pretrain.train.trainer import Stopped, foreign_run_problem
    from llm_pretrain.train.trainer import pretrain as run_pretrain

    setup_logging(quiet, verbose)
    try:
        config = load_train_config(config_path, overrides)
        if print_config:
            click.echo(config_yaml(config), nl=False)
            return
        data_dir = data_dir or (Path(config.data) if config.data else None)
        out = out or (Path(config.out) if config.out else None)
        if data_dir is None or out is None:
            raise ConfigError("give --data and --out (or `data` and `out` in the recipe)")
        sources = [data_dir, *([init_from] if init_from else [])]
        problem = overlap_problem(out, sources, "--out", "input folder")
        problem = problem or protected_problem(out, "--out") or foreign_run_problem(out)
        if problem:
            raise UserError(problem)
        result = run_pretrain(config, data_dir, out, resume, not quiet, stop_after_steps, init_from)
    except Stopped as exc:  # SIGINT or SIGTERM, after a checkpoint of the step it stopped at
        if int(os.environ.get("RANK", "0")) == 0:
            click.echo(str(exc), err=True)
        raise SystemExit(exit_code(exc.signum)) from None
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(format_train_summary(result.to_json()), nl=False)


@train.command(name="eval")
@checkpoint_option()
@click.option(
    "--data",
    "-d",
    "data_dir",
    required=True,
    type=LocalPath(exists=True, file_okay=False, path_type=Path),
    help="Folder written by llm-data tokenize with the checkpoint's tokenizer.",
)
@click.option("--split", type=click.Choice(["val", "train"]), default="val", show_default=True)
@click.option("--max-rows", type=click.IntRange(min=1), help="Rows used; default: all.")
@click.option(
    "--batch-rows", type=click.IntRange(min=1), default=8, show_default=True, help="Rows per pass."
)
@output_options
def eval_(
    checkpoint: Path,
    data_dir: Path,
    split: str,
    max_rows: int | None,
    batch_rows: int,
    quiet: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Loss and perplexity of a checkpoint on a split of a token dataset.

    \b
    Examples:
      llm-train eval --checkpoint runs/r1 --data corpus/tokens
    """
    from llm_pretrain.train.eval_run import evaluate_checkpoint

    setup_logging(quiet, verbose)
    result = evaluate_checkpoint(checkpoint, data_dir, split, max_rows, batch_rows)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    baseline = result["unigram_loss"]
    click.echo(
        f"eval  {result['checkpoint']} (step {result['step']}) on {result['data']} "
        f"[{result['split']}]\n"
        f"  loss          {result['loss']:.4f} over {result['tokens']:,} target tokens\n"
        f"  perplexity    {result['ppl']:,.2f}\n"
        + (f"  unigram       {baseline:.4f}\n" if baseline is not None else "")
    )


@train.command()
@click.argument("run_dir", type=LocalPath(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=LocalPath(dir_okay=False, path_type=Path),
    help="PNG to write; default: RUN_DIR/loss.png.",
)
@output_options
def plot(run_dir: Path, output: Path | None, quiet: bool, verbose: bool, as_json: bool) -> None:
    """Write the loss curves of a run (train, validation, learning rate) as a PNG.

    \b
    Examples:
      llm-train plot runs/r1
      llm-train plot runs/r1 -o r1.png
    """
    from llm_pretrain.train.plot import plot_run

    setup_logging(quiet, verbose)
    path = plot_run(run_dir, output)
    click.echo(json.dumps({"output": str(path)}) if as_json else path)


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
    quiet: bool,
    verbose: bool,
    as_json: bool,
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

    setup_logging(quiet, verbose)
    result = export(checkpoint, out, dtype, int(max_shard_gb * 1e9), overwrite)
    if as_json:
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
    quiet: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Continue prompts with the model, streaming the text as it is generated.

    Generation stops at <|endoftext|>, after --max-new-tokens, or at the model's max_seq_len.

    \b
    Examples:
      llm-train sample --checkpoint runs/r1 --prompt "The history of"
      llm-train sample --checkpoint hf/r1 --prompts-file prompts.txt --temperature 0 --json
    """
    from llm_pretrain.train.sample import END_OF_TEXT, generate, load_for_sampling, stream_text

    setup_logging(quiet, verbose)
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
        if as_json:
            results.append({"prompt": text, "completion": "".join(stream_text(tokenizer, tokens))})
            continue
        click.echo(text, nl=False)
        for piece in stream_text(tokenizer, tokens):
            click.echo(piece, nl=False)
        click.echo("\n")
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
