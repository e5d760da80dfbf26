"""The report's charts as PNG bytes (matplotlib, no display), one function per chart.

Each returns None when there is nothing to draw, so the page leaves the chart out rather than
showing an empty frame.
"""

from __future__ import annotations

import io
from typing import Any

STAGE_COLORS = {"extract": "#4C72B0", "filter": "#DD8452", "dedup": "#55A868"}
MAX_BARS = 20


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: reports are made by cron on servers
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    plt = _pyplot()
    figure.tight_layout()
    buffer = io.BytesIO()
    # no timestamps or software tags in the file: the same report data gives the same bytes
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def funnel_chart(funnel: list[dict[str, Any]]) -> bytes | None:
    """Documents and text bytes left after each stage."""
    stages = [row for row in funnel if row["stage"] != "input files"]
    if not stages:
        return None
    plt = _pyplot()
    figure, (docs, sizes) = plt.subplots(1, 2, figsize=(9, 2.8))
    names = [row["stage"] for row in stages]
    docs.barh(names, [row["documents_out"] for row in stages], color="#4C72B0")
    docs.set_title("documents out")
    docs.invert_yaxis()
    with_bytes = [row for row in stages if row["bytes_out"] is not None]
    if with_bytes:
        sizes.barh(
            [row["stage"] for row in with_bytes],
            [row["bytes_out"] / 1e6 for row in with_bytes],
            color="#55A868",
        )
        sizes.invert_yaxis()
    sizes.set_title("text out (MB)")
    for axis in (docs, sizes):
        axis.grid(axis="x", alpha=0.3)
    return _png(figure)


def rejections_chart(rejections: list[dict[str, Any]]) -> bytes | None:
    """Documents rejected per reason, coloured by stage, the largest first."""
    rows = rejections[:MAX_BARS]
    if not rows:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 0.9 + 0.3 * len(rows)))
    labels = [f"{row['stage']}: {row['reason']}" for row in rows]
    colors = [STAGE_COLORS.get(row["stage"], "gray") for row in rows]
    axis.barh(labels, [row["documents"] for row in rows], color=colors)
    axis.invert_yaxis()
    axis.set_xlabel("documents rejected")
    axis.grid(axis="x", alpha=0.3)
    return _png(figure)


def languages_chart(detected: dict[str, int], kept: dict[str, int]) -> bytes | None:
    """Documents per language as found by the language step, and in the finished corpus."""
    codes = list(detected) or list(kept)
    codes = codes[:MAX_BARS]
    if not codes:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 3))
    positions = range(len(codes))
    width = 0.4
    axis.bar(
        [p - width / 2 for p in positions],
        [detected.get(c, 0) for c in codes],
        width,
        label="detected (filter input)",
        color="#8172B3",
    )
    axis.bar(
        [p + width / 2 for p in positions],
        [kept.get(c, 0) for c in codes],
        width,
        label="kept (corpus)",
        color="#55A868",
    )
    axis.set_xticks(list(positions), codes)
    axis.set_yscale("log")
    axis.set_ylabel("documents")
    axis.legend()
    axis.grid(axis="y", alpha=0.3)
    return _png(figure)


def tokens_per_document_chart(buckets: dict[str, int]) -> bytes | None:
    """Document lengths in tokens, in power-of-two buckets."""
    if not buckets:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 2.8))
    ordered = sorted(buckets.items(), key=lambda kv: int(kv[0]))
    labels = [f"{int(k):,}-{2 * int(k) - 1:,}" for k, _ in ordered]
    positions = range(len(labels))
    axis.bar(positions, [v for _, v in ordered], color="#4C72B0")
    axis.set_xticks(list(positions), labels)
    axis.set_xlabel("tokens per document")
    axis.set_ylabel("documents")
    axis.tick_params(axis="x", labelrotation=30)
    axis.grid(axis="y", alpha=0.3)
    return _png(figure)


def growth_chart(batches: list[dict[str, Any]]) -> bytes | None:
    """Tokens in the corpus after each batch (one batch per version)."""
    if len(batches) < 2:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 2.8))
    total, totals = 0, []
    for batch in batches:
        total += batch.get("tokens", 0)
        totals.append(total)
    axis.step(range(1, len(totals) + 1), totals, where="mid", marker="o")
    axis.xaxis.get_major_locator().set_params(integer=True)  # versions are whole numbers
    axis.set_xlabel("version")
    axis.set_ylabel("tokens in the corpus")
    axis.grid(alpha=0.3)
    return _png(figure)
