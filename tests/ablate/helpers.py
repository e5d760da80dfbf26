"""What the ablation tests compare of two results.json."""

from __future__ import annotations


def bpb_figures(results: dict) -> dict:
    """Every bits-per-byte figure of a results.json, by variant, set and seed."""
    return {
        (name, kind, where): tuple(cell["bpb_seeds"])
        for name, variant in results["variants"].items()
        for kind in ("eval", "val")
        for where, cell in variant[kind].items()
    }
