"""What the report reads from the datasets themselves, beyond the stats: example documents of
every rejection reason, near-duplicate pairs, and documents and text per site.

These cost one read of each stage's rejected shards and of the final stage's kept shards
(their url, source, text and reason columns, one shard at a time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from llm_pretrain.pipeline.dataset import read_manifest

EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 400
NEAR_DUPLICATE_PAIRS = 5
SITES_SHOWN = 25


@dataclass(frozen=True)
class StageFolder:
    """One stage's dataset of one batch, as the report walks it."""

    stage: str
    folder: Path
    corpus: Path  # links in the report are relative to it


def reason_key(stage: str, reason: str) -> str:
    """The key the stats count a reason by: dedup's reasons carry the survivor's id."""
    return reason.split(":", 1)[0] if stage == "dedup" else reason


def site_of(url: str | None, source: str | None) -> str:
    """A document's site: its URL's host, or `file:` and the input's folder for files."""
    if url:
        try:
            host = urlsplit(url).hostname
        except ValueError:  # "http://[bad/page": WARCs hold such URLs as they were crawled
            host = None
        if host:
            return host.removeprefix("www.")
    if source:
        return f"file:{Path(source).parent.name or Path(source).name}"
    return "unknown"


def _shards(folder: Path, rejected: bool) -> list[Path]:
    """The shards the manifest lists (missing ones too: reading them is what tells)."""
    manifest = read_manifest(folder) or {}
    entries = manifest.get("rejected_shards" if rejected else "shards", [])
    return [folder / entry["file"] for entry in entries]


def _columns(path: Path, wanted: Iterable[str]) -> list[str]:
    names = pq.ParquetFile(path).schema_arrow.names
    return [name for name in wanted if name in names]


@dataclass
class SiteCounts:
    kept: int = 0
    kept_bytes: int = 0
    rejected: int = 0
    rejected_bytes: int = 0


@dataclass
class Samples:
    """What the passes over the shards found."""

    examples: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    sites: dict[str, SiteCounts] = field(default_factory=lambda: defaultdict(SiteCounts))
    unreadable: list[str] = field(default_factory=list)  # "shard: error" of shards left out

    def to_json(self) -> dict[str, Any]:
        ranked = sorted(self.sites.items(), key=lambda kv: (-(kv[1].kept + kv[1].rejected), kv[0]))
        shown = [{"site": site, **vars(counts)} for site, counts in ranked[:SITES_SHOWN]]
        rest = SiteCounts()
        for _, counts in ranked[SITES_SHOWN:]:
            for name in vars(rest):
                setattr(rest, name, getattr(rest, name) + getattr(counts, name))
        return {
            "rejection_examples": [
                {"stage": stage, "reason": reason, "examples": rows}
                for (stage, reason), rows in self.examples.items()
            ],
            "near_duplicate_pairs": self.pairs,
            "sites": shown,
            "other_sites": {"sites": max(0, len(ranked) - SITES_SHOWN), **vars(rest)},
            "unreadable_shards": self.unreadable,
        }


def collect_samples(folders: list[StageFolder], final_stage: str | None) -> Samples:
    """Examples of every rejection reason (the first ones found), near-duplicate pairs, and
    per site the documents the corpus keeps (`final_stage`'s output) and those any stage
    rejected."""
    samples = Samples()
    for item in folders:
        for path in _shards(item.folder, rejected=True):
            _guarded(samples, item, path, lambda p=path, i=item: _rejected_shard(samples, i, p))
        if item.stage == final_stage:
            for path in _shards(item.folder, rejected=False):
                _guarded(samples, item, path, lambda p=path: _kept_shard(samples, p))
    return samples


def _guarded(samples: Samples, item: StageFolder, path: Path, read: Any) -> None:
    """Read one shard; a missing or damaged one is listed, not fatal (the counts come from the
    stats: only its examples and sites are missing)."""
    try:
        read()
    except (OSError, pa.ArrowException) as exc:
        samples.unreadable.append(f"{_link(item, path)}: {str(exc).splitlines()[0][:200]}")


def _kept_shard(samples: Samples, path: Path) -> None:
    table = pq.read_table(path, columns=_columns(path, ("url", "source", "text")))
    for site, size in _sites(table):
        samples.sites[site].kept += 1
        samples.sites[site].kept_bytes += size


def _sites(table: pa.Table) -> Iterator[tuple[str, int]]:
    """Each row's site and text bytes."""
    count = len(table)
    sizes = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
    urls = table.column("url").to_pylist() if "url" in table.column_names else [None] * count
    names = table.column_names
    sources = table.column("source").to_pylist() if "source" in names else [None] * count
    for url, source, size in zip(urls, sources, np.nan_to_num(sizes).tolist(), strict=True):
        yield site_of(url, source), int(size)


def _rejected_shard(samples: Samples, item: StageFolder, path: Path) -> None:
    """One read of the shard: its sites, and the rows it gives as examples and pairs."""
    wanted_columns = ("id", "url", "source", "text", "reason", "similarity")
    table = pq.read_table(path, columns=_columns(path, wanted_columns))
    for site, size in _sites(table):
        samples.sites[site].rejected += 1
        samples.sites[site].rejected_bytes += size
    reasons = table.column("reason").to_pylist()
    wanted: dict[int, tuple[str, str]] = {}
    taken: dict[tuple[str, str], int] = {}
    for row, reason in enumerate(reasons):
        key = (item.stage, reason_key(item.stage, reason))
        have = taken.get(key, len(samples.examples.setdefault(key, [])))
        if have < EXAMPLES_PER_REASON:
            wanted[row], taken[key] = key, have + 1
    near = [
        row
        for row, reason in enumerate(reasons)
        if item.stage == "dedup" and reason.startswith("near_duplicate_of:")
    ][: max(0, NEAR_DUPLICATE_PAIRS - len(samples.pairs))]
    rows_needed = sorted(set(wanted) | set(near))
    if not rows_needed:
        return
    by_row = dict(zip(rows_needed, table.take(rows_needed).to_pylist(), strict=True))
    link = _link(item, path)
    for row in sorted(wanted):
        samples.examples[wanted[row]].append(_example(by_row[row], link, row))
    for row in near:
        record = by_row[row]
        survivor_id = record["reason"].split(":", 1)[1]
        samples.pairs.append(
            {
                "similarity": record.get("similarity"),
                "removed": _example(record, link, row),
                "kept": _find(item, survivor_id),
            }
        )


def _example(record: dict[str, Any], shard: str, row: int) -> dict[str, Any]:
    text = record.get("text") or ""
    return {
        "id": record.get("id"),
        "url": record.get("url"),
        "text": text[:EXAMPLE_CHARS],
        "truncated": len(text) > EXAMPLE_CHARS,
        "shard": shard,
        "row": row,
    }


def _link(item: StageFolder, path: Path) -> str:
    """A shard's path as the report names it: relative to the corpus folder."""
    return str(path.relative_to(item.corpus)) if path.is_relative_to(item.corpus) else str(path)


def _find(item: StageFolder, document_id: str) -> dict[str, Any] | None:
    """The kept document `document_id` of this batch's output (None: an earlier batch's)."""
    for path in _shards(item.folder, rejected=False):
        try:
            table = pq.read_table(path, columns=_columns(path, ("id", "url", "text")))
        except (OSError, pa.ArrowException):
            continue  # listed as unreadable by the pass over the kept shards
        hits = np.flatnonzero(pc.equal(table.column("id"), document_id).to_numpy(False))
        if len(hits):
            row = int(hits[0])
            return _example(table.slice(row, 1).to_pylist()[0], _link(item, path), row)
    return None
