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

    .venv-bench/bin/python benchmarks/tokenize.py [--mb 48] [--vocab-size 32768] [--rounds 2]
        [--hf-encode-mb 8] [--fresh]
"""

from __future__ import annotations

import os
import sys

# This file is called tokenize.py, like the standard library module that linecache, inspect and
# tracebacks import: with its folder first on sys.path, theirs would be this file.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse
import gzip
import json
import shutil
import subprocess
import sysconfig
import time
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / "_work" / "tokenize"
DOCUMENT_MAX_BYTES = 64_000
FILES = 8
VARIANTS = ["train-ours", "train-rustbpe", "train-hf", "encode-tiktoken", "encode-hf"]
VARIANTS += ["encode-fastokens"]
VARIANTS += ["tokenize-1", "tokenize-2"]


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------


def source_texts() -> list[tuple[str, str]]:
    """(kind, text) of the real text files found on this machine, in a fixed order."""
    found: list[tuple[str, str]] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" not in path.parts:
            found.append(("python source", path.read_text(encoding="utf-8", errors="replace")))
    for path in sorted(Path("/usr/share/doc").rglob("*")):
        if path.name.startswith("changelog") and path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                found.append(("changelog", handle.read()))
        elif path.name == "copyright" and path.is_file():
            found.append(("copyright", path.read_text(encoding="utf-8", errors="replace")))
    return found


def documents(limit_bytes: int) -> tuple[list[str], dict[str, int]]:
    """Documents of at most DOCUMENT_MAX_BYTES cut at line ends, interleaving the kinds, until
    `limit_bytes`; and the bytes of each kind."""
    by_kind: dict[str, list[str]] = {}
    for kind, text in source_texts():
        pieces, current, size = by_kind.setdefault(kind, []), [], 0
        for line in text.splitlines(keepends=True):
            current.append(line)
            size += len(line.encode("utf-8"))
            if size >= DOCUMENT_MAX_BYTES:
                pieces.append("".join(current))
                current, size = [], 0
        if current and "".join(current).strip():
            pieces.append("".join(current))
    chosen, makeup, total = [], dict.fromkeys(by_kind, 0), 0
    queues = {kind: iter(pieces) for kind, pieces in by_kind.items()}
    while queues and total < limit_bytes:
        for kind in list(queues):
            text = next(queues[kind], None)
            if text is None:
                del queues[kind]
                continue
            size = len(text.encode("utf-8"))
            chosen.append(text)
            makeup[kind] += size
            total += size
    return chosen, makeup


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """The JSONL corpus and our dataset made of it (kept while --mb is the same)."""
    from llm_pretrain.config import load_config
    from llm_pretrain.stages import run_extract

    stamp = WORK / "corpus.json"
    if stamp.exists() and not args.fresh:
        info = json.loads(stamp.read_text())
        if info["mb"] == args.mb:
            return info
    shutil.rmtree(WORK, ignore_errors=True)
    texts, makeup = documents(int(args.mb * 1e6))
    folder = WORK / "corpus"
    folder.mkdir(parents=True)
    for f in range(FILES):
        with open(folder / f"part-{f}.jsonl", "w", encoding="utf-8") as out:
            for i in range(f, len(texts), FILES):
                out.write(json.dumps({"text": texts[i], "url": f"file:///doc/{i}"}) + "\n")
    config = load_config(None, {"extract.min_chars": 1, "extract.task_max_files": 1})
    run_extract([str(folder)], WORK / "dataset", config, show_progress=False)
    info = {"mb": args.mb, "documents": len(texts), "bytes": sum(makeup.values())}
    info["makeup"] = makeup
    stamp.write_text(json.dumps(info))
    return info


def dataset_texts() -> list[str]:
    from llm_pretrain.pipeline.dataset import read_table

    return read_table(WORK / "dataset").column("text").to_pylist()


# ---------------------------------------------------------------------------------------------
# Variants, each in its own process (`--variant NAME`); each prints one JSON line
# ---------------------------------------------------------------------------------------------


def train_ours(vocab_size: int) -> dict[str, Any]:
    from llm_pretrain.tokenizer.bpe import train_bpe

    texts = dataset_texts()
    started = time.perf_counter()
    tokenizer = train_bpe(texts, vocab_size, "gpt4")
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    tokenizer.save(WORK / "tokenizer")
    return {"seconds": seconds, "save_seconds": time.perf_counter() - started}


def train_rustbpe(vocab_size: int) -> dict[str, Any]:
    import rustbpe

    from llm_pretrain.tokenizer.patterns import resolve_pattern

    texts = dataset_texts()
    started = time.perf_counter()
    trainer = rustbpe.Tokenizer()
    trainer.train_from_iterator(iter(texts), vocab_size - 1, pattern=resolve_pattern("gpt4"))
    return {"seconds": time.perf_counter() - started}


def train_hf(vocab_size: int) -> dict[str, Any]:
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
    from llm_pretrain.tokenizer.bpe import BpeTokenizer

    texts = dataset_texts()
    encoding = BpeTokenizer.load(WORK / "tokenizer").encoding
    started = time.perf_counter()
    tokens = sum(len(encoding.encode_ordinary(text)) for text in texts)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": sum(len(t.encode()) for t in texts), "tokens": tokens}


def encode_fastokens() -> dict[str, Any]:
    os.environ["RAYON_NUM_THREADS"] = "1"
    import fastokens

    texts = dataset_texts()
    engine = fastokens.Tokenizer.from_file(str(WORK / "tokenizer" / "tokenizer.json"))
    started = time.perf_counter()
    tokens = sum(len(engine.encode_ordinary(text).ids) for text in texts)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": sum(len(t.encode()) for t in texts), "tokens": tokens}


def encode_hf(limit_mb: float) -> dict[str, Any]:
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


def run_child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--variant", name]
    command += ["--vocab-size", str(args.vocab_size), "--hf-encode-mb", str(args.hf_encode_mb)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def best(results: dict[str, list[dict[str, Any]]], name: str) -> dict[str, Any]:
    return min(results[name], key=lambda result: result["seconds"])


def report(info: dict[str, Any], results: dict[str, list[dict[str, Any]]], args) -> None:
    mb = info["bytes"] / 1e6
    makeup = ", ".join(f"{kind} {size / 1e6:.1f} MB" for kind, size in info["makeup"].items())
    print(f"\ncorpus: {info['documents']:,} documents, {mb:.1f} MB ({makeup})")
    print(f"\ntraining, vocabulary {args.vocab_size:,}, best of {args.rounds}")
    train = {name: best(results, name)["seconds"] for name in VARIANTS if name.startswith("train")}
    fastest_peer = min(train["train-rustbpe"], train["train-hf"])
    for name, seconds in train.items():
        print(f"  {name:<16} {seconds:8.2f} s   ours / this: {train['train-ours'] / seconds:5.2f}")
    save = best(results, "train-ours")["save_seconds"]
    print(f"  (ours: writing tokenizer.json, merges recovered: {save:.2f} s more)")
    verdict = "met" if train["train-ours"] <= fastest_peer * 1.02 else "NOT met"
    print(f"  goal: ours <= the fastest peer ({fastest_peer:.2f} s): {verdict}")

    print(f"\nencoding, best of {args.rounds} (MB of text per second)")
    plain = best(results, "encode-tiktoken")
    plain_rate = plain["bytes"] / 1e6 / plain["seconds"]
    rows = [("tiktoken encode_ordinary, 1 thread", plain, 1)]
    rows.append(("HF tokenizers encode_batch, 1 thread", best(results, "encode-hf"), 1))
    rows.append(("fastokens encode_ordinary, 1 thread", best(results, "encode-fastokens"), 1))
    rows.append(("ours, encode + pack, 1 worker", best(results, "tokenize-1"), 1))
    rows.append(("ours, encode + pack, 2 workers", best(results, "tokenize-2"), 2))
    for label, result, cores in rows:
        rate = result["bytes"] / 1e6 / result["seconds"]
        per_core = rate / cores
        print(
            f"  {label:<38} {rate:7.2f} MB/s  per core {per_core:6.2f}  "
            f"vs tiktoken {per_core / plain_rate:5.2f}x  ({result['bytes'] / result['tokens']:.2f} "
            "bytes/token)"
        )
    one = best(results, "tokenize-1")
    print(
        f"  ours, 1 worker: encode {one['encode_seconds']:.2f} s "
        f"({one['bytes'] / 1e6 / one['encode_cpu_seconds']:.2f} MB per CPU second in the "
        f"worker), pack {one['pack_seconds']:.2f} s"
    )
    ours_rate = one["bytes"] / 1e6 / one["seconds"]
    verdict = "met" if ours_rate >= plain_rate else "NOT met"
    print(f"  goal: ours per core >= tiktoken plain encode: {verdict}")
    two = best(results, "tokenize-2")
    print(f"  2 workers / 1 worker: {one['seconds'] / two['seconds']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=48.0, help="MB of text in the corpus")
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hf-encode-mb", type=float, default=8.0, help="text HF encodes")
    parser.add_argument("--fresh", action="store_true", help="rebuild the corpus")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args)))
        return
    info = prepare(args)
    print(f"corpus ready: {info['documents']:,} documents, {info['bytes'] / 1e6:.1f} MB")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for round_ in range(args.rounds):
        for name in VARIANTS:  # train-ours first: the encoders use the tokenizer it saves
            results[name].append(run_child(name, args))
            print(f"  round {round_ + 1}: {name:<16} {results[name][-1]['seconds']:7.2f} s")
    report(info, results, args)
    (WORK / "results.json").write_text(json.dumps({"corpus": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
