"""`make demo`: the whole chain on a crawl built offline from real text (`demo_crawl`).

1. the stages one after the other (`llm-data extract ... filter dedup tokenize`), each
   printing what it kept and rejected and why;
2. the same crawl kept up to date as cron would: `refresh`, a second delivery a week later,
   `refresh` again, `status`, and the HTML `report`;
3. the tiny model pretrained on the corpus for a few minutes on CPU, its loss plot, its
   export to a Hugging Face folder and text sampled from it.

Broken inputs (an encrypted PDF, a scan without text, a WARC cut short, binary junk named
.html, a page with no article, a JSONL file with a broken line) sit among the real ones, so
that every kind of rejection shows with its reason.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq

from llm_pretrain.config import PipelineConfig, load_config
from llm_pretrain.corpus.refresh import refresh
from llm_pretrain.corpus.report import collect_report
from llm_pretrain.corpus.report_html import write_report
from llm_pretrain.corpus.status import corpus_status, format_status
from llm_pretrain.demo_crawl import (
    MIRROR_WARC,
    build_first_delivery,
    build_second_delivery,
    module_docs,
)
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.pipeline.dedup.stage import run_dedup
from llm_pretrain.pipeline.extract.stage import run_extract
from llm_pretrain.pipeline.filters.stage import run_filter
from llm_pretrain.pipeline.summary import format_summary, format_tokenize_summary
from llm_pretrain.samples import encrypt_pdf, write_image_only_pdf, write_pdf
from llm_pretrain.tokenizer.stage import run_tokenize
from llm_pretrain.train.config import load_train_config
from llm_pretrain.train.export import export
from llm_pretrain.train.plot import plot_run
from llm_pretrain.train.sample import END_OF_TEXT, generate, load_for_sampling, stream_text
from llm_pretrain.train.summary import format_export_summary, format_train_summary
from llm_pretrain.train.trainer import pretrain

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


def run_stages(crawl: Path, work: Path, config: PipelineConfig) -> None:
    """The four stages one after the other, as `llm-data extract ... tokenize` runs them."""
    folders = {name: work / name for name in ("extracted", "filtered", "deduped", "tokens")}
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"$ llm-data extract --input {crawl} filter dedup tokenize --config {CONFIG} "
        f"--output {work}\n"
    )
    summary = run_extract([str(crawl)], folders["extracted"], config)
    print(format_summary(summary, folders["extracted"]))
    summary = run_filter(folders["extracted"], folders["filtered"], config)
    print(format_summary(summary, folders["filtered"]))
    summary = run_dedup(folders["filtered"], folders["deduped"], config, work / "index")
    print(format_summary(summary, folders["deduped"]))
    first = pq.read_table(shard_paths(folders["deduped"])[0]).slice(0, 1).to_pylist()[0]
    print("first document:")
    print(f"  id {first['id']}  format {first['format']}  url {first['url']}")
    print(f"  language {first['language']} ({first['language_score']:.2f})")
    print(f"  metadata {first['metadata']}")
    print(f"  text {first['text'][:300]!r}...\n")
    summary = run_tokenize(folders["deduped"], folders["tokens"], config)
    print(format_tokenize_summary(summary, folders["tokens"]))


def refresh_twice(crawl: Path, corpus: Path, config: PipelineConfig) -> None:
    """The crawl kept up to date as cron would: a refresh, a new delivery, another refresh."""
    shutil.rmtree(corpus, ignore_errors=True)
    command = f"llm-data refresh --config {CONFIG} --workdir {corpus}"
    print(f"$ {command}\n{refresh(corpus, config, [str(crawl)]).line()}\n")
    delivery = build_second_delivery(crawl / "2025-11")
    print(
        f"(a week later: {delivery.pages} new pages and {delivery.pdfs} PDFs in {crawl}/2025-11)\n"
        f"$ {command}\n{refresh(corpus, config, [str(crawl)]).line()}\n"
    )
    print(f"$ llm-data status {corpus}\n{format_status(corpus_status(corpus))}")


def report(corpus: Path) -> None:
    path = write_report(collect_report(corpus), corpus / "report.html")
    print(f"$ llm-data report {corpus}\nreport -> {path} (open it in a browser)\n")


def pretrain_and_sample(tokens: Path, run: Path, hf: Path) -> None:
    """The demo recipe on CPU (a few minutes on 2 cores), then export and sampling."""
    for folder in (run, hf):  # the demo's own folders, from an earlier demo
        shutil.rmtree(folder, ignore_errors=True)
    print(f"$ llm-train pretrain --config {RECIPE} --data {tokens} --out {run}\n")
    result = pretrain(load_train_config(RECIPE), tokens, run)
    print(format_train_summary(result.to_json()))
    print(f"$ llm-train plot {run}\n{plot_run(run)}\n")
    print(f"$ llm-train export --checkpoint {run} --out {hf}\n")
    print(format_export_summary(export(run, hf)))
    model, tokenizer = load_for_sampling(hf)
    stop_id = tokenizer.token_to_id(END_OF_TEXT)
    for prompt in PROMPTS:
        print(f"$ llm-train sample --checkpoint {hf} --prompt '{prompt}' --max-new-tokens 60\n")
        ids = generate(model, tokenizer.encode(prompt).ids, 60, 0.8, None, None, 0, stop_id)
        print(prompt + "".join(stream_text(tokenizer, ids)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("demo"))
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
    config = load_config(CONFIG)
    run_stages(crawl, args.workdir / "stages", config)
    corpus = args.workdir / "corpus"
    refresh_twice(crawl, corpus, config)
    report(corpus)
    pretrain_and_sample(corpus / "tokens", args.workdir / "run", args.workdir / "hf")
    print(
        f"demo finished in {time.monotonic() - started:.0f} s; open {corpus / 'report.html'} "
        "for the corpus report"
    )


if __name__ == "__main__":
    main()
