"""`llm-data`: the dataset stages (chained), train-classifier, train-tokenizer, refresh,
status, report. Each command parses its options, calls its component and prints the
component's formatted result (`format_*` beside it); errors become one line in the group
(cli_options.py), the one error boundary of both programs. `llm-train` is cli_train.py."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from llm_pretrain import __version__
from llm_pretrain.cli_chain import json_result
from llm_pretrain.cli_options import (
    ConfigHelp,
    LastInChain,
    LocalPath,
    MultiValueGroup,
    config_file_options,
    config_options,
    dataset_input_option,
    dataset_output_options,
    output_options,
    safe_console,
    start,
)
from llm_pretrain.errors import UserError
from llm_pretrain.pipeline.documents import for_console
from llm_pretrain.pipeline.extract.formats import suffixes_help
from llm_pretrain.pipeline.outputs import overlap_problem
from llm_pretrain.pipeline.runner import RunSummary
from llm_pretrain.pipeline.summary import format_summary, format_tokenize_summary, summary_json
from llm_pretrain.stages import STAGE_FOLDERS


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
    help=f"Files, folders (read recursively) or globs: {suffixes_help()}; store URLs "
    "(s3://, gs://, az://: a prefix, a glob, an object), web URLs, or path lists (*.paths.gz, "
    "with --base-url: Common Crawl). Several may follow one --input.",
)
@dataset_output_options
@config_file_options
@config_options("executor", "extract")
@output_options
def extract(
    inputs: tuple[str, ...],
    output: Path,
    overwrite: bool,
    **options: Any,
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
      llm-data extract -i s3://bucket/crawl/ -o s3://bucket/corpus/extracted
      llm-data extract -i warc.paths.gz --base-url https://data.commoncrawl.org/ \\
          --paths-range 0:100 -o corpus/extracted
    """
    from llm_pretrain.stages import run_extract

    run = start(options)
    config = run.config
    return _report(
        lambda: run_extract(list(inputs), output, config, not run.quiet, overwrite),
        output,
        run.as_json,
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
    **options: Any,
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

    run = start(options)
    config = run.config
    return _report(
        lambda: run_filter(input_dir, output, config, not run.quiet, overwrite), output, run.as_json
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
    **options: Any,
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

    run = start(options)
    config = run.config
    return _report(
        lambda: run_dedup(input_dir, output, config, index_dir, not run.quiet, overwrite),
        output,
        run.as_json,
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
    **options: Any,
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

    run = start(options)
    config = run.config
    summary = run_tokenize(input_dir, output, config, tokenizer_path, not run.quiet, overwrite)
    if run.as_json:
        return json_result(summary_json(summary, output))
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
    **options: Any,
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
    from llm_pretrain.pipeline.filters.training import format_report, train_classifier

    run = start(options)
    config = run.config.train_classifier
    report = train_classifier(list(positive), list(negative), output, config)
    run.echo(report, format_report(report))


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
    **options: Any,
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
    from llm_pretrain.tokenizer.training import foreign_output_problem, format_report
    from llm_pretrain.tokenizer.training import train_tokenizer as train

    run = start(options)
    config = run.config.tokenizer
    problem = overlap_problem(output, [input_dir], "--output", "input dataset")
    problem = problem or foreign_output_problem(output)
    if problem:
        raise UserError(problem)
    report = train(input_dir, output, config)
    run.echo(report, format_report(report, output))


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
    **options: Any,
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

    run = start(options)
    config = run.config
    result = run_refresh(workdir, config, list(inputs) or None, not run.quiet)
    run.echo(result.to_json(), for_console(result.line(), lines=False))


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
def status(workdir: Path, inputs: tuple[str, ...], **options: Any) -> None:
    """Versions, documents and tokens of a refresh work folder, pending inputs, the last run.

    \b
    Examples:
      llm-data status corpus/
      llm-data status corpus/ --json
    """
    from llm_pretrain.corpus.status import corpus_status, format_status

    run = start(options, config=False)
    result = corpus_status(workdir, list(inputs) or None)
    if run.as_json:
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
@click.option(
    "--ablation",
    "ablations",
    multiple=True,
    type=LocalPath(exists=True, file_okay=False, path_type=Path),
    help="An llm-train ablate folder to show (repeatable); those under CORPUS/ablations/ are "
    "shown without it.",
)
@output_options
def report(corpus: Path, output: Path | None, ablations: tuple[Path, ...], **options: Any) -> None:
    """One self-contained HTML page on a corpus: the funnel of every stage and rule, languages,
    dedup clusters, tokens, charts, and the ablations that compared its variants. CORPUS is a
    refresh work folder or a chain's --output.

    \b
    Examples:
      llm-data report corpus/
      llm-data report corpus/ -o report.html --ablation ablations/run1
    """
    from llm_pretrain.corpus.report import collect_report, format_report_line
    from llm_pretrain.corpus.report_ablation import ablation_summaries
    from llm_pretrain.corpus.report_html import write_report

    run = start(options, config=False)
    data = collect_report(corpus)
    data["ablations"] = ablation_summaries(corpus, list(ablations))
    path = write_report(data, output or corpus / "report.html")
    run.echo({**data, "output": str(path)}, format_report_line(data, path))


def _report(stage: Callable[[], RunSummary], output: Path, as_json: bool) -> dict | None:
    """Run a stage; print its summary, or its JSON (in a chain: hand it to `print_chain`)."""
    summary = stage()
    for error in summary.stats.get("input_errors", []):
        logging.getLogger(__name__).debug("input not read: %s: %s", error["path"], error["error"])
    if not as_json:
        click.echo(format_summary(summary, output), nl=False)
        return None
    return json_result(summary_json(summary, output))


@data.result_callback()
def print_chain(results: list[dict | None], **_: object) -> None:
    """A chain with --json prints one object: each stage's result under its name."""
    merged = {name: result for item in results if item for name, result in item.items()}
    if merged:
        click.echo(json.dumps(merged, indent=2, sort_keys=True))
