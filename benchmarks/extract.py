"""Speed of `llm-data extract` next to a plain trafilatura/pymupdf loop and datatrove.

Every variant reads the same generated input (benchmarks/_work/input) in a process of its own
(`--variant NAME`), so imports, caches and peak memory never leak between variants. The parent
builds the input, runs all variants in turn for --rounds rounds (best time counts), scores each
variant's text against the generator's paragraphs (bag-of-words F1) and prints one table.
Nothing is asserted.

    .venv-bench/bin/python benchmarks/extract.py [--pages 300] [--pdfs 30] [--rounds 3]
                                                 [--skip-datatrove]
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from llm_pretrain.samples import Article

WORK = Path(__file__).resolve().parent / "_work"
WARC_FILES = 4  # one WARC is one task of ours: 4 lets 2 workers split the crawl evenly
HTML_GOALS = (
    ("ours 1 worker", "plain loop", 0.95, "per-core throughput of ours vs the plain loop"),
    ("ours 2 workers", "ours 1 worker", 1.8, "2 workers vs 1 worker"),
)
PDF_GOALS = (("ours 1 worker", "plain loop", 0.95, "per-core throughput, PDFs"),)


# ---------------------------------------------------------------------------------------------
# Input: heavy article pages in WARC.gz files, multi-page PDFs, and the ground truth
# ---------------------------------------------------------------------------------------------

_MENU_WORDS = [
    "World",
    "Politics",
    "Business",
    "Markets",
    "Tech",
    "Science",
    "Health",
    "Sport",
    "Football",
    "Tennis",
    "Culture",
    "Books",
    "Film",
    "Music",
    "Travel",
    "Food",
    "Opinion",
    "Weather",
    "Video",
    "Podcasts",
    "Puzzles",
    "Newsletters",
    "Archive",
    "Events",
    "Jobs",
]
_COMMENTS = [
    "Great piece, thanks for sharing this with us.",
    "I completely disagree with the author here.",
    "Does anyone know where the original report can be found?",
    "First!",
    "This is exactly what happened in my town last year.",
    "Subscribed just to say well done.",
    "Fake news as usual, nobody checks the sources anymore.",
    "Brilliant photos, who took them?",
]
_SCRIPT = (
    "(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),"
    "event:'gtm.js'});var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;"
    "j.src='/gtm.js?id='+i;f.parentNode.insertBefore(j,f);})(window,document,'script',"
    "'dataLayer','GTM-%d');\n"
)


def _mega_menu(rng: random.Random) -> str:
    """A header navigation of 6-25 sections with 12-18 links each, descriptions included."""
    sections = []
    for section in rng.sample(_MENU_WORDS, rng.randint(6, 25)):
        links = "".join(
            f'<li class="menu-item"><a class="menu-link" href="/{section.lower()}/{k}" '
            f'data-track="nav-{section.lower()}-{k}"><span>{section} {rng.choice(_MENU_WORDS)}'
            f"</span><small>Latest {section.lower()} news and analysis</small></a></li>"
            for k in range(rng.randint(12, 18))
        )
        sections.append(
            f'<li class="menu-section"><button aria-expanded="false">{section}</button>'
            f'<div class="mega-panel"><div class="mega-inner"><ul class="menu-list">{links}'
            f"</ul></div></div></li>"
        )
    return f'<nav class="mega-menu" role="navigation"><ul>{"".join(sections)}</ul></nav>'


def _head_extras(rng: random.Random, title: str, date: str) -> str:
    """JSON-LD, tag-manager and ad scripts, a style block: what real pages carry in <head>."""
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "datePublished": date,
        "author": {"@type": "Person", "name": "Staff Writer"},
        "publisher": {"@type": "Organization", "name": "Example News"},
        "breadcrumb": [
            {"@type": "ListItem", "position": k, "name": w}
            for k, w in enumerate(rng.sample(_MENU_WORDS, 8))
        ],
    }
    scripts = "".join(_SCRIPT % rng.randint(1000, 9999) for _ in range(rng.randint(10, 120)))
    styles = "".join(
        f".c{k}{{margin:{k % 7}px;padding:{k % 5}px;color:#{k * 99 % 4096:03x}}}"
        for k in range(300)
    )
    return (
        f'<script type="application/ld+json">{json.dumps(ld)}</script>\n'
        f"<script>{scripts}</script>\n<style>{styles}</style>\n"
    )


def _comments(rng: random.Random) -> str:
    items = "".join(
        f'<li class="comment"><div class="comment-meta"><a href="/user/{k}">reader{k}</a> '
        f'<time>{rng.randint(1, 59)} minutes ago</time></div><div class="comment-body"><p>'
        f'{html.escape(rng.choice(_COMMENTS))}</p></div><div class="comment-actions">'
        f"<button>Reply</button><button>Like ({rng.randint(0, 99)})</button></div></li>"
        for k in range(rng.randint(5, 50))
    )
    return f'<section id="comments" class="comments"><h2>Comments</h2><ol>{items}</ol></section>'


def _related(rng: random.Random, objects: list[str]) -> str:
    cards = "".join(
        f'<div class="card"><div class="card-media"><img src="/img/{k}.jpg" alt=""></div>'
        f'<div class="card-body"><a href="/story/{rng.randint(1, 99999)}"><h4>'
        f"{html.escape(rng.choice(objects).capitalize())}</h4></a><p>{rng.choice(_MENU_WORDS)}"
        f" &middot; {rng.randint(2, 9)} min read</p></div></div>"
        for k in range(rng.randint(10, 45))
    )
    return f'<section class="related"><h3>More from Example News</h3>{cards}</section>'


def _sitemap_footer(rng: random.Random) -> str:
    columns = "".join(
        f'<div class="col"><h5>{word}</h5><ul>'
        + "".join(f'<li><a href="/{word.lower()}/{k}">{word} {k}</a></li>' for k in range(12))
        + "</ul></div>"
        for word in rng.sample(_MENU_WORDS, 12)
    )
    return (
        f'<div class="sitemap">{columns}</div><form class="newsletter"><input type="email">'
        "<button>Sign up to our daily newsletter</button></form>"
    )


def _wrappers(depth: int) -> str:
    return "".join(f'<div class="wrap-{k} layout-col">' for k in range(depth))


def _splice(page: str, marker: str, replacement: str) -> str:
    if marker not in page:
        raise RuntimeError(f"llm_pretrain.samples.article() no longer contains {marker!r}")
    return page.replace(marker, replacement, 1)


def heavy_page(index: int, seed: int) -> Article:
    """A sample article wrapped in real-world boilerplate: ~50-150 KB and a deep, wide DOM."""
    from llm_pretrain import samples

    item = samples.article(index, seed)
    rng = random.Random(f"heavy-{seed}-{index}")
    depth = rng.randint(8, 20)
    page = _splice(item.html, "</head>", _head_extras(rng, item.title, item.date) + "</head>")
    page = _splice(page, "</nav></header>", f"</nav>{_mega_menu(rng)}</header>")
    page = _splice(page, "<main><article>", f"<main>{_wrappers(depth)}<article>")
    page = _splice(page, "</article>", "</article>" + _comments(rng) + "</div>" * depth)
    page = _splice(
        page, '<aside class="sidebar">', '<aside class="sidebar">' + _related(rng, samples._OBJECTS)
    )
    page = _splice(page, "<footer>", "<footer>" + _sitemap_footer(rng))
    return replace(item, html=page)


def build_input(root: Path, pages: int, pdfs: int, seed: int = 0) -> dict[str, list[str]]:
    """Write the WARCs and PDFs; return ground truth paragraphs by URL (pages) and by PDF path."""
    from llm_pretrain import samples

    shutil.rmtree(root, ignore_errors=True)
    built = [heavy_page(i, seed) for i in range(pages)]
    for part in range(WARC_FILES):
        warc = root / "warc" / f"crawl-{part:02d}.warc.gz"
        samples.write_warc(warc, built[part::WARC_FILES], extras=True)
    truth = {p.url: p.paragraphs for p in built}
    rng = random.Random(f"pdf-{seed}")
    for index in range(pdfs):
        paragraphs = [
            samples.paragraph(rng, rng.randint(10, 20)) for _ in range(rng.randint(20, 60))
        ]
        path = root / "pdf" / f"report-{index:03d}.pdf"
        samples.write_pdf(path, f"Report {index}", paragraphs)
        truth[str(path)] = paragraphs
    (root / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    return truth


# ---------------------------------------------------------------------------------------------
# Variants. Each is built (imports done) in its own process before the clock starts; `run` is
# timed; `texts` gathers the output afterwards for scoring, untimed.
# ---------------------------------------------------------------------------------------------

Texts = list[tuple[str, str]]  # (key, text); key = URL for pages, file path for PDFs


class Variant(Protocol):
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
    """`llm-data extract` through its Python entry point: default config but for workers."""

    def __init__(self, source: str, workers: int) -> None:
        from llm_pretrain.config import load_config
        from llm_pretrain.stages import run_extract

        self.source = source
        self.config = load_config(None, {"executor.workers": workers})
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
    "pdf/plain": ("plain loop", PlainPdf),
    "pdf/ours1": ("ours 1 worker", partial(Ours, "pdf", 1)),
}


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def run_variant(name: str, work: Path, result_path: Path) -> None:
    """Child-process side: build the variant, time its run, save texts and numbers."""
    variant = VARIANTS[name][1]()
    out = work / "out" / name.replace("/", "-")
    started = time.perf_counter()
    variant.run(work / "input", out)
    seconds = time.perf_counter() - started
    own, child = peak_rss_mib()
    result = {"seconds": seconds, "rss_mib": own, "child_rss_mib": child}
    result["texts"] = variant.texts(out)
    result_path.write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Scoring and report
# ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_METADATA_HEADER = re.compile(r"\A---\n.*?\n---\n", re.S)  # trafilatura.extract(with_metadata)


def bag_f1(predicted: str, truth: str) -> float:
    """F1 of word multisets (lower-cased): boilerplate lowers precision, losses lower recall."""
    pred = Counter(_WORD.findall(_METADATA_HEADER.sub("", predicted).lower()))
    gold = Counter(_WORD.findall(truth.lower()))
    overlap = sum((pred & gold).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(gold.values())
    return 2 * precision * recall / (precision + recall)


def mean_f1(texts: Texts, truth: dict[str, list[str]]) -> float:
    """Mean F1 over all expected documents; a document the variant dropped scores 0."""
    found = dict(texts)
    scores = [bag_f1(found.get(key, ""), "\n".join(paras)) for key, paras in truth.items()]
    return sum(scores) / max(len(scores), 1)


@dataclass
class Row:
    """One variant over all rounds: best time, highest memory."""

    label: str
    docs: int  # input documents (the generated pages or PDFs): the docs/s numerator
    docs_out: int  # documents the variant kept
    f1: float
    times: list[float]
    rss_mib: float
    child_rss_mib: float

    @property
    def seconds(self) -> float:
        return min(self.times)

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.seconds if self.seconds else 0.0


def measure_once(name: str, work: Path) -> dict:
    """Run one variant in a fresh interpreter; its output goes to _work/logs/."""
    slug = name.replace("/", "-")
    result_path, log_path = work / "results" / f"{slug}.json", work / "logs" / f"{slug}.log"
    result_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--variant", name, "--work", str(work)]
    with open(log_path, "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {done.returncode}), see {log_path}")
    return json.loads(result_path.read_text(encoding="utf-8"))


def measure(names: list[str], work: Path, truth: dict[str, list[str]], rounds: int) -> list[Row]:
    """Rounds of all variants in turn, so that a slow spell of the machine hits all alike."""
    rows: dict[str, Row] = {}
    for round_index in range(rounds):
        for name in names:
            result = measure_once(name, work)
            print(
                f"  round {round_index + 1}/{rounds} {name}: {result['seconds']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
            row = rows.get(name)
            if row is None:
                is_html = name.startswith("html/")
                expected = {k: v for k, v in truth.items() if k.startswith("http") == is_html}
                f1 = mean_f1(result["texts"], expected)
                label, kept = VARIANTS[name][0], len(result["texts"])
                row = rows[name] = Row(label, len(expected), kept, f1, [], 0, 0)
            row.times.append(result["seconds"])
            row.rss_mib = max(row.rss_mib, result["rss_mib"])
            row.child_rss_mib = max(row.child_rss_mib, result["child_rss_mib"])
    return [rows[name] for name in names]


def print_table(title: str, rows: list[Row]) -> None:
    base = rows[0].docs_per_s
    print(f"\n{title}")
    header = (
        f"{'variant':<26}{'docs':>5}{'out':>5}{'best s':>8}{'worst s':>9}{'docs/s':>8}"
        f"{'vs plain':>10}{'F1':>7}{'peak RSS MiB':>14}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row.docs_per_s / base if base else 0.0
        rss = f"{row.rss_mib:.0f}+{row.child_rss_mib:.0f}"
        print(
            f"{row.label:<26}{row.docs:>5}{row.docs_out:>5}{row.seconds:>8.2f}{max(row.times):>9.2f}"
            f"{row.docs_per_s:>8.1f}{ratio:>9.2f}x{row.f1:>7.3f}{rss:>14}"
        )


NOTES = """
docs: input documents, docs/s = docs / best s; out: documents the variant kept (datatrove
keeps the WARCs' 404 pages); F1: bag of words against the generator's paragraphs; peak RSS:
the variant's process + its largest child (pool worker, sandbox). Times exclude imports and
reading the output back. Ratios below ~5% are within this machine's run-to-run noise."""


def print_goals(rows: list[Row], goals: tuple[tuple[str, str, float, str], ...]) -> None:
    by_label = {row.label: row for row in rows}
    for label, versus, target, text in goals:
        if label in by_label and versus in by_label and by_label[versus].docs_per_s:
            ratio = by_label[label].docs_per_s / by_label[versus].docs_per_s
            verdict = "met" if ratio >= target else "NOT met"
            print(f"goal: {text}: {ratio:.2f}x (target >= {target}x) -> {verdict}")


def pdf_pages(folder: Path) -> int:
    """Pages over all PDFs of the folder."""
    import pymupdf

    total = 0
    for path in folder.glob("*.pdf"):
        with pymupdf.open(path) as doc:
            total += doc.page_count
    return total


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="HTML pages in the crawl")
    parser.add_argument("--pdfs", type=int, default=200, help="multi-page PDFs")
    parser.add_argument("--rounds", type=int, default=3, help="runs per variant; best counts")
    parser.add_argument("--skip-datatrove", action="store_true", help="leave the peer out")
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.variant:  # child process
        result = args.work / "results" / f"{args.variant.replace('/', '-')}.json"
        run_variant(args.variant, args.work, result)
        return
    started = time.perf_counter()
    truth = build_input(args.work / "input", args.pages, args.pdfs)
    warcs = sorted((args.work / "input" / "warc").glob("*.gz"))
    pages = sum(1 for key in truth if key.startswith("http"))
    print(
        f"input: {pages} pages in {len(warcs)} WARC.gz "
        f"({sum(p.stat().st_size for p in warcs) / 2**20:.1f} MiB gzipped), {args.pdfs} PDFs "
        f"({pdf_pages(args.work / 'input' / 'pdf')} pages); built in "
        f"{time.perf_counter() - started:.0f} s; best of {args.rounds} round(s)"
    )
    names = [n for n in VARIANTS if not (args.skip_datatrove and "datatrove" in n)]
    html_rows = measure([n for n in names if n.startswith("html/")], args.work, truth, args.rounds)
    pdf_rows = measure([n for n in names if n.startswith("pdf/")], args.work, truth, args.rounds)
    print_table("HTML (WARC.gz)", html_rows)
    print_goals(html_rows, HTML_GOALS)
    print_table("PDF", pdf_rows)
    print_goals(pdf_rows, PDF_GOALS)
    print(NOTES)


if __name__ == "__main__":
    main()
