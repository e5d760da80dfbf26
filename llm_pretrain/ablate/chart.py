"""ablation.png: each variant's validation bits per byte against tokens trained (its own
held-out split, mean over seeds), and a bar chart of bits per byte on every eval set with the
spread over seeds as error bars."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from llm_pretrain.ablate.spec import AblationError
from llm_pretrain.pipeline.outputs import written_by_us
from llm_pretrain.storage import atomic_path

SOFTWARE = "llm-pretrain ablate"  # in the PNG's metadata; an existing file without it is kept


def _mean_curve(curves: list[dict[str, Any]]) -> tuple[list[int], list[float]]:
    """Validation bits per byte by tokens, averaged over the seeds that have each point."""
    points: dict[int, list[float]] = {}
    for curve in curves:
        for point in curve["points"]:
            if point.get("val_bpb") is not None:
                points.setdefault(point["tokens"], []).append(point["val_bpb"])
    tokens = sorted(points)
    return tokens, [statistics.fmean(points[t]) for t in tokens]


def write_chart(results: dict[str, Any], output: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    if not written_by_us(output, SOFTWARE.encode()):
        raise AblationError(f"{output} exists and was not written by llm-train ablate")
    variants = results["variants"]
    evals = sorted({e for v in variants.values() for e in v["eval"]})
    figure, (curves, bars) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, variant in variants.items():
        tokens, bpb = _mean_curve(variant["curves"])
        if tokens:
            curves.plot(tokens, bpb, "o-", ms=3, label=name)
    curves.set_xlabel("tokens trained")
    curves.set_ylabel("bits per byte (own validation split)")
    curves.set_title("validation during training")
    curves.grid(alpha=0.3)
    curves.legend()
    width = 0.8 / max(1, len(variants))
    for i, (name, variant) in enumerate(variants.items()):
        heights = [(variant["eval"].get(e) or {}).get("bpb") or 0.0 for e in evals]
        errors = [(variant["eval"].get(e) or {}).get("bpb_std") or 0.0 for e in evals]
        positions = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(evals))]
        bars.bar(positions, heights, width, yerr=errors, capsize=3, label=name)
    bars.set_xticks(range(len(evals)), evals)
    bars.set_ylabel("bits per byte")
    seeds = len(results["seeds"])
    bars.set_title(f"eval sets ({seeds} seed{'s' * (seeds > 1)})")
    cells = [c for v in variants.values() for c in v["eval"].values() if c["bpb"]]
    if cells:  # the bars' tops and their error bars, not the axis from 0
        low = min(c["bpb"] - (c["bpb_std"] or 0) for c in cells)
        high = max(c["bpb"] + (c["bpb_std"] or 0) for c in cells)
        margin = max(high - low, 0.01) * 0.2
        bars.set_ylim(low - margin, high + margin)
    bars.grid(alpha=0.3, axis="y")
    bars.legend()
    figure.tight_layout()
    with atomic_path(output) as tmp:
        figure.savefig(tmp, format="png", dpi=110, metadata={"Software": SOFTWARE})
    plt.close(figure)
    return output
