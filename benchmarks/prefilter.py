"""Pages/s gained by `extract.prefilter` on a crawl with a realistic share of rejected pages.

`extract.prefilter` rejects HTML pages before trafilatura runs: by URL with the lists of
`filter.url_blocklist` (`url_blocklist: true`), and by the language of resiliparse's plain text
of the whole page (`language: true`: a language outside `filter.language.languages` winning with
at least `extract.prefilter.language_min_score`). This benchmark measures what that saves.

Input (offline, into `benchmarks/_work/prefilter/`, gitignored; reused while `--pages` and
`--seed` are the same): the noisy crawl of `corpus_quality.py` (real text of this machine in
site chrome; by pages clean 50%, duplicate 12%, foreign 10%, boilerplate 10%, spam 7%, garbled
6%, contact 5%) at about `--pages` pages, and a URL blocklist: the hosts of its spam pages
(`labels.json`), "www." dropped (subdomains are blocked too), as a spam-domain list would hold
them. The spam pages are the only ones on those hosts (checked and printed).

Variants, each `run_extract` (what `llm-data extract` runs) with 1 worker in an interpreter of
its own, config built before the clock, output folder removed before it; rounds interleaved,
best of `--rounds`:

    without prefilter: llm-data extract -i CRAWL -o OUT --workers 1
    with prefilter:    ... --set extract.prefilter.url_blocklist=true
                           --set extract.prefilter.language=true
                           --set filter.url_blocklist.domains_file=DOMAINS

Then (untimed) `llm-data filter` with steps [language, url_blocklist, gopher_repetition,
gopher_quality, c4_quality, fineweb_quality, pii] and the same domains file runs on both
extract outputs, and the kept documents are compared by id: a page the prefilter rejected that
the filter would have kept is printed with its URL, class and the two language scores. Nothing
is asserted.

    .venv-bench/bin/python benchmarks/prefilter.py [--pages 1500] [--rounds 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from corpus_quality import SHARES, build_quality_corpus
from harness import Column, Table, Timed, interleaved, ratio, report, run_child

WORK = Path(__file__).resolve().parent / "_work" / "prefilter"
# Clean prose per clean page in corpus_quality's crawl (8.0 MB in ~2,730 clean pages with its
# defaults): what turns --pages into its `clean_mb`; the noise pages follow from SHARES.
CLEAN_BYTES_PER_PAGE = 2930
FILTER_STEPS = [
    "language",
    "url_blocklist",
    "gopher_repetition",
    "gopher_quality",
    "c4_quality",
    "fineweb_quality",
    "pii",
]
VARIANTS: dict[str, tuple[str, bool]] = {  # name -> (label, prefilter on)
    "without": ("without prefilter", False),
    "with": ("with prefilter", True),
}
PREFILTER_REASONS = ("url_blocklist", "language")


def crawl_dir(work: Path) -> Path:
    return work / "corpus" / "crawl"


def domains_file(work: Path) -> Path:
    return work / "blocklist" / "domains.txt"


def settings(work: Path, prefilter: bool, workers: int = 1) -> dict[str, Any]:
    """The config overrides of a variant (as --set gives them)."""
    values: dict[str, Any] = {"executor.workers": workers}
    if prefilter:
        values["extract.prefilter.url_blocklist"] = True
        values["extract.prefilter.language"] = True
        values["filter.url_blocklist.domains_file"] = str(domains_file(work))
    return values


# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------


def build_input(work: Path, pages: int, seed: int) -> dict[str, str]:
    """The crawl (reused while pages and seed are the same) and its blocklist; URL -> label."""
    corpus = work / "corpus"
    stamp = corpus / "stamp.json"
    wanted = {"pages": pages, "seed": seed, "bytes_per_page": CLEAN_BYTES_PER_PAGE}
    fresh = not (stamp.exists() and json.loads(stamp.read_text()) == wanted)
    if fresh or not (corpus / "labels.json").exists():
        started = time.perf_counter()
        clean_mb = pages * SHARES["clean"] * CLEAN_BYTES_PER_PAGE / 1e6
        stamp.unlink(missing_ok=True)
        corpus.mkdir(parents=True, exist_ok=True)
        build_quality_corpus(corpus, clean_mb=clean_mb, heldout_mb=0.0, seed=seed)
        stamp.write_text(json.dumps(wanted))
        print(f"crawl built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    labels: dict[str, str] = json.loads((corpus / "labels.json").read_text(encoding="utf-8"))
    spam_hosts = {host_of(url) for url, label in labels.items() if label.startswith("spam/")}
    domains = sorted({host.removeprefix("www.") for host in spam_hosts})
    path = domains_file(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# hosts of the spam pages of the crawl (labels.json), www. dropped\n"
    path.write_text(header + "".join(f"{domain}\n" for domain in domains), encoding="utf-8")
    return labels


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def blocked(url: str, domains: set[str]) -> bool:
    """Whether the URL's host or a parent domain is listed (as the step decides)."""
    parts = host_of(url).split(".")
    return any(".".join(parts[k:]) in domains for k in range(len(parts)))


# ---------------------------------------------------------------------------------------------
# Variants (child side)
# ---------------------------------------------------------------------------------------------


def run_variant(name: str, work: Path) -> dict[str, Any]:
    """Child process: build the config, time run_extract, then count its output (untimed)."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dataset import read_table
    from llm_pretrain.stages import run_extract

    config = load_config(None, settings(work, VARIANTS[name][1]))
    out = work / "out" / name / "extracted"
    shutil.rmtree(out, ignore_errors=True)  # a finished dataset would be found up to date
    started = time.perf_counter()
    run_extract([str(crawl_dir(work))], out, config, show_progress=False, overwrite=True)
    seconds = time.perf_counter() - started
    kept = read_table(out).num_rows
    reasons = Counter(read_table(out, rejected=True).column("reason").to_pylist())
    return {"seconds": seconds, "kept": kept, "reasons": dict(reasons)}


# ---------------------------------------------------------------------------------------------
# Filter and comparison (parent side, untimed)
# ---------------------------------------------------------------------------------------------


def run_filters(work: Path) -> dict[str, Path]:
    """`llm-data filter` (the steps above, the same domains file, 2 workers) on both outputs."""
    from llm_pretrain.config import load_config
    from llm_pretrain.stages import run_filter

    overrides = settings(work, True, workers=2)
    overrides["filter.steps"] = FILTER_STEPS
    config = load_config(None, overrides)
    outputs = {}
    for name in VARIANTS:
        out = work / "out" / name / "filtered"
        run_filter(work / "out" / name / "extracted", out, config, False, overwrite=True)
        outputs[name] = out
    return outputs


def rows_by_id(folder: Path, rejected: bool = False) -> dict[str, dict[str, Any]]:
    from llm_pretrain.pipeline.dataset import read_table

    columns = ["id", "url", "language", "language_score"] + (["reason"] if rejected else [])
    table = read_table(folder, rejected).select(columns)
    return {row["id"]: row for row in table.to_pylist()}


def compare(work: Path, labels: dict[str, str]) -> None:
    """Kept after filter with and without the prefilter; what the filter chain did, without the
    prefilter, to each page the prefilter rejected."""
    filtered = run_filters(work)
    kept = {name: rows_by_id(filtered[name]) for name in VARIANTS}
    only_without = sorted(set(kept["without"]) - set(kept["with"]))
    only_with = sorted(set(kept["with"]) - set(kept["without"]))
    print(
        f"\nkept after filter: without prefilter {len(kept['without']):,}, with prefilter "
        f"{len(kept['with']):,}; same set: {'yes' if not only_without and not only_with else 'no'}"
        f"\n  kept only without the prefilter (the prefilter rejected what the filter keeps): "
        f"{len(only_without)}\n  kept only with the prefilter: {len(only_with)}"
    )
    prefiltered = {
        doc_id: row
        for doc_id, row in rows_by_id(work / "out" / "with" / "extracted", True).items()
        if row["reason"].startswith(PREFILTER_REASONS)
    }
    extract_rejected = rows_by_id(work / "out" / "without" / "extracted", True)
    filter_rejected = rows_by_id(filtered["without"], True)
    outcome: Counter[tuple[str, str]] = Counter()
    by_class: Counter[tuple[str, str]] = Counter()
    for doc_id, row in prefiltered.items():
        if doc_id in kept["without"]:
            then = "kept"
        elif doc_id in filter_rejected:
            then = f"filter {filter_rejected[doc_id]['reason']}"
        elif doc_id in extract_rejected:
            then = f"extract {extract_rejected[doc_id]['reason']}"
        else:
            then = "?"
        outcome[row["reason"], then] += 1
        by_class[row["reason"], labels.get(row["url"], "?").partition("/")[0]] += 1
    print("\npages the prefilter rejected, and what became of them without it:")
    for (reason, then), count in sorted(outcome.items()):
        print(f"  {reason:<30} {count:>5}  without prefilter: {then}")
    print("by class of the crawl:")
    for (reason, label), count in sorted(by_class.items()):
        print(f"  {reason:<30} {count:>5}  {label}")
    for doc_id in only_without[:10]:
        row, theirs = kept["without"][doc_id], prefiltered.get(doc_id)
        why = (
            f"prefilter {theirs['reason']} ({theirs['language']} {theirs['language_score']:.3f})"
            if theirs and theirs["language"]
            else f"prefilter {theirs['reason']}"
            if theirs
            else "not rejected by the prefilter"
        )
        print(
            f"  {row['url']} [{labels.get(row['url'], '?')}]: filter kept it as "
            f"{row['language']} {row['language_score']:.3f}; {why}"
        )


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

TABLE = Table(
    Column("variant", 19, left=True),
    Column("pages", 6),
    Column("kept", 6),
    Column("url_block", 10),
    Column("language", 9),
    Column("best s", 8, ".2f"),
    Column("worst s", 9, ".2f"),
    Column("pages/s", 9, ".1f"),
    Column("vs without", 11),
)


def print_table(results: dict[str, list[dict[str, Any]]]) -> None:
    print("\nllm-data extract, 1 worker (trafilatura)")
    TABLE.header()
    speed = {}
    for name, (label, _) in VARIANTS.items():
        first = results[name][0]
        reasons = Counter(first["reasons"])
        pages = first["kept"] + sum(reasons.values())
        timed = Timed(pages, [result["seconds"] for result in results[name]])
        speed[name] = timed.docs_per_s
        url = sum(n for reason, n in reasons.items() if reason.startswith("url_blocklist:"))
        language = reasons["language:other_language"]
        versus = f"{ratio(timed.docs_per_s, speed['without']):.2f}x"
        TABLE.row(
            label, pages, first["kept"], url, language, timed.seconds, timed.worst,
            timed.docs_per_s, versus,
        )  # fmt: skip
    print(f"with / without prefilter: {ratio(speed['with'], speed['without']):.2f}x pages/s")
    print(NOTES)


NOTES = """pages: HTML records read; kept: documents extracted; url_block, language: pages the
prefilter rejected (url_blocklist:*, language:other_language in the rejected shards);
pages/s = pages / best s. Ratios within ~5% are this machine's run-to-run noise."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1500, help="pages in the crawl (about)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per variant; best counts")
    parser.add_argument("--seed", type=int, default=0, help="the crawl's seed")
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    """Parent: build the input, time both variants, filter, compare, print; child: a variant."""
    args = parse_args()
    if args.variant:  # child process
        report(run_variant(args.variant, args.work), args.work, args.variant)
        return
    labels = build_input(args.work, args.pages, args.seed)
    classes = Counter(label.partition("/")[0] for label in labels.values())
    domains = {line for line in domains_file(args.work).read_text().splitlines() if "#" not in line}
    listed = Counter(labels[url].partition("/")[0] for url in labels if blocked(url, domains))
    warcs = sorted(crawl_dir(args.work).glob("*.warc.gz"))
    print(
        f"input: {len(labels):,} pages in {len(warcs)} WARC.gz "
        f"({sum(p.stat().st_size for p in warcs) / 2**20:.1f} MiB gzipped): "
        + ", ".join(f"{name} {classes[name]}" for name in SHARES)
        + f"\nblocklist: {len(domains)} domains (the spam pages' hosts), blocking "
        + ", ".join(f"{count} {name}" for name, count in sorted(listed.items()))
        + f" pages\nbest of {args.rounds} round(s), interleaved"
    )
    progress = "  round {round}/{rounds} {name}: {seconds:.2f} s"
    results = interleaved(
        list(VARIANTS),
        args.rounds,
        lambda name: run_child(__file__, name, work=args.work),
        progress,
    )
    print_table(results)
    compare(args.work, labels)


if __name__ == "__main__":
    main()
