"""Speed of `llm-data tokenize` next to its peers on the same text.

1. Training a byte-level BPE tokenizer (same text, same vocabulary size, GPT-4 split pattern):
   ours (`train_bpe`: rustbpe plus our special-token handling) vs `rustbpe` called directly vs
   Hugging Face `tokenizers` (BpeTrainer behind the same Split + ByteLevel pre-tokenizer).
   Our time to write `tokenizer.json` (recovering the merges) is shown apart.
2. Encoding with that tokenizer, one thread, texts in memory: plain tiktoken `encode_ordinary`
   (the reference), Hugging Face `tokenizers` `encode_batch` (on a part of the text: it is slow)
   and fastokens `encode_ordinary` (the engine ours uses); and ours: `run_tokenize` reusing the
   tokenizer, which reads the Parquet shards, encodes, splits off validation documents, packs
   and writes the Arrow shards; its encode + pack phases with 1 and with 2 workers.

The text is real and on every machine: the Python standard library's sources, and the changelogs
and copyright files under /usr/share/doc, cut into documents of at most 64 KB and written as
JSONL, then made into our dataset by `run_extract` (untimed). All sides read its texts. Every
variant runs in a process of its own, `--rounds` times interleaved; the best time counts.
Goals printed, nothing asserted: our training time <= the fastest peer's; our encode + pack
MB/s per core >= plain tiktoken's encode MB/s.

    .venv-bench/bin/python benchmarks/tokenize_bench.py [--mb 48] [--vocab-size 32768] [--rounds 2]
        [--hf-encode-mb 8] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from corpus_local import tokenizer_documents
from harness import best, extract_jsonl, goal, interleaved, report, run_child

WORK = Path(__file__).resolve().parent / "_work" / "tokenize"
FILES = 8
VARIANTS = ["train-ours", "train-rustbpe", "train-hf", "encode-tiktoken", "encode-hf"]
VARIANTS += ["encode-fastokens"]
VARIANTS += ["tokenize-1", "tokenize-2"]


# ---------------------------------------------------------------------------------------------
# Corpus: corpus_local.tokenizer_documents as JSONL, and our dataset made of it
# ---------------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """The JSONL corpus and our dataset made of it (kept while --mb is the same)."""
    stamp = WORK / "corpus.json"
    if stamp.exists() and not args.fresh:
        info = json.loads(stamp.read_text())
        if info["mb"] == args.mb:
            return info
    shutil.rmtree(WORK, ignore_errors=True)
    texts, makeup = tokenizer_documents(int(args.mb * 1e6))
    folder = WORK / "corpus"
    folder.mkdir(parents=True)
    for f in range(FILES):
        with open(folder / f"part-{f}.jsonl", "w", encoding="utf-8") as out:
            for i in range(f, len(texts), FILES):
                out.write(json.dumps({"text": texts[i], "url": f"file:///doc/{i}"}) + "\n")
    settings = {"extract.min_chars": 1, "extract.task_max_files": 1}
    extract_jsonl(folder, WORK / "dataset", settings, overwrite=False)
    info = {"mb": args.mb, "documents": len(texts), "bytes": sum(makeup.values())}
    info["makeup"] = makeup
    stamp.write_text(json.dumps(info))
    return info


def dataset_texts() -> list[str]:
    """The texts of our dataset: what every variant reads."""
    from llm_pretrain.pipeline.dataset import read_table

    return read_table(WORK / "dataset").column("text").to_pylist()


# ---------------------------------------------------------------------------------------------
# Variants, each in its own process (`--variant NAME`); each prints one JSON line
# ---------------------------------------------------------------------------------------------


def train_ours(vocab_size: int) -> dict[str, Any]:
    """`train_bpe`; writing tokenizer.json (the encoders' input) timed apart."""
    from llm_pretrain.tokenizer.bpe import train_bpe

    texts = dataset_texts()
    started = time.perf_counter()
    tokenizer = train_bpe(texts, vocab_size, "gpt4")
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    tokenizer.save(WORK / "tokenizer")
    return {"seconds": seconds, "save_seconds": time.perf_counter() - started}


def train_rustbpe(vocab_size: int) -> dict[str, Any]:
    """rustbpe called directly: what ours adds to it shows as the difference."""
    import rustbpe

    from llm_pretrain.tokenizer.patterns import resolve_pattern

    texts = dataset_texts()
    started = time.perf_counter()
    trainer = rustbpe.Tokenizer()
    trainer.train_from_iterator(iter(texts), vocab_size - 1, pattern=resolve_pattern("gpt4"))
    return {"seconds": time.perf_counter() - started}


def train_hf(vocab_size: int) -> dict[str, Any]:
    """Hugging Face BpeTrainer behind the same split pattern and byte-level alphabet."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    from llm_pretrain.tokenizer.patterns import resolve_pattern

    texts = dataset_texts()
    started = time.perf_counter()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(resolve_pattern("gpt4")), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return {"seconds": time.perf_counter() - started, "vocab": tokenizer.get_vocab_size()}


def encode_tiktoken() -> dict[str, Any]:
    """Plain tiktoken `encode_ordinary` with our ranks, one thread: the reference."""
    from llm_pretrain.tokenizer.bpe import BpeTokenizer

    texts = dataset_texts()
    encoding = BpeTokenizer.load(WORK / "tokenizer").encoding
    started = time.perf_counter()
    tokens = sum(len(encoding.encode_ordinary(text)) for text in texts)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": sum(len(t.encode()) for t in texts), "tokens": tokens}


def encode_fastokens() -> dict[str, Any]:
    """fastokens `encode_ordinary`, one thread: the engine ours uses."""
    os.environ["RAYON_NUM_THREADS"] = "1"
    import fastokens

    texts = dataset_texts()
    engine = fastokens.Tokenizer.from_file(str(WORK / "tokenizer" / "tokenizer.json"))
    started = time.perf_counter()
    tokens = sum(len(engine.encode_ordinary(text).ids) for text in texts)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": sum(len(t.encode()) for t in texts), "tokens": tokens}


def encode_hf(limit_mb: float) -> dict[str, Any]:
    """Hugging Face `encode_batch`, one thread, on the first `limit_mb` MB: it is slow."""
    os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
    from tokenizers import Tokenizer

    texts, size = [], 0
    for text in dataset_texts():
        texts.append(text)
        size += len(text.encode())
        if size >= limit_mb * 1e6:
            break
    tokenizer = Tokenizer.from_file(str(WORK / "tokenizer" / "tokenizer.json"))
    started = time.perf_counter()
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False))
    return {"seconds": time.perf_counter() - started, "bytes": size, "tokens": tokens}


def tokenize_ours(workers: int) -> dict[str, Any]:
    """`run_tokenize` reusing the trained tokenizer; its encode + pack seconds count."""
    from llm_pretrain.config import load_config
    from llm_pretrain.stages import run_tokenize

    config = load_config(None, {"executor.workers": workers})
    out = WORK / f"out-{workers}"
    summary = run_tokenize(
        WORK / "dataset", out, config, WORK / "tokenizer", show_progress=False, overwrite=True
    )
    stats = summary.stats
    seconds = stats["seconds"]["encode"] + stats["seconds"]["pack"]
    return {
        "seconds": seconds,
        "bytes": stats["text_bytes"],
        "tokens": stats["tokens"] - stats["documents"],
        "encode_seconds": stats["seconds"]["encode"],
        "pack_seconds": stats["seconds"]["pack"],
        "encode_cpu_seconds": stats["encode_cpu_seconds"],
    }


def run_variant(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Child side: the variant `name`, with the sizes it needs."""
    if name == "train-ours":
        return train_ours(args.vocab_size)
    if name == "train-rustbpe":
        return train_rustbpe(args.vocab_size)
    if name == "train-hf":
        return train_hf(args.vocab_size)
    if name == "encode-tiktoken":
        return encode_tiktoken()
    if name == "encode-fastokens":
        return encode_fastokens()
    if name == "encode-hf":
        return encode_hf(args.hf_encode_mb)
    return tokenize_ours(int(name.rsplit("-", 1)[1]))


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def print_report(
    info: dict[str, Any], results: dict[str, list[dict[str, Any]]], args: argparse.Namespace
) -> None:
    """Training times side by side, encoding rates per core against tiktoken's, the goals."""
    mb = info["bytes"] / 1e6
    makeup = ", ".join(f"{kind} {size / 1e6:.1f} MB" for kind, size in info["makeup"].items())
    print(f"\ncorpus: {info['documents']:,} documents, {mb:.1f} MB ({makeup})")
    print(f"\ntraining, vocabulary {args.vocab_size:,}, best of {args.rounds}")
    train = {name: best(results[name])["seconds"] for name in VARIANTS if name.startswith("train")}
    fastest_peer = min(train["train-rustbpe"], train["train-hf"])
    for name, seconds in train.items():
        print(f"  {name:<16} {seconds:8.2f} s   ours / this: {train['train-ours'] / seconds:5.2f}")
    save = best(results["train-ours"])["save_seconds"]
    print(f"  (ours: writing tokenizer.json, merges recovered: {save:.2f} s more)")
    met = train["train-ours"] <= fastest_peer * 1.02
    goal(f"ours <= the fastest peer ({fastest_peer:.2f} s)", met, indent="  ", sep=": ")

    print(f"\nencoding, best of {args.rounds} (MB of text per second)")
    plain = best(results["encode-tiktoken"])
    plain_rate = plain["bytes"] / 1e6 / plain["seconds"]
    rows = [("tiktoken encode_ordinary, 1 thread", plain, 1)]
    rows.append(("HF tokenizers encode_batch, 1 thread", best(results["encode-hf"]), 1))
    rows.append(("fastokens encode_ordinary, 1 thread", best(results["encode-fastokens"]), 1))
    rows.append(("ours, encode + pack, 1 worker", best(results["tokenize-1"]), 1))
    rows.append(("ours, encode + pack, 2 workers", best(results["tokenize-2"]), 2))
    for label, result, cores in rows:
        rate = result["bytes"] / 1e6 / result["seconds"]
        per_core = rate / cores
        print(
            f"  {label:<38} {rate:7.2f} MB/s  per core {per_core:6.2f}  "
            f"vs tiktoken {per_core / plain_rate:5.2f}x  ({result['bytes'] / result['tokens']:.2f} "
            "bytes/token)"
        )
    one = best(results["tokenize-1"])
    print(
        f"  ours, 1 worker: encode {one['encode_seconds']:.2f} s "
        f"({one['bytes'] / 1e6 / one['encode_cpu_seconds']:.2f} MB per CPU second in the "
        f"worker), pack {one['pack_seconds']:.2f} s"
    )
    ours_rate = one["bytes"] / 1e6 / one["seconds"]
    goal("ours per core >= tiktoken plain encode", ours_rate >= plain_rate, indent="  ", sep=": ")
    two = best(results["tokenize-2"])
    print(f"  2 workers / 1 worker: {one['seconds'] / two['seconds']:.2f}x")


def main() -> None:
    """Parent: the corpus, rounds of every variant in children, the report; child: a variant."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=48.0, help="MB of text in the corpus")
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hf-encode-mb", type=float, default=8.0, help="text HF encodes")
    parser.add_argument("--fresh", action="store_true", help="rebuild the corpus")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        report(run_variant(args.variant, args))
        return
    info = prepare(args)
    print(f"corpus ready: {info['documents']:,} documents, {info['bytes'] / 1e6:.1f} MB")
    sizes = ["--vocab-size", str(args.vocab_size), "--hf-encode-mb", str(args.hf_encode_mb)]
    results = interleaved(
        VARIANTS,  # train-ours first: the encoders use the tokenizer it saves
        args.rounds,
        lambda name: run_child(__file__, name, sizes),
        "  round {round}: {name:<16} {seconds:7.2f} s",
        stream=sys.stdout,
    )
    print_report(info, results, args)
    (WORK / "results.json").write_text(json.dumps({"corpus": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
