"""The readable end-of-run summary (standard output) and its JSON twin (`--json`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_pretrain.pipeline.documents import for_console
from llm_pretrain.pipeline.runner import RunSummary
from llm_pretrain.pipeline.stats import ExtractStats, FilterStats, StepCounts


def _table(title: str, counts: dict[str, int]) -> list[str]:
    if not counts:
        return []
    width = max(len(title), *(len(key) for key in counts))
    lines = [f"  {title:<{width}}  {'count':>10}"]
    for key, value in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {key:<{width}}  {value:>10,}")
    return lines


def _step_table(steps: dict[str, StepCounts], order: list[str]) -> list[str]:
    """Filter steps in pipeline order: documents seen, rejected, and skipped as not applicable."""
    if not steps:
        return []
    steps = {name: steps[name] for name in order if name in steps}
    width = max(len("step"), *(len(name) for name in steps))
    lines = [f"  {'step':<{width}}  {'seen':>10}  {'rejected':>10}  {'n/a':>8}"]
    for name, step in steps.items():
        lines.append(
            f"  {name:<{width}}  {step.seen:>10,}  {step.rejected:>10,}  {step.not_applicable:>8,}"
        )
    for name, step in steps.items():  # the steps' own counters: masks, detected languages
        counts = sorted(step.counts.items(), key=lambda item: (-item[1], item[0]))
        if counts:
            shown = ", ".join(f"{key} {value:,}" for key, value in counts[:6])
            lines.append(f"  {name}: {shown}" + (", ..." if len(counts) > 6 else ""))
    return [*lines, ""]


def _dedup_lines(dedup: dict[str, Any], apply_seconds: float) -> list[str]:
    """What dedup found, how long each phase took and the memory it used."""
    if not dedup:
        return []
    sizes = ", ".join(f"{k}: {v:,}" for k, v in dedup.get("cluster_sizes", {}).items())
    sizes = f"  (by size {sizes})" if sizes else ""
    memory = dedup.get("peak_rss_mb", {})
    lines = [
        f"  exact duplicates    {dedup.get('exact_duplicates', 0):>10,}",
        f"  near duplicates     {dedup.get('near_duplicates', 0):>10,}",
        f"  of the index's      {dedup.get('duplicates_of_index', 0):>10,}"
        f"  (index: {dedup.get('index_documents', 0):,} documents)",
        f"  clusters            {dedup.get('clusters', 0):>10,}{sizes}",
    ]
    if "candidate_pairs" in dedup:
        lines.append(
            f"  LSH candidate pairs {dedup['candidate_pairs']:>10,}"
            f"  ({dedup['verified_pairs']:,} at or above the threshold)"
        )
    lines.append(
        f"  phases: signatures {dedup.get('seconds_signatures', 0):,.1f} s "
        f"({dedup.get('signatures_docs_per_s', 0):,.0f} docs/s), global step "
        f"{dedup.get('seconds_global_step', 0):,.1f} s, apply {apply_seconds:,.1f} s; "
        f"peak memory: global step "
        f"{memory.get('global_step', 0):,.0f} MB, largest worker "
        f"{memory.get('largest_worker', 0):,.0f} MB"
    )
    return [*lines, ""]


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def format_summary(summary: RunSummary, output: Path) -> str:
    manifest, stats = summary.manifest, summary.stats
    # Every document stage's stats read as extract's and filter's: what a stage does not count
    # reads as empty.
    counted, steps = ExtractStats.from_json(stats), FilterStats.from_json(stats).steps
    counts = manifest["counts"]
    seen = counts["documents"] + counts["rejected"]
    wall = stats.get("wall_seconds") or 0.0
    if summary.up_to_date:
        head = f"{manifest['stage']} -> {output}: up to date, nothing to do"
    else:
        rate = f", {seen / wall:,.1f} docs/s" if wall else ""
        head = (
            f"{manifest['stage']} -> {output}: {summary.tasks_run} of {stats['tasks']} tasks run "
            f"in {wall:,.1f} s{rate}"
        )
    formats = ", ".join(f"{k} {v:,}" for k, v in sorted(counted.formats.items()))
    lines = [
        head,
        f"  documents kept      {counts['documents']:>10,}" + (f"  ({formats})" if formats else ""),
        f"  documents rejected  {counts['rejected']:>10,}",
        f"  records skipped     {sum(counted.skipped.values()):>10,}",
        f"  input errors        {len(counted.input_errors):>10,}",
        f"  output shards       {len(manifest['shards']):>10,}  ({_megabytes(manifest['bytes'])})",
        "",
    ]
    lines += _step_table(steps, manifest["config"].get("steps", []))
    lines += _dedup_lines(stats.get("dedup", {}), stats.get("task_seconds", 0.0))
    lines += _table("rejected: reason", dict(counted.rejected))
    lines += _table("skipped: reason", dict(counted.skipped))
    for error in counted.input_errors[:10]:
        path = for_console(error["path"], lines=False)  # a name may hold a newline
        lines.append(f"  input error: {path}: {error['error'].splitlines()[0]}")
    unsupported = [for_console(path, lines=False) for path in stats.get("unsupported_files", [])]
    if unsupported:
        shown = ", ".join(unsupported[:5]) + (" ..." if len(unsupported) > 5 else "")
        lines.append(f"  not read (unsupported file type): {len(unsupported)}: {shown}")
    return for_console("\n".join(lines).rstrip()) + "\n"


def summary_json(summary: RunSummary, output: Path) -> dict[str, Any]:
    return {
        "output": str(output),
        "up_to_date": summary.up_to_date,
        "tasks_run": summary.tasks_run,
        "counts": summary.manifest["counts"],
        "shards": _shard_count(summary.manifest),
        "bytes": summary.manifest["bytes"],
        "stats": summary.stats,
    }


def _shard_count(manifest: dict[str, Any]) -> int:
    if "splits" in manifest:  # token shards, per split
        return sum(len(split["shards"]) for split in manifest["splits"].values())
    return len(manifest["shards"])


def _histogram(buckets: dict[str, int], width: int = 40) -> list[str]:
    """Power-of-two buckets ("256" holds 256 .. 511) as text bars."""
    if not buckets:
        return []
    peak = max(buckets.values())
    lines = []
    for low, count in sorted(buckets.items(), key=lambda item: int(item[0])):
        span = f"{int(low):,}-{2 * int(low) - 1:,}"
        lines.append(f"    {span:>17}  {count:>9,}  {'#' * max(1, round(width * count / peak))}")
    return lines


def format_tokenize_summary(summary: RunSummary, output: Path) -> str:
    manifest, stats = summary.manifest, summary.stats
    tokenizer, splits = manifest["tokenizer"], manifest["splits"]
    train, val = splits["train"], splits["val"]
    seconds = stats["seconds"]
    if summary.up_to_date:
        head = f"tokenize -> {output}: up to date, nothing to do"
    else:
        head = f"tokenize -> {output}: {summary.tasks_run} tasks run in {seconds['total']:,.1f} s"
    origin = f"reused {tokenizer['source']}" if tokenizer["source"] else "trained on the input"
    rate = stats.get("encode_mb_per_cpu_second")
    lines = [
        head,
        f"  tokenizer       {tokenizer['vocab_size']:,} tokens, {origin}, "
        f"sha256 {tokenizer['sha256'][:16]}",
        f"  documents       {train['documents']:>12,} train  {val['documents']:>10,} val"
        f"  ({stats['empty_documents']:,} empty, not packed)",
        f"  tokens          {train['tokens']:>12,} train  {val['tokens']:>10,} val"
        f"  ({stats['bytes_per_token']:.2f} bytes of text per token)",
        f"  rows            {train['rows']:>12,} train  {val['rows']:>10,} val"
        f"  (of {manifest['row_len']:,} {tokenizer['dtype']} ids; "
        f"padded: {train['padded_rows'] + val['padded_rows']}, the last of a split)",
        f"  shards          {len(train['shards']):>12,} train  {len(val['shards']):>10,} val"
        f"  ({_megabytes(manifest['bytes'])})",
        f"  time            tokenizer {seconds['tokenizer']:,.1f} s, "
        f"encode {seconds['encode']:,.1f} s"
        + (f" ({rate:,.1f} MB/s per core)" if rate else "")
        + f", pack {seconds['pack']:,.1f} s",
        "  tokens per document",
        *_histogram(stats["tokens_per_document"]),
    ]
    if train["tokens"] and not val["documents"] and manifest["config"]["tokenize"]["val_fraction"]:
        lines.append("  note: no document fell into the validation split; raise val_fraction")
    return for_console("\n".join(lines)) + "\n"
