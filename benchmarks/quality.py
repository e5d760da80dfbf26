"""Does the pipeline's corpus train a better model? A noisy crawl built offline from real text
(`corpus_quality.py`: clean pages in real site chrome, plus boilerplate, spam, garbled text,
exact and near copies, other languages and contact pages at documented shares), run through
`llm-data extract -> filter -> dedup`, then `llm-train ablate` on four variants at equal tokens:

    raw                the extraction
    filtered           the filter's output
    deduped            the extraction deduplicated (no filter)
    filtered+deduped   the filter's output deduplicated: the pipeline's corpus

The models are compared by bits per byte on held-out clean documents that no variant contains
(`heldout/`, from sources kept apart before the crawl is built), with 3 seeds. The claim to
check: the pipeline's corpus reaches lower held-out bits per byte than raw extraction at equal
tokens, by more than the seed spread; and what each stage contributes. The benchmark reports
what it finds; it asserts nothing.

    .venv/bin/python benchmarks/quality.py   # --tokens 800K --seeds 3 --vocab-size 4096

Writes into --work (default benchmarks/_work/quality/, gitignored): input/ (the crawl, the
held-out set, shares.json), corpus/ (extracted, filtered, deduped), dedup-only/, ablation/
(the ablation: results.json, ablation.png, runs; --ablation names another) and
quality-ablation.json (everything printed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from corpus_quality import DEFAULT_CLEAN_MB, SHARES, build_quality_corpus

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "configs" / "train" / "ablate-tiny.yaml"
VARIANTS = ("raw", "filtered", "deduped", "filtered+deduped")
PIPELINE = "filtered+deduped"


def llm(tool: str, *args: str) -> subprocess.CompletedProcess:
    """`llm-data ARGS` or `llm-train ARGS` in this interpreter, its output shown as it runs."""
    module = "llm_pretrain" if tool == "data" else "llm_pretrain.train"
    return subprocess.run([sys.executable, "-m", module, *args], check=True)


def build_input(work: Path, clean_mb: float, seed: int) -> dict[str, Any]:
    """The crawl and held-out set, built once per size and seed (shares.json says which)."""
    shares_file = work / "input" / "shares.json"
    wanted = {"clean_mb": clean_mb, "seed": seed}
    if shares_file.is_file():
        shares = json.loads(shares_file.read_text())
        if shares.get("built_with") == wanted:
            return shares
    corpus = build_quality_corpus(work / "input", clean_mb=clean_mb, seed=seed)
    shares = json.loads(shares_file.read_text())
    shares["built_with"] = wanted
    shares_file.write_text(json.dumps(shares, indent=1))
    print(f"crawl: {sum(corpus.counts.values()):,} pages in {corpus.crawl}")
    return shares


def run_pipeline(work: Path, workers: int) -> dict[str, Any]:
    """extract -> filter -> dedup as one chain, and dedup of the extraction alone; each stage's
    documents and text, and the time it took (0 when it was up to date)."""
    corpus = work / "corpus"
    settings = ["--set", f"executor.workers={workers}"]
    started = time.perf_counter()
    llm("data", "extract", "-q", *settings, "-i", str(work / "input" / "crawl"),
        "filter", "dedup", "--output", str(corpus))  # fmt: skip
    chain_s = time.perf_counter() - started
    started = time.perf_counter()
    llm("data", "dedup", "-q", *settings, "-i", str(corpus / "extracted"),
        "-o", str(work / "dedup-only"))  # fmt: skip
    dedup_s = time.perf_counter() - started
    folders = {
        "raw": corpus / "extracted",
        "filtered": corpus / "filtered",
        "deduped": work / "dedup-only",
        "filtered+deduped": corpus / "deduped",
    }
    stages = {}
    for name, folder in folders.items():
        manifest = json.loads((folder / "_manifest.json").read_text())
        stats = json.loads((folder / "_stats.json").read_text())
        stages[name] = {
            "folder": str(folder),
            "documents": manifest["counts"]["documents"],
            "text_mb": stats.get("text_bytes", {}).get("kept", 0) / 1e6,
            "rejected": stats.get("rejected", {}),
        }
    return {"variants": stages, "chain_s": chain_s, "dedup_only_s": dedup_s}


def run_ablation(work: Path, pipeline: dict[str, Any], options: argparse.Namespace) -> dict:
    """`llm-train ablate` on the four variants; its results.json."""
    out = work / options.ablation
    variants = []
    for name in VARIANTS:
        variants += ["--variant", f"{name}={pipeline['variants'][name]['folder']}"]
    llm("train", "ablate", *variants, "--eval", f"clean={work / 'input' / 'heldout'}",
        "--out", str(out), "--config", str(options.config), "--tokens", options.tokens,
        "--seeds", str(options.seeds), "--vocab-size", str(options.vocab_size),
        "--val-max-rows", str(options.val_max_rows), *options.overrides,
        *(["-q"] if options.quiet else []))  # fmt: skip
    return json.loads((out / "results.json").read_text())


def contributions(results: dict[str, Any]) -> list[dict[str, Any]]:
    """What each step changes on the clean held-out set: the difference of the means (negative
    is better) and whether it exceeds the two seed spreads added."""
    cells = {name: results["variants"][name]["eval"]["clean"] for name in VARIANTS}
    steps = [
        ("filter (raw -> filtered)", "raw", "filtered"),
        ("dedup (raw -> deduped)", "raw", "deduped"),
        ("dedup after filter (filtered -> filtered+deduped)", "filtered", "filtered+deduped"),
        ("pipeline (raw -> filtered+deduped)", "raw", "filtered+deduped"),
    ]
    rows = []
    for label, before, after in steps:
        delta = cells[after]["bpb"] - cells[before]["bpb"]
        spread = cells[after]["bpb_std"] + cells[before]["bpb_std"]
        pairs = zip(cells[after]["bpb_seeds"], cells[before]["bpb_seeds"], strict=True)
        per_seed = [a - b for a, b in pairs]
        rows.append(
            {
                "step": label,
                "bpb_change": delta,
                "spread": spread,
                "beyond_spread": abs(delta) > spread,
                "relative": delta / cells[before]["bpb"],
                "per_seed": per_seed,
                "every_seed_agrees": all(d < 0 for d in per_seed) or all(d > 0 for d in per_seed),
            }
        )
    return rows


def print_report(report: dict[str, Any]) -> None:
    shares = report["input"]
    print("\n== noisy crawl (corpus_quality.py), shares of pages ==")
    counts = shares.get("counts", {})
    for name, share in SHARES.items():
        print(f"  {name:<12}{share:>6.0%}  {counts.get(name, 0):>6,} pages")
    print("\n== pipeline ==")
    for name, stage in report["pipeline"]["variants"].items():
        print(f"  {name:<18}{stage['documents']:>7,} documents {stage['text_mb']:>7.2f} MB text")
    print(f"  extract+filter+dedup {report['pipeline']['chain_s']:.0f} s, "
          f"dedup of the extraction {report['pipeline']['dedup_only_s']:.0f} s")  # fmt: skip
    results = report["ablation"]
    seeds = len(results["seeds"])
    print(f"\n== bits per byte on held-out clean text ({results['tokens_per_run']:,} tokens per "
          f"run, {seeds} seeds, {results['parameters'] / 1e6:.1f}M parameters) ==")  # fmt: skip
    for name in VARIANTS:
        variant = results["variants"][name]
        cell = variant["eval"]["clean"]
        seeds_text = ", ".join(f"{v:.4f}" for v in cell["bpb_seeds"])
        print(f"  {name:<18}{cell['bpb']:.4f} ± {cell['bpb_std']:.4f}  "
              f"(seeds {seeds_text}; {variant['epochs']:.2f} epochs)")  # fmt: skip
    print("\n== what each step changes (negative: better) ==")
    for row in report["contributions"]:
        verdict = "beyond the spread" if row["beyond_spread"] else "within the spread"
        per_seed = ", ".join(f"{d:+.4f}" for d in row["per_seed"])
        print(f"  {row['step']:<52}{row['bpb_change']:+.4f} ({row['relative']:+.1%}, "
              f"spread {row['spread']:.4f}: {verdict})")  # fmt: skip
        agrees = "the same sign in every seed" if row["every_seed_agrees"] else "signs differ"
        print(f"  {'':<52}seed by seed (same initial weights): {per_seed}; {agrees}")
    print(f"\nwall time {report['wall_s'] / 60:.1f} min; ablation in {report['ablation_dir']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "_work" / "quality")
    parser.add_argument("--clean-mb", type=float, default=DEFAULT_CLEAN_MB)
    parser.add_argument("--seed", type=int, default=0, help="of the crawl")
    parser.add_argument("--tokens", default="800K", help="training tokens of every run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--val-max-rows", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, default=RECIPE)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--ablation", default="ablation", help="its folder under --work")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides for every run"
    )
    options = parser.parse_args()
    started = time.perf_counter()
    work = options.work.resolve()
    shares = build_input(work, options.clean_mb, options.seed)
    pipeline = run_pipeline(work, options.workers)
    results = run_ablation(work, pipeline, options)
    report = {
        "input": shares,
        "pipeline": pipeline,
        "ablation": results,
        "contributions": contributions(results),
        "ablation_dir": str(work / options.ablation),
        "wall_s": time.perf_counter() - started,
        "options": {k: str(v) for k, v in vars(options).items()},
    }
    (work / f"quality-{options.ablation}.json").write_text(json.dumps(report, indent=1))
    print_report(report)


if __name__ == "__main__":
    main()
