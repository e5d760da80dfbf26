"""Speed of `llm-data extract` next to a plain trafilatura/pymupdf loop and datatrove, and of
its two HTML engines (trafilatura, resiliparse) next to a plain loop of each.

Every variant reads the same generated input (benchmarks/_work/input) in a process of its own
(`--variant NAME`), so imports, caches and peak memory never leak between variants. The parent
builds the input, runs all variants in turn for --rounds rounds (best time counts), scores each
variant's text against the generator's paragraphs (bag-of-words F1) and prints a table per kind
of input, then the engine table: ours with `extract.html.engine` trafilatura and resiliparse,
a plain resiliparse loop (DCLM's settings) and the plain trafilatura loop, with pages/s,
precision, recall, F1 and the speed ratios of the engines. Nothing is asserted. `--engines`
runs only the four variants of the engine table (no PDFs, no datatrove).

    .venv-bench/bin/python benchmarks/extract.py [--pages 300] [--pdfs 200] [--rounds 3]
                                                 [--skip-datatrove] [--engines]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from corpus_crawl import build_input, pdf_pages
from harness import (
    Column,
    Table,
    Timed,
    interleaved,
    memory_cell,
    peak_rss_mb,
    ratio,
    report,
    run_child,
    target_goal,
)

WORK = Path(__file__).resolve().parent / "_work"
HTML_GOALS = (
    ("ours 1 worker", "plain loop", 0.95, "per-core throughput of ours vs the plain loop"),
    ("ours 2 workers", "ours 1 worker", 1.8, "2 workers vs 1 worker"),
)
PDF_GOALS = (("ours 1 worker", "plain loop", 0.95, "per-core throughput, PDFs"),)


# ---------------------------------------------------------------------------------------------
# Variants. Each is built (imports done) in its own process before the clock starts; `run` is
# timed; `texts` gathers the output afterwards for scoring, untimed.
# ---------------------------------------------------------------------------------------------

Texts = list[tuple[str, str]]  # (key, text); key = URL for pages, file path for PDFs


class Variant(Protocol):
    """A variant: `run` is timed, `texts` gathers its output afterwards, untimed."""

    def run(self, work: Path, out: Path) -> None: ...

    def texts(self, out: Path) -> Texts: ...


def html_records(warc_dir: Path) -> Iterator[tuple[str, str]]:
    """(url, html) of every 200 text/html response, read with warcio as a user would."""
    from warcio.archiveiterator import ArchiveIterator

    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                ctype = record.http_headers.get_header("Content-Type") or ""
                if record.http_headers.get_statuscode() != "200" or "html" not in ctype:
                    continue
                payload = record.content_stream().read()
                yield record.rec_headers.get_header("WARC-Target-URI"), payload.decode("utf-8")


class PlainHtml:
    """trafilatura.bare_extraction in a loop, with exactly the settings of our HtmlConfig."""

    def __init__(self) -> None:
        import trafilatura

        self.extract = trafilatura.bare_extraction
        self.output: Texts = []

    def run(self, work: Path, out: Path) -> None:
        for url, page in html_records(work / "warc"):
            result = self.extract(
                page,
                url=url,
                fast=False,
                favor_precision=False,
                favor_recall=False,
                include_comments=False,
                include_tables=True,
                with_metadata=True,
                deduplicate=False,
            )
            if result is not None and result.text:
                self.output.append((url, result.text))

    def texts(self, out: Path) -> Texts:
        return self.output


class PlainResiliparse:
    """resiliparse's `extract_plain_text` in a loop over the same records as PlainHtml, with
    DCLM's settings and ours (comment sections left out, as ours does by default)."""

    def __init__(self) -> None:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        self.parse = HTMLTree.parse
        self.extract = extract_plain_text
        self.output: Texts = []

    def run(self, work: Path, out: Path) -> None:
        for url, page in html_records(work / "warc"):
            text = self.extract(
                self.parse(page),
                preserve_formatting=True,
                main_content=True,
                alt_texts=False,
                links=False,
                comments=False,
                form_fields=False,
                noscript=False,
            )
            if text.strip():
                self.output.append((url, text))

    def texts(self, out: Path) -> Texts:
        return self.output


class PlainPdf:
    """pymupdf's `page.get_text()` over every page: no reflow, no metadata."""

    def __init__(self) -> None:
        import pymupdf

        self.pymupdf = pymupdf
        self.output: Texts = []

    def run(self, work: Path, out: Path) -> None:
        for path in sorted((work / "pdf").glob("*.pdf")):
            with self.pymupdf.open(path) as doc:
                self.output.append((str(path), "\n".join(page.get_text() for page in doc)))

    def texts(self, out: Path) -> Texts:
        return self.output


class Ours:
    """`llm-data extract` through its Python entry point: default config but for workers and
    `settings` ({"extract.html.engine": "resiliparse"}, as `--set` gives them)."""

    def __init__(self, source: str, workers: int, settings: dict[str, Any] | None = None) -> None:
        from llm_pretrain.config import load_config
        from llm_pretrain.stages import run_extract

        self.source = source
        self.config = load_config(None, {"executor.workers": workers, **(settings or {})})
        self.run_extract = run_extract

    def run(self, work: Path, out: Path) -> None:
        inputs = [str(work / self.source)]
        self.run_extract(inputs, out, self.config, show_progress=False, overwrite=True)

    def texts(self, out: Path) -> Texts:
        from llm_pretrain.pipeline.dataset import read_table

        rows = read_table(out).select(["url", "source", "text"]).to_pylist()
        return [(row["url"] or row["source"], row["text"]) for row in rows]


class Datatrove:
    """datatrove as its docs run it: WarcReader -> Trafilatura -> JsonlWriter, 1 task, 1 worker.

    The pipeline rather than a bare `Trafilatura().extract()` loop: that loop is the plain
    trafilatura loop under another name, while the pipeline is what users run, with datatrove's
    own WARC reading, per-document sandbox process (its timeout guard) and writer: the
    counterparts of what ours does. One task on one worker runs in-process, like ours with one
    worker. Caveat: our sample WARCs lack `WARC-Identified-Payload-Type`, so WarcReader sniffs
    every payload with libmagic, which Common Crawl WARCs would spare it.
    """

    def __init__(self, **trafilatura_options: object) -> None:
        from datatrove.executor import LocalPipelineExecutor
        from datatrove.pipeline.extractors import Trafilatura
        from datatrove.pipeline.readers import WarcReader
        from datatrove.pipeline.writers import JsonlWriter

        self.executor = LocalPipelineExecutor
        self.steps = (WarcReader, Trafilatura, JsonlWriter)
        self.options = trafilatura_options

    def run(self, work: Path, out: Path) -> None:
        reader, extractor, writer = self.steps
        shutil.rmtree(out, ignore_errors=True)
        pipeline = [
            reader(str(work / "warc"), glob_pattern="*.warc.gz"),
            extractor(**self.options),
            writer(str(out / "data")),
        ]
        logs = str(out / "logs")
        self.executor(pipeline, tasks=1, workers=1, logging_dir=logs, skip_completed=False).run()

    def texts(self, out: Path) -> Texts:
        texts = []
        for path in sorted((out / "data").glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                for line in lines:
                    row = json.loads(line)
                    texts.append((row["metadata"]["url"], row["text"]))
        return texts


# Our HtmlConfig defaults in datatrove's Trafilatura(**kwargs), which forwards to
# trafilatura.extract (include_comments=False is fixed there).
OUR_SETTINGS = {
    "favour_precision": False,
    "deduplicate": False,
    "fast": False,
    "include_tables": True,
    "with_metadata": True,
}
VARIANTS: dict[str, tuple[str, Callable[[], Variant]]] = {
    "html/plain": ("plain loop", PlainHtml),
    "html/ours1": ("ours 1 worker", partial(Ours, "warc", 1)),
    "html/ours2": ("ours 2 workers", partial(Ours, "warc", 2)),
    "html/datatrove": ("datatrove defaults", Datatrove),
    "html/datatrove-ours": ("datatrove, our settings", partial(Datatrove, **OUR_SETTINGS)),
    "html/ours1-resiliparse": (
        "ours 1 worker, resiliparse",
        partial(Ours, "warc", 1, {"extract.html.engine": "resiliparse"}),
    ),
    "html/plain-resiliparse": ("plain resiliparse loop", PlainResiliparse),
    "pdf/plain": ("plain loop", PlainPdf),
    "pdf/ours1": ("ours 1 worker", partial(Ours, "pdf", 1)),
}
# The engine table, in its order: variant -> (label, engine, the plain loop of its engine, its
# trafilatura counterpart of the same kind). Its two resiliparse variants are in no other table.
ENGINES: dict[str, tuple[str, str, str, str]] = {
    "html/ours1": ("ours 1 worker", "trafilatura", "html/plain", "html/ours1"),
    "html/ours1-resiliparse": (
        "ours 1 worker", "resiliparse", "html/plain-resiliparse", "html/ours1"
    ),
    "html/plain-resiliparse": (
        "plain loop", "resiliparse", "html/plain-resiliparse", "html/plain"
    ),
    "html/plain": ("plain loop", "trafilatura", "html/plain", "html/plain"),
}  # fmt: skip
ENGINE_ONLY = ("html/ours1-resiliparse", "html/plain-resiliparse")


def run_variant(name: str, work: Path) -> dict[str, Any]:
    """Child-process side: build the variant, time its run, gather its texts and numbers.
    Peak memory as getrusage gives it, which counts the parent's peak too (as it always did)."""
    variant = VARIANTS[name][1]()
    out = work / "out" / name.replace("/", "-")
    started = time.perf_counter()
    variant.run(work / "input", out)
    seconds = time.perf_counter() - started
    own, child = peak_rss_mb(since_exec=False)
    result: dict[str, Any] = {"seconds": seconds, "rss_mib": own, "child_rss_mib": child}
    result["texts"] = variant.texts(out)
    return result


# ---------------------------------------------------------------------------------------------
# Scoring and report
# ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_METADATA_HEADER = re.compile(r"\A---\n.*?\n---\n", re.S)  # trafilatura.extract(with_metadata)


def bag_scores(predicted: str, truth: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of word multisets (lower-cased): boilerplate lowers precision,
    losses lower recall; all 0 without a common word."""
    pred = Counter(_WORD.findall(_METADATA_HEADER.sub("", predicted).lower()))
    gold = Counter(_WORD.findall(truth.lower()))
    overlap = sum((pred & gold).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(gold.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def bag_f1(predicted: str, truth: str) -> float:
    """F1 of word multisets (lower-cased): boilerplate lowers precision, losses lower recall."""
    return bag_scores(predicted, truth)[2]


def mean_scores(texts: Texts, truth: dict[str, list[str]]) -> tuple[float, float, float]:
    """Mean precision, recall and F1 over all expected documents; a document the variant
    dropped scores 0 in all three."""
    found = dict(texts)
    scores = [bag_scores(found.get(key, ""), "\n".join(paras)) for key, paras in truth.items()]
    if not scores:
        return 0.0, 0.0, 0.0
    precision, recall, f1 = (sum(column) / len(scores) for column in zip(*scores, strict=True))
    return precision, recall, f1


def mean_f1(texts: Texts, truth: dict[str, list[str]]) -> float:
    """Mean F1 over all expected documents; a document the variant dropped scores 0."""
    return mean_scores(texts, truth)[2]


@dataclass
class Row(Timed):
    """One variant over all rounds: best time, highest memory; `docs` are its input documents
    (the generated pages or PDFs): the docs/s numerator."""

    label: str = ""
    docs_out: int = 0  # documents the variant kept
    f1: float = 0.0
    rss_mib: float = 0.0
    child_rss_mib: float = 0.0
    precision: float = 0.0  # mean bag-of-words precision and recall (F1's parts)
    recall: float = 0.0


def measure(
    names: list[str], work: Path, truth: dict[str, list[str]], rounds: int
) -> dict[str, Row]:
    """Rounds of all variants in turn, so that a slow spell of the machine hits all alike. A
    variant's texts are scored on its first round and dropped, so that the parent stays small:
    the children's peak memory, as getrusage gives it, starts from the parent's."""
    scores: dict[str, tuple[int, int, float, float, float]] = {}  # documents, kept, P, R, F1

    def run(name: str) -> dict[str, Any]:
        result = run_child(__file__, name, work=work)
        texts = result.pop("texts")
        if name not in scores:
            is_html = name.startswith("html/")
            expected = {k: v for k, v in truth.items() if k.startswith("http") == is_html}
            scores[name] = (len(expected), len(texts), *mean_scores(texts, expected))
        return result

    progress = "  round {round}/{rounds} {name}: {seconds:.2f} s"
    results = interleaved(names, rounds, run, progress)
    rows = {}
    for name in names:
        times = [result["seconds"] for result in results[name]]
        own = max(result["rss_mib"] for result in results[name])
        child = max(result["child_rss_mib"] for result in results[name])
        docs, kept, precision, recall, f1 = scores[name]
        label = VARIANTS[name][0]
        rows[name] = Row(docs, times, label, kept, f1, own, child, precision, recall)
    return rows


TABLE = Table(
    Column("variant", 26, left=True),
    Column("docs", 5),
    Column("out", 5),
    Column("best s", 8, ".2f"),
    Column("worst s", 9, ".2f"),
    Column("docs/s", 8, ".1f"),
    Column("vs plain", 10),
    Column("F1", 7, ".3f"),
    Column("peak RSS MiB", 14),
)


def print_table(title: str, rows: list[Row]) -> None:
    """One table of a kind of input; "vs plain": docs/s against the first row's."""
    base = rows[0].docs_per_s
    print(f"\n{title}")
    TABLE.header()
    for row in rows:
        versus = f"{ratio(row.docs_per_s, base):.2f}x"
        rss = memory_cell(row.rss_mib, row.child_rss_mib)
        TABLE.row(
            row.label, row.docs, row.docs_out, row.seconds, row.worst, row.docs_per_s, versus,
            row.f1, rss,
        )  # fmt: skip


ENGINE_TABLE = Table(
    Column("variant", 15, left=True),
    Column("engine", 13, left=True),
    Column("pages", 6),
    Column("out", 5),
    Column("best s", 8, ".2f"),
    Column("worst s", 9, ".2f"),
    Column("pages/s", 9, ".1f"),
    Column("vs plain", 10),
    Column("vs trafil.", 12),
    Column("P", 7, ".3f"),
    Column("R", 7, ".3f"),
    Column("F1", 7, ".3f"),
    Column("peak RSS MiB", 14),
)


def print_engines(rows: dict[str, Row]) -> None:
    """The engine table: "vs plain": pages/s against the plain loop of the same engine; "vs
    trafil.": against the same kind of variant (ours, plain loop) with trafilatura."""
    print("\nHTML engines (WARC.gz): extract.html.engine and a plain loop of each")
    ENGINE_TABLE.header()
    for name, (label, engine, plain, trafilatura) in ENGINES.items():
        row = rows[name]
        versus_plain = f"{ratio(row.docs_per_s, rows[plain].docs_per_s):.2f}x"
        versus_trafilatura = f"{ratio(row.docs_per_s, rows[trafilatura].docs_per_s):.2f}x"
        rss = memory_cell(row.rss_mib, row.child_rss_mib)
        ENGINE_TABLE.row(
            label, engine, row.docs, row.docs_out, row.seconds, row.worst, row.docs_per_s,
            versus_plain, versus_trafilatura, row.precision, row.recall, row.f1, rss,
        )  # fmt: skip
    speed = {name: rows[name].docs_per_s for name in ENGINES}
    print(
        f"ours resiliparse / plain resiliparse loop: "
        f"{ratio(speed['html/ours1-resiliparse'], speed['html/plain-resiliparse']):.2f}x pages/s"
        f"\nresiliparse / trafilatura, ours vs ours:   "
        f"{ratio(speed['html/ours1-resiliparse'], speed['html/ours1']):.2f}x pages/s"
        f"\nresiliparse / trafilatura, plain loops:    "
        f"{ratio(speed['html/plain-resiliparse'], speed['html/plain']):.2f}x pages/s"
    )
    print(ENGINE_NOTES)


ENGINE_NOTES = """
pages/s = pages / best s; P, R, F1: mean bag-of-words precision, recall and F1 against the
generator's paragraphs (a dropped page scores 0). Ours: run_extract with 1 worker, WARC reading
and parquet output included; the plain loops read the records with warcio. The plain resiliparse
loop uses DCLM's settings and leaves comment sections out, as ours does by default; ours also
decodes the bytes (charset detection), reads the title and date, and writes Parquet."""

NOTES = """
docs: input documents, docs/s = docs / best s; out: documents the variant kept (datatrove
keeps the WARCs' 404 pages); F1: bag of words against the generator's paragraphs; peak RSS:
the variant's process + its largest child (pool worker, sandbox). Times exclude imports and
reading the output back. Ratios below ~5% are within this machine's run-to-run noise."""


def print_goals(rows: list[Row], goals: tuple[tuple[str, str, float, str], ...]) -> None:
    """Each goal (label, versus, target, text) whose two variants ran: docs/s ratio vs target."""
    by_label = {row.label: row for row in rows}
    for label, versus, target, text in goals:
        if label in by_label and versus in by_label and by_label[versus].docs_per_s:
            target_goal(text, by_label[label].docs_per_s / by_label[versus].docs_per_s, target)


def parse_args() -> argparse.Namespace:
    """The sizes of the input, the rounds, and whether to leave the peer out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="HTML pages in the crawl")
    parser.add_argument("--pdfs", type=int, default=200, help="multi-page PDFs")
    parser.add_argument("--rounds", type=int, default=3, help="runs per variant; best counts")
    parser.add_argument("--skip-datatrove", action="store_true", help="leave the peer out")
    parser.add_argument(
        "--engines",
        action="store_true",
        help="only the engine table: ours and a plain loop with trafilatura and resiliparse",
    )
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    """Parent: build the input, measure, print; child (--variant): one variant."""
    args = parse_args()
    if args.variant:  # child process
        report(run_variant(args.variant, args.work), args.work, args.variant)
        return
    started = time.perf_counter()
    pdfs = 0 if args.engines else args.pdfs
    truth = build_input(args.work / "input", args.pages, pdfs)
    warcs = sorted((args.work / "input" / "warc").glob("*.gz"))
    pages = sum(1 for key in truth if key.startswith("http"))
    print(
        f"input: {pages} pages in {len(warcs)} WARC.gz "
        f"({sum(p.stat().st_size for p in warcs) / 2**20:.1f} MiB gzipped), {pdfs} PDFs "
        f"({pdf_pages(args.work / 'input' / 'pdf')} pages); built in "
        f"{time.perf_counter() - started:.0f} s; best of {args.rounds} round(s)"
    )
    if args.engines:
        print_engines(measure(list(ENGINES), args.work, truth, args.rounds))
        return
    names = [n for n in VARIANTS if not (args.skip_datatrove and "datatrove" in n)]
    html = measure([n for n in names if n.startswith("html/")], args.work, truth, args.rounds)
    pdf = measure([n for n in names if n.startswith("pdf/")], args.work, truth, args.rounds)
    html_rows = [row for name, row in html.items() if name not in ENGINE_ONLY]
    pdf_rows = list(pdf.values())
    print_table("HTML (WARC.gz)", html_rows)
    print_goals(html_rows, HTML_GOALS)
    print_table("PDF", pdf_rows)
    print_goals(pdf_rows, PDF_GOALS)
    print(NOTES)
    print_engines(html)


if __name__ == "__main__":
    main()
