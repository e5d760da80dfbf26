"""Quality and speed of `llm-data dedup` next to a plain datasketch loop and datatrove's MinHash.

A generated corpus with planted near-duplicates of known true Jaccard similarity
(`corpus_dedup.py`): synthetic prose of 300-800 words, a few percent with a shared boilerplate
footer, which must not make them duplicates; and copies of ~10% of it, exact, whitespace/case
only, or edited to true Jaccard similarities over 0.5-1.0 (word 5-grams of the normalised
texts, our normalisation).

A planted pair is a true duplicate when its true Jaccard is >= the threshold (0.8). Removing
either member of such a pair counts once as a true positive (which one survives is a policy);
every other removed document is a false positive.

Variants, each in a fresh interpreter (times and peak memory per process), on the same JSONL:
ours (`run_dedup`, 1 and 2 workers, on the dataset `run_extract` made of the JSONL, untimed),
a plain datasketch loop (MinHash + MinHashLSH, query then insert, union-find), and datatrove's
four MinHash stages (on the first --peer-docs documents: it is slow). Everything goes to
benchmarks/_work/dedup (gitignored); results as JSON in its results/. Nothing is asserted.

    .venv-bench/bin/python benchmarks/dedup.py [--docs 50000] [--peer-docs 20000] [--rounds 2]
        [--skip-datatrove] [--profile] [--fresh]
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import importlib.util
import io
import itertools
import json
import math
import os
import pstats
import shutil
import sys
import time
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus_dedup import NGRAM, corpus_files, corpus_is_current, prepare_corpus
from harness import (
    Column,
    Table,
    Timed,
    best,
    interleaved,
    memory_cell,
    peak_rss_mb,
    report,
    run_child,
    target_goal,
)

WORK = Path(__file__).resolve().parent / "_work" / "dedup"
THRESHOLD = 0.8
NUM_PERM = 128
BANDS, ROWS = 21, 6  # ours at 0.8 and 128 permutations; datatrove gets the same (126 hashes)
GOAL_RECALL, GOAL_PRECISION = 0.99, 0.999
GOAL_VS_LOOP, GOAL_VS_DATATROVE, GOAL_SCALING = 1.5, 10.0, 1.7
BANDS_REPORTED = [(0.5 + 0.05 * i, 0.55 + 0.05 * i) for i in range(10)]  # 0.50-0.55 ... 0.95-1.0
RECALL_BANDS = [(0.8, 0.85), (0.85, 0.9), (0.9, 0.95), (0.95, 1.0)]


# ---------------------------------------------------------------------------------------------
# The variants, each in a process of its own (`--variant NAME`)
# ---------------------------------------------------------------------------------------------


def ours(work: Path, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    """`run_dedup` on the extracted dataset; the removed rows' urls from `_rejected/`."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dataset import read_table
    from llm_pretrain.stages import run_dedup

    config = load_config(None, {"executor.workers": workers, "dedup.minhash.threshold": THRESHOLD})
    out = work / "out" / f"ours-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    summary = run_dedup(work / "dataset", out, config, show_progress=False, overwrite=True)
    seconds = time.perf_counter() - started
    own, child = peak_rss_mb()
    rejected = read_table(out, rejected=True).select(["url", "reason", "similarity"]).to_pylist()
    return {
        "seconds": seconds,
        "docs": len(read_table(work / "dataset").select(["id"])),
        "removed": [row["url"] for row in rejected],
        "reasons": {row["url"]: row["reason"].split(":", 1)[0] for row in rejected},
        "similarity": {row["url"]: row["similarity"] for row in rejected},
        "stats": summary.stats.get("dedup", {}),
        "rss_mb": own,
        "child_rss_mb": child,
    }


def datasketch_loop(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The plain loop: per document a datasketch MinHash (128 permutations, default scheme)
    of the UTF-8 bytes of its word 5-grams (our normalisation), MinHashLSH(0.8, 128): query,
    then insert; union-find over the matches; the first seen document of a cluster survives.
    Timed from reading the JSONL on."""
    from datasketch import MinHash, MinHashLSH

    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dedup.normalize import normalize

    settings = load_config(None).dedup.minhash.normalize
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    urls: list[str] = []
    parent: list[int] = []

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for path in corpus_files(work):
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                index = len(urls)
                urls.append(row["url"])
                parent.append(index)
                words = normalize(row["text"], settings).split()
                if not words:
                    continue
                grams = [
                    " ".join(words[i : i + NGRAM]).encode("utf-8")
                    for i in range(max(1, len(words) - NGRAM + 1))
                ]
                minhash = MinHash(num_perm=NUM_PERM)
                minhash.update_batch(grams)
                for match in lsh.query(minhash):
                    a, b = find(match), find(index)
                    if a != b:
                        parent[max(a, b)] = min(a, b)  # the earlier root survives
                lsh.insert(index, minhash)
    removed = [url for i, url in enumerate(urls) if find(i) != i]
    seconds = time.perf_counter() - started
    own, child = peak_rss_mb()
    return {
        "seconds": seconds,
        "docs": len(urls),
        "removed": removed,
        "lsh": {"bands": lsh.b, "rows": lsh.r},
        "rss_mb": own,
        "child_rss_mb": child,
    }


def datatrove_hash() -> str:
    """xxhash (datatrove's default) when the module is there, else sha1: setup_env.sh does not
    install xxhash, and shingle hashing is a small part of datatrove's time next to spaCy."""
    return "xxhash" if importlib.util.find_spec("xxhash") else "sha1"


def datatrove_minhash() -> types.ModuleType:
    """datatrove.pipeline.dedup.minhash. The package's __init__ also imports the exact-substring
    steps, which need `tokenizers` (datatrove's `processing` extra, not installed, see
    setup_env.sh); without it the package is stood in for by an empty one, so that only the
    MinHash module (which does not need it) is loaded."""
    name = "datatrove.pipeline.dedup"
    if importlib.util.find_spec("tokenizers") is None and name not in sys.modules:
        import datatrove.pipeline

        package = types.ModuleType(name)
        package.__path__ = [str(Path(datatrove.pipeline.__file__).parent / "dedup")]
        sys.modules[name] = package
    return importlib.import_module(f"{name}.minhash")


def datatrove(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """datatrove's four MinHash stages as its example runs them, each a LocalPipelineExecutor
    with 1 task and 1 worker (stage 2: one task per bucket, 21, run one after another), which
    run in this process; the JSONL read with `limit` = --peer-docs. spaCy's tokenizer is loaded
    before the clock."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    minhash = datatrove_minhash()
    out = work / "out" / "datatrove"
    shutil.rmtree(out, ignore_errors=True)
    config = minhash.MinhashConfig(
        n_grams=NGRAM,
        num_buckets=BANDS,
        hashes_per_bucket=ROWS,
        seed=1,
        hash_config=HashConfig(precision=64, hash_fc=datatrove_hash()),
    )
    limit = args.peer_docs if args.peer_docs and args.peer_docs < args.docs else -1

    def reader() -> JsonlReader:
        return JsonlReader(str(work / "corpus"), glob_pattern="*.jsonl", id_key="url", limit=limit)

    signature = minhash.MinhashDedupSignature(output_folder=str(out / "signatures"), config=config)
    signature.word_tokenizer.word_tokenize("Load the tokenizer before the clock starts.")
    stages = [
        ("signatures", [reader(), signature], 1),
        (
            "buckets",
            [
                minhash.MinhashDedupBuckets(
                    str(out / "signatures"), str(out / "buckets"), config=config
                )
            ],
            BANDS,
        ),
        (
            "clusters",
            [
                minhash.MinhashDedupCluster(
                    str(out / "buckets"), str(out / "remove_ids"), config=config
                )
            ],
            1,
        ),
        (
            "filter",
            [
                reader(),
                minhash.MinhashDedupFilter(
                    str(out / "remove_ids"), exclusion_writer=JsonlWriter(str(out / "removed"))
                ),
                JsonlWriter(str(out / "kept")),
            ],
            1,
        ),
    ]
    seconds: dict[str, float] = {}
    for name, pipeline, tasks in stages:
        executor = LocalPipelineExecutor(
            pipeline,
            tasks=tasks,
            workers=1,
            logging_dir=str(out / "logs" / name),
            skip_completed=False,
        )
        started = time.perf_counter()
        executor.run()
        seconds[name] = time.perf_counter() - started
    own, child = peak_rss_mb()
    removed, kept = jsonl_ids(out / "removed"), jsonl_ids(out / "kept")
    return {
        "seconds": sum(seconds.values()),
        "stage_seconds": seconds,
        "docs": len(removed) + len(kept),
        "removed": removed,
        "evaluated": removed + kept,
        "hash": config.hash_config.hash_fc,
        "rss_mb": own,
        "child_rss_mb": child,
    }


def jsonl_ids(folder: Path) -> list[str]:
    """The ids of the rows of a datatrove JSONL writer's files, in file order."""
    ids = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            ids.extend(json.loads(line)["id"] for line in lines)
    return ids


VARIANTS: dict[str, tuple[str, Callable[[Path, argparse.Namespace], dict[str, Any]]]] = {
    "ours-1": ("ours 1 worker", lambda work, args: ours(work, 1, args)),
    "ours-2": ("ours 2 workers", lambda work, args: ours(work, 2, args)),
    "datasketch": ("datasketch loop", datasketch_loop),
    "datatrove": ("datatrove", datatrove),
}


# ---------------------------------------------------------------------------------------------
# Scoring: precision and recall against the planted pairs; what MinHash statistics predict
# ---------------------------------------------------------------------------------------------


@dataclass
class Pair:
    """A planted pair: source and copy urls, their true Jaccard, the kind of copy."""

    source: str
    copy: str
    jaccard: float
    kind: str


def planted_pairs(truth: list[dict]) -> list[Pair]:
    """The planted pairs of the ground truth."""
    return [Pair(r["source"], r["url"], r["jaccard"], r["kind"]) for r in truth if r["source"]]


def in_band(value: float, band: tuple[float, float]) -> bool:
    """Whether a Jaccard lies in [low, high); the last band takes 1.0 too."""
    low, high = band
    return low <= value < high or (high >= 1.0 and value == 1.0)


def evaluate(removed: list[str], evaluated: list[str], truth: list[dict]) -> dict[str, Any]:
    """Document-level precision and recall on the documents `evaluated` (pairs count when both
    members were evaluated). A true duplicate pair is found when either member was removed
    (once); every other removed document is a false positive."""
    inside = set(evaluated)
    gone = set(removed) & inside
    pairs = [p for p in planted_pairs(truth) if p.source in inside and p.copy in inside]
    found = {p.copy: p.source in gone or p.copy in gone for p in pairs}
    positives = [p for p in pairs if p.jaccard >= THRESHOLD]
    hits = sum(found[p.copy] for p in positives)
    credited = set()
    for p in positives:
        if found[p.copy]:
            credited.add(p.copy if p.copy in gone else p.source)
    false = gone - credited
    kinds = {r["url"]: r for r in truth}
    copy_of = {p.copy: p for p in pairs}
    source_of = {p.source: p for p in pairs}
    causes: Counter[str] = Counter()
    near_threshold = 0  # false positives from planted pairs with J in 0.75-0.8
    for url in false:
        pair = copy_of.get(url) or source_of.get(url)
        if pair is not None and pair.jaccard < THRESHOLD:
            near_threshold += pair.jaccard >= THRESHOLD - 0.05
            causes[f"planted pair J {math.floor(pair.jaccard * 20) / 20:.2f}-"] += 1
        elif pair is not None:
            causes["second member of a found pair"] += 1
        elif kinds[url]["footer"] >= 0:
            causes["unrelated, shared footer"] += 1
        else:
            causes["unrelated"] += 1
    bands = {}
    for band in BANDS_REPORTED:
        members = [p for p in pairs if in_band(p.jaccard, band)]
        bands[f"{band[0]:.2f}-{band[1]:.2f}"] = {
            "pairs": len(members),
            "removed": sum(found[p.copy] for p in members),
        }
    grey = [p for p in pairs if 0.7 <= p.jaccard < THRESHOLD]
    return {
        "documents": len(inside),
        "removed": len(gone),
        "positives": len(positives),
        "true_positives": hits,
        "false_positives": len(false),
        "precision": hits / len(gone) if gone else 1.0,
        "recall": hits / len(positives) if positives else 1.0,
        "recall_bands": {
            f"{low:.2f}-{high:.2f}": _share(
                [found[p.copy] for p in positives if in_band(p.jaccard, (low, high))]
            )
            for low, high in RECALL_BANDS
        },
        "fp_rate_0.7-0.8": _share([found[p.copy] for p in grey]),
        # away from the threshold: recall at J >= 0.85; precision if the false positives from
        # pairs at 0.75-0.8 are left out
        "recall_0.85": _share([found[p.copy] for p in positives if p.jaccard >= 0.85]),
        "precision_outside_0.75": hits / (len(gone) - near_threshold) if gone else 1.0,
        "grey_pairs": len(grey),
        "false_positive_causes": dict(causes.most_common()),
        "bands": bands,
    }


def _share(flags: list[bool]) -> float | None:
    """The share of true flags, None when there are none to count."""
    return sum(flags) / len(flags) if flags else None


def candidate_probability(j: float, bands: int, rows: int) -> float:
    """The chance that a pair of Jaccard j shares a band: 1 - (1 - j^r)^b."""
    return 1 - (1 - j**rows) ** bands


def estimate_reaches(j: float, num_perm: int = NUM_PERM, threshold: float = THRESHOLD) -> float:
    """Chance that the share of equal signature rows (Binomial(num_perm, j) / num_perm) is at
    least the threshold: the verification step of ours."""
    first = next(k for k in range(num_perm + 1) if k / num_perm >= threshold)
    return sum(
        math.comb(num_perm, k) * j**k * (1 - j) ** (num_perm - k)
        for k in range(first, num_perm + 1)
    )


MODELS: dict[str, Callable[[float, dict], float]] = {
    # ours: a candidate in 21 x 6 bands, then verified: near the threshold (within 4 standard
    # deviations of the estimate) on the shingle sets, so the decision is the true one; further
    # away by the estimate, which is on the right side but for a chance of ~3e-5 (left out).
    "ours": lambda j, _: candidate_probability(j, BANDS, ROWS) if j >= THRESHOLD else 0.0,
    "datasketch": lambda j, r: candidate_probability(j, r["lsh"]["bands"], r["lsh"]["rows"]),
    "datatrove": lambda j, _: candidate_probability(j, BANDS, ROWS),
}


def modelled(kind: str, result: dict, truth: list[dict], evaluated: list[str]) -> dict:
    """Expected share removed per band from MinHash statistics alone (no shingle effects)."""
    inside = set(evaluated)
    pairs = [p for p in planted_pairs(truth) if p.source in inside and p.copy in inside]
    model = MODELS[kind]
    out: dict[str, Any] = {}
    for band in BANDS_REPORTED:
        values = [model(p.jaccard, result) for p in pairs if in_band(p.jaccard, band)]
        out[f"{band[0]:.2f}-{band[1]:.2f}"] = sum(values) / len(values) if values else None
    positives = [model(p.jaccard, result) for p in pairs if p.jaccard >= THRESHOLD]
    negatives = [model(p.jaccard, result) for p in pairs if p.jaccard < THRESHOLD]
    out["recall"] = sum(positives) / len(positives) if positives else None
    found = sum(positives) + sum(negatives)  # unrelated documents: no false positives expected
    out["precision"] = sum(positives) / found if found else None
    return out


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


@dataclass
class Row(Timed):
    """One variant over its rounds: the fastest round's result, the first round's score."""

    name: str = ""
    label: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    score: dict[str, Any] = field(default_factory=dict)


def print_corpus(facts: dict, truth: list[dict]) -> None:
    """What the corpus holds, planted copies and background similarity."""
    kinds, background = facts["kinds"], facts["background"]
    reused = " (reused)" if facts.get("reused") else ""
    print(
        f"corpus{reused}: {facts['documents']} documents, {facts['words'] / 1e6:.1f} M words "
        f"({facts['words'] / facts['documents']:.0f} a document), "
        f"{facts['characters'] / 2**20:.0f} MiB, in {facts['key']['files']} JSONL files; "
        f"{facts['dataset_rows']} rows after extract; generated in {facts['seconds_generate']} s, "
        f"extracted in {facts['seconds_extract']} s"
    )
    copies = planted_pairs(truth)
    edited = [p.jaccard for p in copies if p.kind == "edited"]
    print(
        f"  base documents {kinds.get('base', 0)} ({facts['footers']} with a shared footer); "
        f"planted copies {len(copies)}: exact {kinds.get('exact', 0)}, whitespace/case "
        f"{kinds.get('whitespace-case', 0)}, edited {len(edited)} (true J "
        f"{min(edited, default=0):.3f}-{max(edited, default=0):.3f}); "
        f"true duplicates (J >= {THRESHOLD}): {sum(p.jaccard >= THRESHOLD for p in copies)}"
    )
    print(
        f"  background: {background['unrelated_pairs']} random unrelated pairs: true J mean "
        f"{background['unrelated_mean']:.5f}, max {background['unrelated_max']:.4f}; "
        f"{background['footer_pairs']} pairs sharing a footer: mean "
        f"{background['footer_mean']:.4f}, max {background['footer_max']:.4f}"
    )


def _fmt(value: float | None, digits: int = 3) -> str:
    """A figure, or "-" where there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


TABLE = Table(
    Column("variant", 30, left=True),
    Column("docs", 7),
    Column("seconds", 9, ".1f"),
    Column("docs/s", 9, ".0f"),
    Column("precision", 11, ".4f"),
    Column("recall", 8, ".4f"),
    Column("removed", 9),
    Column("peak MB", 12),
)


def print_table(rows: list[Row]) -> None:
    """Speed, quality and peak memory of every variant, one line each."""
    print()
    TABLE.header()
    for row in rows:
        rss = memory_cell(row.result["rss_mb"], row.result["child_rss_mb"])
        score = row.score
        TABLE.row(
            row.label, row.docs, row.seconds, row.docs_per_s, score["precision"], score["recall"],
            score["removed"], rss,
        )  # fmt: skip
    print(TABLE_NOTES)


TABLE_NOTES = """\
seconds: wall time of the variant's work, best of its rounds (imports, loading spaCy and reading
the output back excluded). ours: run_dedup end to end (pool start, signatures, global step, kept
and rejected shards written); datasketch loop: from reading the JSONL on; datatrove: its 4 stages,
writing included. peak MB: the variant's process + its largest child (our pool workers,
datatrove's multiprocess Manager).
precision, recall: document level against the planted pairs, true duplicate at J >= 0.8."""


def print_ours(rows: list[Row]) -> None:
    """Our phases' figures from the stage's stats: where the time and the memory go."""
    for row in rows:
        if not row.name.startswith("ours"):
            continue
        s = row.result["stats"]
        rss = s.get("peak_rss_mb", {})
        print(
            f"{row.label}: signatures {s.get('seconds_signatures', 0):.1f} s "
            f"({s.get('signatures_docs_per_s', 0):.0f} docs/s), global step "
            f"{s.get('seconds_global_step', 0):.2f} s (LSH {s.get('seconds_lsh', 0):.2f} s, "
            f"clusters {s.get('seconds_clusters', 0):.2f} s), end to end {row.docs_per_s:.0f} "
            f"docs/s; peak RSS global step {rss.get('global_step', 0):.0f} MB, largest worker "
            f"{rss.get('largest_worker', 0):.0f} MB; exact {s.get('exact_duplicates')}, near "
            f"{s.get('near_duplicates')}, candidate pairs {s.get('candidate_pairs')}, verified "
            f"{s.get('verified_pairs')}, clusters {s.get('clusters')} {s.get('cluster_sizes')}"
        )


def print_quality(rows: list[Row], models: dict[str, dict]) -> None:
    """Share removed per true-Jaccard band next to the model's; each variant's scores."""
    print(
        "\nshare of planted pairs with a member removed, by true Jaccard band "
        "(>= 0.80: recall; below: false positives); (model): what MinHash statistics predict"
    )
    full = rows[0].score["documents"]
    table = Table(
        Column("true J", 11, left=True),
        Column("pairs", 7),
        *(Column(row.label, 22) for row in rows),
    )
    table.header()
    for band in rows[0].score["bands"]:
        cells = []
        for row in rows:
            counts = row.score["bands"][band]
            share = counts["removed"] / counts["pairs"] if counts["pairs"] else None
            model = models.get(row.name, {}).get(band)
            subset = f" n={counts['pairs']}" if row.score["documents"] != full else ""
            cells.append(f"{_fmt(share)} ({_fmt(model, 2)}){subset}")
        table.row(band, rows[0].score["bands"][band]["pairs"], *cells)
    if any(row.score["documents"] != full for row in rows):
        print("n=: planted pairs inside the variant's subset of the corpus")
    for row in rows:
        score = row.score
        bands = ", ".join(f"{k} {_fmt(v)}" for k, v in score["recall_bands"].items())
        model = models.get(row.name, {})
        print(
            f"{row.label}: precision {score['precision']:.4f} (model "
            f"{_fmt(model.get('precision'), 4)}), recall {score['recall']:.4f} (model "
            f"{_fmt(model.get('recall'), 4)}) of {score['positives']} true duplicates; by band "
            f"{bands}; false-positive rate at J "
            f"0.7-0.8: {_fmt(score['fp_rate_0.7-0.8'])} of {score['grey_pairs']}; false "
            f"positives {score['false_positives']}: {score['false_positive_causes'] or 'none'}; "
            f"away from the threshold: recall at J >= 0.85 {_fmt(score['recall_0.85'], 4)}, "
            f"precision without the false positives at J 0.75-0.8 "
            f"{score['precision_outside_0.75']:.4f}"
        )


def print_goals(rows: dict[str, Row], peer_docs: int) -> list[dict]:
    """The goals' lines and ratios; what they said, for summary.json."""
    print()
    goals = []
    one = rows.get("ours-1")
    if one:
        goals.append(
            target_goal(f"ours recall at J >= {THRESHOLD}", one.score["recall"], GOAL_RECALL, "")
        )
        goals.append(
            target_goal(
                f"ours precision at J >= {THRESHOLD}", one.score["precision"], GOAL_PRECISION, ""
            )
        )
    loop, peer = rows.get("datasketch"), rows.get("datatrove")
    if one and loop:
        signature_rate = one.result["stats"].get("signatures_docs_per_s", 0.0)
        print(
            f"ratio ours/datasketch loop: end to end {one.docs_per_s / loop.docs_per_s:.2f}x, "
            f"signature phase {signature_rate / loop.docs_per_s:.2f}x (1 worker each)"
        )
        goals.append(
            target_goal(
                "ours >= 1.5x the plain datasketch loop (end to end, 1 worker)",
                one.docs_per_s / loop.docs_per_s,
                GOAL_VS_LOOP,
            )
        )
    if one and peer:
        subset = f" (datatrove on the first {peer.docs} documents)" if peer.docs < one.docs else ""
        print(f"ratio ours/datatrove: {one.docs_per_s / peer.docs_per_s:.1f}x end to end{subset}")
        goals.append(
            target_goal(
                "ours >= 10x datatrove (end to end, 1 worker)",
                one.docs_per_s / peer.docs_per_s,
                GOAL_VS_DATATROVE,
            )
        )
    two = rows.get("ours-2")
    if one and two:
        rate = [r.result["stats"].get("signatures_docs_per_s", 0.0) for r in (one, two)]
        print(
            f"scaling 2 workers vs 1: signature phase {rate[1] / rate[0]:.2f}x, end to end "
            f"{two.docs_per_s / one.docs_per_s:.2f}x"
        )
        goals.append(
            target_goal("2 workers vs 1 on the signature phase", rate[1] / rate[0], GOAL_SCALING)
        )
    return goals


def profile_signatures(work: Path, sample: int = 3000) -> str:
    """cProfile of the signature phase's work on `sample` documents, in its batches of 1,000:
    the exact-dedup text hashes, the shingle hashes and the MinHash signatures."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dedup.minhash import shingle_hashes, signatures
    from llm_pretrain.pipeline.dedup.normalize import text_hash

    texts: list[str] = []
    for path in corpus_files(work):
        with open(path, encoding="utf-8") as lines:
            texts.extend(json.loads(line)["text"] for line in itertools.islice(lines, sample))
        if len(texts) >= sample:
            break
    texts = texts[:sample]
    config = load_config(None).dedup
    minhash = config.minhash

    def batch(part: list[str]) -> None:
        [text_hash(text, config.exact.normalize) for text in part]
        signatures([shingle_hashes(text, minhash) for text in part], minhash.num_perm, minhash.seed)

    batch(texts[:50])  # imports and permutations off the clock
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for start in range(0, len(texts), 1000):
        batch(texts[start : start + 1000])
    profiler.disable()
    seconds = time.perf_counter() - started
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(12)
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    head = f"\nprofile: signature work on {len(texts)} documents, {seconds:.2f} s under cProfile"
    return "\n".join([head, *lines[-14:]])


# ---------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """The corpus's size and seed, rounds, and the peers to leave out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000, help="documents in the corpus")
    parser.add_argument(
        "--peer-docs",
        type=int,
        default=20_000,
        help="datatrove runs on the first N documents only (0: all); it is ~20x slower",
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of ours and the loop; best")
    parser.add_argument("--files", type=int, default=8, help="JSONL files = our input shards")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--skip-datatrove", action="store_true", help="leave datatrove out")
    parser.add_argument("--profile", action="store_true", help="cProfile our signature phase")
    parser.add_argument("--fresh", action="store_true", help="rebuild even a matching corpus")
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=["prepare", *VARIANTS], help=argparse.SUPPRESS)
    return parser.parse_args()


def child_options(args: argparse.Namespace) -> list[str]:
    """The options a variant's child needs: the corpus's size, seed and files."""
    options = []
    for option in ("docs", "peer_docs", "seed", "files"):
        options += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    return options


def main() -> None:
    """Parent: the corpus (reused when current), rounds of the variants, scores, report;
    child (--variant): the corpus's preparation or one variant."""
    args = parse_args()
    os.environ.setdefault("HF_ASSETS_CACHE", str(args.work / "assets"))
    if args.variant == "prepare":  # child processes
        report(prepare_corpus(args.work, args.docs, args.seed, args.files), args.work, "prepare")
        return
    if args.variant:
        report(VARIANTS[args.variant][1](args.work, args), args.work, args.variant)
        return
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    options = child_options(args)
    reused = not args.fresh and corpus_is_current(args.work, args.docs, args.seed, args.files)
    if not reused:
        print("building the corpus and our dataset ...", file=sys.stderr, flush=True)
        run_child(__file__, "prepare", options, work=args.work)
    facts = json.loads((args.work / "corpus.json").read_text(encoding="utf-8"))
    facts["reused"] = reused
    truth = json.loads((args.work / "truth.json").read_text(encoding="utf-8"))
    print_corpus(facts, truth)
    all_urls = [r["url"] for r in truth]

    names = [n for n in VARIANTS if not (args.skip_datatrove and n == "datatrove")]
    results = interleaved(
        names,
        max(1, args.rounds),
        lambda name: run_child(__file__, name, options, work=args.work),
        "  round {round} {name}: {seconds:.1f} s",
        once={"datatrove"},  # the slow one
    )
    rows: dict[str, Row] = {}
    for name in names:  # the same decisions every round; the fastest round's numbers count
        first = results[name][0]
        score = evaluate(first["removed"], first.get("evaluated") or all_urls, truth)
        times = [result["seconds"] for result in results[name]]
        fastest = best(results[name])
        rows[name] = Row(fastest["docs"], times, name, VARIANTS[name][0], fastest, score)
    peer = rows.get("datatrove")
    if peer:
        prefix = set(all_urls[: peer.docs])
        if set(peer.result["evaluated"]) != prefix:
            print("warning: datatrove did not read exactly the first documents of the corpus")
    models = {
        name: modelled(
            "ours" if name.startswith("ours") else name,
            row.result,
            truth,
            row.result.get("evaluated") or all_urls,
        )
        for name, row in rows.items()
    }
    ordered = [rows[n] for n in names]
    print_table(ordered)
    print_ours(ordered)
    if "datasketch" in rows:
        lsh = rows["datasketch"].result["lsh"]
        print(
            f"datasketch loop: MinHashLSH(0.8, 128) chose {lsh['bands']} bands x {lsh['rows']} "
            "rows, no verification"
        )
    if peer:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in peer.result["stage_seconds"].items())
        print(
            f"datatrove: {stages}; 21 buckets x 6 hashes, no verification; shingle hash "
            f"{peer.result['hash']}"
        )
    print_quality(ordered, models)
    goals = print_goals(rows, args.peer_docs)
    profile = profile_signatures(args.work) if args.profile else ""
    if profile:
        print(profile)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s; results in {args.work / 'results'}")
    summary = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "corpus": facts,
        "variants": {
            name: {
                "label": row.label,
                "docs": row.docs,
                "seconds": row.times,
                "docs_per_s": row.docs_per_s,
                "rss_mb": row.result["rss_mb"],
                "child_rss_mb": row.result["child_rss_mb"],
                "stats": row.result.get("stats") or row.result.get("stage_seconds"),
                "score": row.score,
                "model": models[name],
            }
            for name, row in rows.items()
        },
        "goals": goals,
        "profile": profile,
        "seconds_total": total,
    }
    (args.work / "results" / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
