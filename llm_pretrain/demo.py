"""`make demo`: the whole chain on a crawl built offline from real text (`demo_crawl`).

1. the four stages chained in one command (`llm-data extract ... filter dedup tokenize`),
   each printing what it kept and rejected and why;
2. the same crawl kept up to date as cron would: `refresh`, a second delivery a week later,
   `refresh` again, `status`, and the HTML `report`;
3. the tiny model pretrained on the corpus for a few minutes on CPU, its loss plot, its
   export to a Hugging Face folder and text sampled from it.

Broken inputs (an encrypted PDF, a scan without text, a WARC cut short, binary junk named
.html, a page with no article, a JSONL file with a broken line) sit among the real ones, so
that every kind of rejection shows with its reason. Every step runs the very command it
prints, in a process of its own.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from llm_pretrain.demo_crawl import (
    MIRROR_WARC,
    build_first_delivery,
    build_second_delivery,
    module_docs,
)
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.samples import encrypt_pdf, write_image_only_pdf, write_pdf
from llm_pretrain.stages import STAGE_FOLDERS

CONFIG = Path("configs/demo.yaml")
RECIPE = Path("configs/train/demo.yaml")
PROMPTS = ['The "if" statement', "Return a new"]


def add_broken_inputs(crawl: Path) -> None:
    """Inputs a real crawl folder has too; each becomes a rejection with its reason."""
    locked = crawl / "pdfs" / "locked.pdf"
    write_pdf(locked, "Locked", ["This report is confidential."])
    encrypt_pdf(locked)
    write_image_only_pdf(crawl / "pdfs" / "scan.pdf")
    mirror = crawl / "crawl" / MIRROR_WARC  # its download was cut off: the tail is missing
    whole = mirror.read_bytes()
    mirror.write_bytes(whole[: len(whole) * 2 // 3])
    (crawl / "pages" / "not-really.html").write_bytes(bytes(range(256)) * 16)
    (crawl / "pages" / "menu-only.html").write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav></body></html>"
    )
    # A mailing-list export: two posts quoting module documentation, and a line cut short.
    posts = [doc.text() for doc in module_docs()[-2:]]
    rows = [
        json.dumps({"text": text, "url": f"https://lists.example.org/{i}"})
        for i, text in enumerate(posts)
    ]
    (crawl / "lists.jsonl").write_text("\n".join([*rows, '{"text": "cut sh']) + "\n")


def command_line(program: str) -> list[str]:
    """How to run `llm-data` or `llm-train`: the installed script beside this Python, or the
    module when the package is not installed as scripts."""
    script = Path(sys.executable).with_name(program)
    if script.is_file():
        return [str(script)]
    module = {"llm-data": "llm_pretrain", "llm-train": "llm_pretrain.train"}[program]
    return [sys.executable, "-m", module]


def run(program: str, *args: object) -> None:
    """Print a command as a user types it, then run exactly that (its output passes through);
    the demo stops at the first command that fails."""
    words = [str(arg) for arg in args]
    print(f"$ {program} {shlex.join(words)}\n", flush=True)
    done = subprocess.run([*command_line(program), *words], check=False)
    if done.returncode != 0:
        sys.exit(f"demo: `{program} {shlex.join(words)}` failed with exit code {done.returncode}")
    print(flush=True)


def show_first_document(deduped: Path) -> None:
    first = pq.read_table(shard_paths(deduped)[0]).slice(0, 1).to_pylist()[0]
    print(f"first document of {deduped}:")
    print(f"  id {first['id']}  format {first['format']}  url {first['url']}")
    print(f"  language {first['language']} ({first['language_score']:.2f})")
    print(f"  metadata {first['metadata']}")
    print(f"  text {first['text'][:300]!r}...\n", flush=True)


def run_stages(crawl: Path, work: Path) -> None:
    """The four stages chained in one command, as the README shows it."""
    shutil.rmtree(work, ignore_errors=True)
    run("llm-data", "extract", "--input", crawl, "filter", "dedup", "tokenize",
        "--config", CONFIG, "--output", work)  # fmt: skip
    show_first_document(work / STAGE_FOLDERS["dedup"])


def refresh_twice(crawl: Path, corpus: Path) -> None:
    """The crawl kept up to date as cron would: a refresh, a new delivery, another refresh."""
    shutil.rmtree(corpus, ignore_errors=True)
    refresh = ("refresh", "--config", CONFIG, "--workdir", corpus, "--input", crawl)
    run("llm-data", *refresh)
    delivery = build_second_delivery(crawl / "2025-11")
    print(
        f"(a week later: {delivery.pages} new pages and {delivery.pdfs} PDFs in {crawl}/2025-11)\n"
    )
    run("llm-data", *refresh)
    run("llm-data", "status", corpus)
    run("llm-data", "report", corpus)


def pretrain_and_sample(tokens: Path, run_dir: Path, hf: Path) -> None:
    """The demo recipe on CPU (a few minutes on 2 cores), then export and sampling."""
    for folder in (run_dir, hf):  # the demo's own folders, from an earlier demo
        shutil.rmtree(folder, ignore_errors=True)
    run("llm-train", "pretrain", "--config", RECIPE, "--data", tokens, "--out", run_dir)
    run("llm-train", "plot", run_dir)
    run("llm-train", "export", "--checkpoint", run_dir, "--out", hf)
    for prompt in PROMPTS:
        run("llm-train", "sample", "--checkpoint", hf, "--prompt", prompt, "--max-new-tokens", 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("demo"))
    parser.add_argument(
        "--no-train", action="store_true", help="stop after the corpus (the data commands)"
    )
    args = parser.parse_args()
    started = time.monotonic()
    crawl = args.workdir / "crawl"
    shutil.rmtree(crawl, ignore_errors=True)
    delivery = build_first_delivery(crawl)
    add_broken_inputs(crawl)
    print(
        f"Built {crawl} offline from Python's own documentation: {delivery.pages} pages "
        f"({delivery.mirrored} on a mirror), {delivery.pdfs} PDFs, {delivery.other_languages} "
        f"pages in other languages, {delivery.with_pii} with contact details, and broken "
        "inputs.\n"
    )
    run_stages(crawl, args.workdir / "stages")
    corpus = args.workdir / "corpus"
    refresh_twice(crawl, corpus)
    if args.no_train:
        return
    tokens = corpus / STAGE_FOLDERS["tokenize"]
    pretrain_and_sample(tokens, args.workdir / "run", args.workdir / "hf")
    print(
        f"demo finished in {time.monotonic() - started:.0f} s; open {corpus / 'report.html'} "
        "for the corpus report"
    )


if __name__ == "__main__":
    main()
