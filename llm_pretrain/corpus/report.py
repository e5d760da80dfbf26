"""`llm-data report`: what happened to a corpus's documents, gathered from the stats the stages
already wrote (`_stats.json`, manifests), plus what only the datasets show (report_samples.py:
example documents per rejection reason, near-duplicate pairs, documents per site), which costs
one read of every stage's rejected shards and of the final documents, a shard at a time.

Works on a refresh work folder (every committed batch, summed) and on the folder a chained
`llm-data extract ... tokenize --output DIR` wrote (one batch). `render_html` turns the result
into the page; `--json` gives the same numbers to scripts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from llm_pretrain.corpus.report_samples import StageFolder, collect_samples
from llm_pretrain.corpus.versions import (
    BATCHES,
    TOKENS,
    VERSIONS,
    batch_dir,
    batch_name,
)
from llm_pretrain.pipeline.dataset import MANIFEST, STATS, read_manifest, shard_paths
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.pipeline.stats import (
    ClusterStats,
    DocumentStats,
    ExtractStats,
    FilterStats,
    TokenizeStats,
)
from llm_pretrain.stages import DOCUMENT_STAGES
from llm_pretrain.stages import STAGE_FOLDERS as ALL_STAGE_FOLDERS
from llm_pretrain.storage import read_json

# Stage name -> the folder its documents have, in a batch and in a chain's output folder.
STAGE_FOLDERS = {stage: ALL_STAGE_FOLDERS[stage] for stage in DOCUMENT_STAGES}
INPUT_ERRORS_SHOWN = 50


@dataclass(frozen=True)
class Part:
    """One batch of a refresh corpus, or the single run of a chain: its stage folders."""

    name: str
    folder: Path  # holds extracted/, filtered/, deduped/
    tokens: Path | None  # the tokenize output with this part's _stats.json
    inputs: int | None  # input files, when the batch recorded them


def find_parts(corpus: Path) -> tuple[str, list[Part], dict[str, Any] | None]:
    """The layout ("refresh" or "chain"), its committed parts and the token manifest."""
    if not corpus.is_dir():
        raise StageError(f"{corpus} does not exist")
    manifest = read_manifest(corpus / TOKENS)
    if manifest is not None and "corpus" in manifest:  # the committed version of a refresh
        parts = []
        for entry in manifest["corpus"]["batches"]:
            number = entry["batch"]
            folder = batch_dir(corpus, number)
            tokens = corpus / TOKENS / "batches" / batch_name(number)
            parts.append(Part(str(number), folder, tokens, entry.get("inputs")))
        return "refresh", parts, manifest
    if (corpus / BATCHES).is_dir() or (corpus / VERSIONS).is_dir():
        raise StageError(f"{corpus} has no committed version yet: run llm-data refresh first")
    found = [n for n in (*STAGE_FOLDERS.values(), TOKENS) if (corpus / n / MANIFEST).is_file()]
    if not found:
        raise StageError(
            f"{corpus} is neither a refresh work folder nor the output of a chained "
            "llm-data extract ... --output DIR (no extracted/, filtered/, deduped/ or tokens/ "
            "with a _manifest.json)"
        )
    tokens = corpus / TOKENS if (corpus / TOKENS / MANIFEST).is_file() else None
    return "chain", [Part("1", corpus, tokens, None)], manifest


def collect_report(corpus: Path) -> dict[str, Any]:
    """Every number the report shows, as plain JSON."""
    layout, parts, token_manifest = find_parts(corpus)
    extract, filters, dedup = ExtractStats(), FilterStats(), DocumentStats()
    stage_stats: dict[str, DocumentStats] = {"extract": extract, "filter": filters, "dedup": dedup}
    manifests: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGE_FOLDERS}
    clusters = ClusterStats()
    tokenize: TokenizeStats | None = None
    kept_languages: Counter[str] = Counter()
    unknown_bytes: set[str] = set()  # "input" or stages whose stats do not count bytes
    largest_cluster = 0  # a maximum, not a sum
    per_batch = []
    folders: list[StageFolder] = []
    for part in parts:
        row: dict[str, Any] = {"batch": part.name, "inputs": part.inputs}
        for stage, name in STAGE_FOLDERS.items():
            folder = part.folder / name
            manifest = read_manifest(folder)
            if manifest is None:
                continue
            manifests[stage].append(manifest)
            folders.append(StageFolder(stage, folder, corpus))
            stats = read_json(folder / STATS) if (folder / STATS).is_file() else {}
            stage_stats[stage].add(type(stage_stats[stage]).from_json(stats))
            if "text_bytes" not in stats:  # written before text bytes were counted
                unknown_bytes.add(stage)
            if stage == "extract" and "input_bytes" not in stats:
                unknown_bytes.add("input")
            row[stage] = manifest["counts"]["documents"]
            if stage == "dedup":
                kept_languages.update(_languages(folder))
                clusters.add(ClusterStats.from_json(stats.get("dedup", {})))
                largest = stats.get("dedup", {}).get("largest_cluster", 0)
                largest_cluster = max(largest_cluster, largest)
        if part.tokens is not None and (part.tokens / STATS).is_file():
            tokens = TokenizeStats.from_json(read_json(part.tokens / STATS))
            tokenize = tokens if tokenize is None else tokenize.add(tokens)
            row["tokens"] = tokens.tokens
        per_batch.append(row)
    final = next((stage for stage in ("dedup", "filter", "extract") if manifests[stage]), None)
    samples = collect_samples(folders, final).to_json()
    return {
        "corpus": str(corpus),
        "layout": layout,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "version": token_manifest["corpus"]["version"] if layout == "refresh" else None,
        "committed_at": token_manifest.get("created_at") if token_manifest else None,
        "batches": per_batch,
        "funnel": _funnel(stage_stats, manifests, tokenize, unknown_bytes),
        "rejections": _rejections(stage_stats),
        "skipped": dict(extract.skipped),
        "formats": dict(extract.formats),
        "input_errors": extract.input_errors[:INPUT_ERRORS_SHOWN],
        "input_error_count": len(extract.input_errors),
        "filter_steps": _filter_steps(filters, manifests["filter"]),
        "languages": {
            "detected": _detected_languages(filters),
            "kept": dict(kept_languages.most_common()),
        },
        "dedup": _dedup(clusters, largest_cluster),
        "tokens": _tokens(tokenize or TokenizeStats(), token_manifest),
        "settings": _settings(manifests),
        **samples,
    }


def _settings(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The thresholds each rule ran with, from the last batch's manifests: every filter step's
    section (the steps that ran) and dedup's settings."""
    settings: dict[str, dict[str, Any]] = {}
    if manifests["filter"]:
        config = manifests["filter"][-1]["config"]
        for step in config.get("steps", []):
            settings[f"filter.{step}"] = config.get(step, {})
    if manifests["dedup"]:
        config = manifests["dedup"][-1]["config"]
        settings["dedup"] = {k: v for k, v in config.items() if k != "batch"}
    return settings


def _languages(deduped: Path) -> Counter[str]:
    """Languages of the kept documents, from their `language` column alone."""
    counts: Counter[str] = Counter()
    for path in shard_paths(deduped, verify=False):  # one column read: no need to hash it all
        file = pq.ParquetFile(path)
        if "language" not in file.schema_arrow.names:
            return counts
        for batch in file.iter_batches(columns=["language"]):
            counts.update(code or "unknown" for code in batch.column(0).to_pylist())
    return counts


def _funnel(
    stats: dict[str, DocumentStats],
    manifests: dict[str, list[dict[str, Any]]],
    tokenize: TokenizeStats | None,
    unknown_bytes: set[str],
) -> list[dict[str, Any]]:
    """Documents and text bytes into and out of every stage, in order (bytes None where a
    batch's stats did not count them)."""
    rows: list[dict[str, Any]] = []
    previous_docs: int | None = None
    previous_bytes: int | None = None
    if manifests["extract"]:
        previous_docs = sum(len(m.get("inputs", [])) for m in manifests["extract"])
        previous_bytes = None if "input" in unknown_bytes else stats["extract"].input_bytes
        rows.append(_row("input files", previous_docs, previous_bytes, None, None, {}))
    for stage in STAGE_FOLDERS:
        if not manifests[stage]:
            continue
        counts = stats[stage]
        kept, rejected = counts.kept, counts.rejected_documents
        docs_in = kept + rejected if stage != "extract" else previous_docs
        removed = {"documents": rejected, "bytes": sum(counts.rejected_text_bytes.values())}
        kept_bytes = None if stage in unknown_bytes else counts.kept_text_bytes
        rows.append(_row(stage, kept, kept_bytes, docs_in, previous_bytes, removed))
        previous_docs, previous_bytes = kept, kept_bytes
    if tokenize is not None:
        row = _row("tokenize", tokenize.documents, None, previous_docs, previous_bytes, {})
        row["tokens"] = tokenize.tokens
        row["empty_documents"] = tokenize.empty_documents
        rows.append(row)
    return rows


def kept_row(data: dict[str, Any]) -> dict[str, Any]:
    """The funnel row of the documents the corpus keeps: dedup's, or the last stage run."""
    stages = {row["stage"]: row for row in data["funnel"]}
    for stage in ("dedup", "filter", "extract"):
        if stage in stages:
            return stages[stage]
    return {}


def _row(
    stage: str,
    docs_out: int,
    bytes_out: int | None,
    docs_in: int | None,
    bytes_in: int | None,
    rejected: dict[str, int],
) -> dict[str, Any]:
    return {
        "stage": stage,
        "documents_in": docs_in,
        "documents_out": docs_out,
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "rejected": rejected.get("documents", 0),
        "rejected_bytes": rejected.get("bytes", 0),
    }


def _rejections(stats: dict[str, DocumentStats]) -> list[dict[str, Any]]:
    """Every rejection reason of every stage with its documents and text bytes, most first."""
    rows = []
    for stage in STAGE_FOLDERS:
        sizes = stats[stage].rejected_text_bytes
        for reason, count in stats[stage].rejected.items():
            rows.append(
                {"stage": stage, "reason": reason, "documents": count, "bytes": sizes.get(reason)}
            )
    return sorted(rows, key=lambda r: (-r["documents"], r["stage"], r["reason"]))


def _filter_steps(stats: FilterStats, manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The filter's steps in the order they ran, each with documents in, out and per rule."""
    order = manifests[-1]["config"].get("steps", []) if manifests else []
    steps = stats.steps
    names = [s for s in order if s in steps] + sorted(s for s in steps if s not in order)
    sizes = stats.rejected_text_bytes
    rows = []
    for name in names:
        step = steps[name]
        rules = [
            {"rule": rule, "documents": count, "bytes": sizes.get(f"{name}:{rule}")}
            for rule, count in sorted(step.rules.items(), key=lambda kv: -kv[1])
        ]
        rows.append(
            {
                "step": name,
                "seen": step.seen,
                "rejected": step.rejected,
                "not_applicable": step.not_applicable,
                "rules": rules,
                "counts": dict(step.counts),
            }
        )
    return rows


def _detected_languages(stats: FilterStats) -> dict[str, int]:
    """What the language step found in every document it saw, before anything was dropped."""
    language = stats.steps.get("language")
    counts = language.counts if language is not None else Counter()
    found = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("detected:")}
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


def _dedup(clusters: ClusterStats, largest: int) -> dict[str, Any]:
    sizes = clusters.cluster_sizes
    return {
        "exact_duplicates": clusters.exact_duplicates,
        "near_duplicates": clusters.near_duplicates,
        "duplicates_of_earlier_batches": clusters.duplicates_of_index,
        "clusters": clusters.clusters,
        # power-of-two buckets: "2", "3-4", "5-8", ...
        "cluster_sizes": dict(sorted(sizes.items(), key=lambda kv: int(kv[0].split("-")[0]))),
        "largest_cluster": largest,
    }


def _tokens(tokenize: TokenizeStats, manifest: dict[str, Any] | None) -> dict[str, Any]:
    splits = (manifest or {}).get("splits", {})
    return {
        "tokens": tokenize.tokens,
        "documents": tokenize.documents,
        "text_bytes": tokenize.text_bytes,
        # as the tokenize stage counts it: one end-of-text id per document is not text
        "bytes_per_token": tokenize.bytes_per_token,
        "splits": {
            name: {k: split.get(k) for k in ("documents", "tokens", "rows")}
            for name, split in splits.items()
        },
        "seq_len": (manifest or {}).get("seq_len"),
        "vocab_size": (manifest or {}).get("tokenizer", {}).get("vocab_size"),
        "tokens_per_document": dict(
            sorted(tokenize.tokens_per_document.items(), key=lambda kv: int(kv[0]))
        ),
        "tokens_per_language": _per_language(tokenize),
    }


def _per_language(tokenize: TokenizeStats) -> dict[str, int]:
    """Tokens per language; those of batches tokenized before languages were counted show as
    "not counted", so that the shares still add up."""
    counts = dict(tokenize.tokens_per_language.most_common())
    missing = tokenize.tokens - sum(counts.values())
    if counts and missing > 0:
        counts["not counted"] = missing
    return counts


def format_report_line(data: dict[str, Any], path: Path) -> str:
    """The command's one line on a written report."""
    kept = kept_row(data)
    return (
        f"report -> {path}: {kept.get('documents_out', 0):,} documents, "
        f"{data['tokens']['tokens']:,} tokens, {len(data['rejections'])} rejection reasons"
    )
