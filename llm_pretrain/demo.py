"""`make demo`: build a small mixed crawl offline, run the pipeline on it (extract, filter,
dedup, tokenize), keep it up to date with two refreshes, pretrain the tiny model on the
corpus, export it and sample from it.

The sample holds a gzipped WARC (with a request record per page, a 404, an image and a
redirect), loose HTML pages, a folder of PDFs and a JSONL file, plus broken inputs (an
encrypted PDF, a scan without text, a WARC cut short, binary junk named .html, a page with no
article) so that the summary shows every kind of rejection with its reason, and reposted
forum threads (a copy and a lightly edited one) for dedup to find.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from llm_pretrain.config import PipelineConfig, load_config
from llm_pretrain.corpus.refresh import refresh
from llm_pretrain.corpus.status import corpus_status, format_status
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.pipeline.dedup.stage import run_dedup
from llm_pretrain.pipeline.extract.stage import run_extract
from llm_pretrain.pipeline.filters.stage import run_filter
from llm_pretrain.pipeline.summary import format_summary, format_tokenize_summary
from llm_pretrain.samples import (
    article,
    build_sample,
    encrypt_pdf,
    paragraph,
    write_image_only_pdf,
    write_pdf,
)
from llm_pretrain.tokenizer.stage import run_tokenize
from llm_pretrain.train.config import load_train_config
from llm_pretrain.train.export import export
from llm_pretrain.train.plot import plot_run
from llm_pretrain.train.sample import END_OF_TEXT, generate, load_for_sampling, stream_text
from llm_pretrain.train.summary import format_export_summary, format_train_summary
from llm_pretrain.train.trainer import pretrain

CONFIG = Path("configs/pipeline.yaml")
TINY_RECIPE = Path("configs/train/tiny.yaml")
GERMAN = (
    "Die Flussbehörde hat nach monatelanger Arbeit eine ausführliche Untersuchung der nördlichen "
    "Küste veröffentlicht. Ingenieure haben den Wasserstand an vierzig Stationen gemessen und die "
    "Ergebnisse mit Aufzeichnungen verglichen, die seit dem neunzehnten Jahrhundert geführt "
    "werden. Der Bericht wird in der nächsten Sitzung des Rates besprochen."
)


def add_broken_inputs(folder: Path) -> None:
    locked = folder / "pdfs" / "locked.pdf"
    write_pdf(locked, "Locked", ["This report is confidential."])
    encrypt_pdf(locked)
    write_image_only_pdf(folder / "pdfs" / "scan.pdf")
    crawl = (folder / "crawl" / "sample.warc.gz").read_bytes()
    (folder / "crawl" / "cut-short.warc.gz").write_bytes(crawl[: len(crawl) // 3])
    (folder / "pages" / "not-really.html").write_bytes(bytes(range(256)) * 16)
    (folder / "pages" / "menu-only.html").write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav></body></html>"
    )


def add_jsonl(folder: Path) -> None:
    import random

    rng = random.Random(1)
    texts = [paragraph(rng, 8) for _ in range(4)]
    texts.append(paragraph(rng, 6) + "\nWrite to the.editor@example.net or call (555) 123-4567.")
    texts.append(GERMAN)  # rejected by the language step (English is kept by default)
    texts.append("\n".join(["Buy cheap watches online, best prices, free shipping!"] * 12))
    texts.append(texts[0])  # reposted as it was
    texts.append(texts[1].replace(" the ", " a ", 2) + " Edited.")  # reposted, edited
    rows = [
        {"text": text, "url": f"https://forum.example.net/t/{i}"} for i, text in enumerate(texts)
    ]
    lines = [json.dumps(row) for row in rows] + ['{"broken json']
    (folder / "forum.jsonl").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("demo"))
    args = parser.parse_args()
    raw = args.workdir / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    build_sample(raw, pages=60, pdfs=6)
    add_broken_inputs(raw)
    add_jsonl(raw)
    output = args.workdir / "extracted"
    config = load_config(CONFIG if CONFIG.exists() else None)
    print(f"$ llm-data extract --input {raw} --output {output}\n")
    summary = run_extract([str(raw)], output, config, overwrite=True)
    print(format_summary(summary, output))
    filtered = args.workdir / "filtered"
    print(f"$ llm-data filter --input {output} --output {filtered}\n")
    summary = run_filter(output, filtered, config, overwrite=True)
    print(format_summary(summary, filtered))
    deduped, index = args.workdir / "deduped", args.workdir / "index"
    shutil.rmtree(index, ignore_errors=True)
    print(f"$ llm-data dedup --input {filtered} --output {deduped} --index {index}\n")
    summary = run_dedup(filtered, deduped, config, index, overwrite=True)
    print(format_summary(summary, deduped))
    first = pq.read_table(shard_paths(deduped)[0]).slice(0, 1).to_pylist()[0]
    print("first document:")
    print(f"  id {first['id']}  format {first['format']}  url {first['url']}")
    print(f"  language {first['language']} ({first['language_score']:.2f})")
    print(f"  metadata {first['metadata']}")
    print(f"  text {first['text'][:300]!r}...\n")
    tokens = args.workdir / "tokens"
    # A small vocabulary and short rows: the sample is a few hundred KB of made-up text.
    config.tokenizer.vocab_size, config.tokenize.seq_len = 512, 128
    config.tokenize.val_fraction = 0.05
    print(
        f"$ llm-data tokenize --input {deduped} --output {tokens} --vocab-size 512 "
        "--seq-len 128 --val-fraction 0.05\n"
    )
    summary = run_tokenize(deduped, tokens, config, overwrite=True)
    print(format_tokenize_summary(summary, tokens))
    corpus = refresh_twice(raw, args.workdir / "corpus", config)
    pretrain_tiny(corpus / "tokens", args.workdir / "run")
    export_and_sample(args.workdir / "run", args.workdir / "hf")


def refresh_twice(raw: Path, corpus: Path, config: PipelineConfig) -> Path:
    """The same crawl kept up to date as cron would: a refresh, new pages, another refresh."""
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(raw / "new", ignore_errors=True)
    command = f"llm-data refresh --workdir {corpus} --input {raw}"
    print(f"$ {command}\n{refresh(corpus, config, [str(raw)]).line()}\n")
    new = raw / "new"
    new.mkdir()
    for index in range(12):  # next week's crawl: pages not seen before
        (new / f"page-{index:03d}.html").write_text(article(index, seed=7).html, encoding="utf-8")
    print(f"(12 new pages in {new})\n$ {command}\n{refresh(corpus, config, [str(raw)]).line()}\n")
    print(f"$ llm-data status {corpus}\n{format_status(corpus_status(corpus))}")
    return corpus


def pretrain_tiny(tokens: Path, run: Path) -> None:
    """The tiny recipe on CPU: about a minute on 2 cores."""
    shutil.rmtree(run, ignore_errors=True)
    print(f"$ llm-train pretrain --config {TINY_RECIPE} --data {tokens} --out {run}\n")
    result = pretrain(load_train_config(TINY_RECIPE), tokens, run)
    print(format_train_summary(result.to_json()))
    print(f"$ llm-train plot {run}\n{plot_run(run)}\n")


def export_and_sample(run: Path, hf: Path) -> None:
    """The trained model as a Hugging Face folder, and what it writes after a prompt."""
    print(f"$ llm-train export --checkpoint {run} --out {hf}\n")
    print(format_export_summary(export(run, hf)))
    prompt = "The old bridge"
    print(f'$ llm-train sample --checkpoint {hf} --prompt "{prompt}" --max-new-tokens 40\n')
    model, tokenizer = load_for_sampling(hf)
    stop_id = tokenizer.token_to_id(END_OF_TEXT)
    tokens = generate(model, tokenizer.encode(prompt).ids, 40, 0.8, None, None, 0, stop_id)
    print(prompt + "".join(stream_text(tokenizer, tokens)) + "\n")


if __name__ == "__main__":
    main()
