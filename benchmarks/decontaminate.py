"""Cost of the `decontaminate` filter step with a 10 MB eval set: the default filter chain with
and without it, and the step alone next to a plain Python set of 13-word tuples (the obvious
way to write it).

Documents: every clean English document this machine holds (`corpus_quality.english_pieces`:
man pages, READMEs, stdlib docstrings, /usr/share/doc; ~3,000 documents, 8.8 MB). Eval set:
`--eval-mb` of JSONL questions of 20-60 words drawn from the documents' vocabulary (so their
13-grams are new), plus one real 30-word passage of every 50th document (so ~2% of the
documents are contaminated, as a leaked benchmark would be). Each variant runs in a fresh
interpreter (`harness.run_child`) and reports the time to load the eval set, the time over the
documents (best of the interleaved `--rounds`) and its peak memory; the documents go through
`run_steps` as the filter stage runs them (a document stops at the first step that rejects it,
so in the chain `decontaminate`, last, sees only what the others kept). The Python set must
flag the same documents as the step alone (checked; exit 1 if not). Nothing is asserted about
speed.

    .venv/bin/python benchmarks/decontaminate.py [--eval-mb 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import unicodedata
from pathlib import Path

from corpus_quality import english_pieces
from harness import Column, Table, interleaved, peak_rss_mb, ratio, report, run_child

WORK = Path(__file__).resolve().parent / "_work" / "decontaminate"
DEFAULT_STEPS = ["language", "gopher_repetition", "gopher_quality", "c4_quality",
                 "fineweb_quality", "pii"]  # fmt: skip
VARIANTS = ("chain", "chain+decontaminate", "decontaminate", "python-set")
NGRAM = 13
TABLE = Table(
    Column("variant", 22, left=True),
    Column("load s", 8, ".2f"),
    Column("docs", 7, ","),
    Column("best s", 8, ".2f"),
    Column("docs/s", 9, ",.0f"),
    Column("flagged", 8, ","),
    Column("peak MB", 9, ".0f"),
    rule=False,
)


def build(eval_mb: float) -> None:
    """The documents (JSONL) and the eval set (JSONL), from the machine's prose."""
    WORK.mkdir(parents=True, exist_ok=True)
    texts = ["\n\n".join(block for _, block in piece.blocks) for piece in english_pieces()]
    (WORK / "documents.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    rng = random.Random(0)
    vocabulary = sorted({word for text in texts for word in text.split() if word.isalpha()})
    with (WORK / "eval.jsonl").open("w") as out:
        for number, text in enumerate(texts):
            words = text.split()
            if number % 50 == 0 and len(words) > 40:
                start = rng.randrange(len(words) - 30)
                out.write(json.dumps({"text": " ".join(words[start : start + 30])}) + "\n")
        size = out.tell()
        while size < eval_mb * 1e6:
            question = " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(20, 61)))
            size += out.write(json.dumps({"text": question + "?"}) + "\n")


def documents() -> list[str]:
    lines = (WORK / "documents.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines]


def ours(steps: list[str]) -> dict:
    """Child side: the filter steps as the stage runs them, over every document."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.documents import Document
    from llm_pretrain.pipeline.filters.registry import build_steps
    from llm_pretrain.pipeline.filters.stage import StepStats, run_steps

    settings = {
        "filter.steps": steps,
        "filter.decontaminate.eval_files": [str(WORK / "eval.jsonl")],
    }
    config = load_config(None, settings).filter
    texts = documents()
    started = time.perf_counter()
    built = build_steps(config)
    load = time.perf_counter() - started
    stats = StepStats(built)
    started = time.perf_counter()
    flagged = []
    for number, text in enumerate(texts):
        doc = Document(id=str(number), text=text, source="bench", format="text")
        # As the filter runs: a document stops at the first step that rejects it.
        reasons = run_steps(doc, built, stats, False, config.document_timeout_s)
        if reasons and reasons[0].startswith("decontaminate:"):
            flagged.append(number)
    seconds = time.perf_counter() - started
    return _result(load, seconds, len(texts), flagged)


_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [unicodedata.normalize("NFKC", w).lower() for w in _WORD.findall(text)]


def python_set() -> dict:
    """Child side: the eval set's 13-word tuples in a set; a document is flagged when any of
    its 13-word tuples is in it."""
    texts = documents()
    started = time.perf_counter()
    grams: set[tuple[str, ...]] = set()
    for line in (WORK / "eval.jsonl").read_text().splitlines():
        words = _words(json.loads(line)["text"])
        grams.update(tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1))
    load = time.perf_counter() - started
    started = time.perf_counter()
    flagged = []
    for number, text in enumerate(texts):
        words = _words(text)
        if any(tuple(words[i : i + NGRAM]) in grams for i in range(len(words) - NGRAM + 1)):
            flagged.append(number)
    seconds = time.perf_counter() - started
    return _result(load, seconds, len(texts), flagged)


def _result(load: float, seconds: float, docs: int, flagged: list[int]) -> dict:
    own, _ = peak_rss_mb()
    return {"load": load, "seconds": seconds, "docs": docs, "flagged": flagged, "peak_mb": own}


def run_variant(name: str) -> dict:
    if name == "python-set":
        return python_set()
    if name == "decontaminate":
        return ours(["decontaminate"])
    steps = DEFAULT_STEPS + (["decontaminate"] if name == "chain+decontaminate" else [])
    return ours(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-mb", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        report(run_variant(args.variant))
        return
    started = time.perf_counter()
    build(args.eval_mb)
    size = (WORK / "eval.jsonl").stat().st_size / 1e6
    print(f"eval set {size:.1f} MB, documents built in {time.perf_counter() - started:.0f} s")
    results = interleaved(
        VARIANTS, args.rounds, lambda name: run_child(__file__, name),
        progress="  round {round}/{rounds} {name}: {seconds:.2f} s",
    )  # fmt: skip
    best = {name: min(runs, key=lambda r: r["seconds"]) for name, runs in results.items()}
    TABLE.header()
    for name, result in best.items():
        docs = result["docs"]
        TABLE.row(name, result["load"], docs, result["seconds"], docs / result["seconds"],
                  len(result["flagged"]), result["peak_mb"])  # fmt: skip
    chain, both = best["chain"]["seconds"], best["chain+decontaminate"]["seconds"]
    print(f"chain with decontaminate / without: time {ratio(both, chain):.2f}x")
    mine, peer = best["decontaminate"], best["python-set"]
    print(
        f"decontaminate / python set: speed {ratio(peer['seconds'], mine['seconds']):.2f}x, "
        f"load {ratio(peer['load'], mine['load']):.2f}x faster, "
        f"peak memory {ratio(mine['peak_mb'], peer['peak_mb']):.2f}x"
    )
    if mine["flagged"] != peer["flagged"]:
        print(f"the python set flagged other documents: {len(peer['flagged'])} vs ours")
        sys.exit(1)
    print(f"both flag the same {len(mine['flagged'])} documents")


if __name__ == "__main__":
    main()
