"""An ablation's numbers: per variant, its data, and its models' bits per byte on every eval
set and every variant's validation split, as a mean and a spread over seeds; which differences
exceed the spread; results.json and the table the command prints."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_pretrain.storage import read_json

if TYPE_CHECKING:
    from llm_pretrain.ablate.run import AblationSettings, Variant


def spread(values: list[float]) -> float:
    """The sample standard deviation over seeds (0 with one seed: no spread is known)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def cell(evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    """One eval set's numbers over the seeds of one variant."""
    bpbs = [e["bpb"] for e in evaluations if e.get("bpb") is not None]
    losses = [e["loss"] for e in evaluations]
    return {
        "bpb": statistics.fmean(bpbs) if bpbs else None,
        "bpb_std": spread(bpbs) if bpbs else None,
        "bpb_seeds": bpbs,
        "loss": statistics.fmean(losses),
        "loss_seeds": losses,
        "tokens": evaluations[0]["tokens"],
        "text_bytes": evaluations[0]["text_bytes"],
    }


def compare(variants: dict[str, Any], kind: str, seeds: int) -> dict[str, Any]:
    """Per eval set: the best variant (lowest mean bits per byte) and each other's distance to
    it, marked `beyond_spread` when it exceeds the two standard deviations added (never with
    one seed, which has no spread), with the distance seed by seed."""
    found: dict[str, Any] = {}
    names = sorted({e for v in variants.values() for e in v[kind]})
    for name in names:
        cells = {v: variants[v][kind][name] for v in variants if name in variants[v][kind]}
        cells = {v: c for v, c in cells.items() if c["bpb"] is not None}
        if not cells:
            continue
        best = min(cells, key=lambda v: cells[v]["bpb"])
        differences = {}
        for variant, numbers in cells.items():
            delta = numbers["bpb"] - cells[best]["bpb"]
            limit = numbers["bpb_std"] + cells[best]["bpb_std"]
            # Seed s starts every variant from the same weights: the per-seed differences
            # show the gap without the spread the seeds share.
            paired = [
                mine - theirs
                for mine, theirs in zip(numbers["bpb_seeds"], cells[best]["bpb_seeds"], strict=True)
            ]
            differences[variant] = {
                "bpb": delta,
                "beyond_spread": seeds > 1 and variant != best and delta > limit,
                "seed_differences": paired,
            }
        found[name] = {"best": best, "differences": differences}
    return found


def collect_results(
    settings: AblationSettings,
    plan: dict[str, Any],
    variants: list[Variant],
    token_dirs: dict[str, Path],
    records: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """results.json: the plan's settings, and per variant its data, curves and evaluations."""
    budget = plan["tokens_per_run"]
    table: dict[str, Any] = {}
    for variant in variants:
        runs = records[variant.name]
        splits = read_json(token_dirs[variant.name] / "_manifest.json")["splits"]
        train_tokens = splits["train"]["tokens"]
        evals = [run["evaluation"]["eval"] for run in runs]
        vals = [run["evaluation"]["val"] for run in runs]
        table[variant.name] = {
            "path": str(variant.spec.path),
            "lifted": list(variant.lifted) if variant.lifted is not None else None,
            "documents": {"train": splits["train"]["documents"], "val": splits["val"]["documents"]},
            "tokens": train_tokens,
            "val_tokens": splits["val"]["tokens"],
            "epochs": budget / train_tokens if train_tokens else None,
            "eval_overlap_removed": dict(variant.overlap) if settings.remove_overlap else {},
            "eval": {e.name: cell([run[e.name] for run in evals]) for e in settings.evals},
            "val": {
                v.name: cell([run[v.name] for run in vals]) for v in variants if v.name in vals[0]
            },
            "wall_s": round(sum(run["summary"].get("elapsed_s") or 0 for run in runs), 1),
            "runs": [run["run"] for run in runs],
            "curves": [{"seed": run["seed"], "points": run["curve"]} for run in runs],
        }
    first = records[variants[0].name][0]["summary"]
    tokenizer = settings.tokenizer or settings.out / "tokenizer"
    return {
        "fingerprint": plan["fingerprint"],
        "tokens_per_run": budget,
        "steps": settings.steps(),
        "seeds": [settings.run_config(seed).seed for seed in range(settings.seeds)],
        "parameters": first.get("parameters"),
        "seq_len": settings.row_len,
        "tokenizer": str(tokenizer),
        "evals": {
            name: {"path": e["path"], "documents": e["documents"]}
            for name, e in plan["evals"].items()
        },
        "variants": table,
        "comparison": {
            "eval": compare(table, "eval", settings.seeds),
            "val": compare(table, "val", settings.seeds),
        },
        "wall_s": round(sum(v["wall_s"] for v in table.values()), 1),
    }


def _number(value: float | None, std: float | None, seeds: int) -> str:
    if value is None:
        return "-"
    return f"{value:.4f} ± {std:.4f}" if seeds > 1 else f"{value:.4f}"


def _matrix(results: dict[str, Any], kind: str, title: str) -> list[str]:
    variants = results["variants"]
    columns = list(dict.fromkeys(c for v in variants.values() for c in v[kind]))
    if not columns:
        return []
    seeds = len(results["seeds"])
    comparison = results["comparison"][kind]
    width = max(len(name) for name in variants) + 2
    cell_width = max(17 if seeds > 1 else 8, *(len(c) + 2 for c in columns)) + 2
    lines = ["", title, " " * width + "".join(c.rjust(cell_width - 2) + "  " for c in columns)]
    for name, variant in variants.items():
        row = name.ljust(width)
        for column in columns:
            numbers = variant[kind].get(column)
            text = _number(numbers["bpb"], numbers["bpb_std"], seeds) if numbers else "-"
            verdict = comparison.get(column, {})
            mark = "  "
            if verdict.get("best") == name:
                mark = " <"
            elif verdict.get("differences", {}).get(name, {}).get("beyond_spread"):
                mark = " *"
            row += text.rjust(cell_width - 2) + mark
        lines.append(row)
    return lines


def format_results(results: dict[str, Any], out: Path) -> str:
    """The command's table: the variants' data, then bits per byte on the eval sets and on
    every variant's validation split."""
    seeds = len(results["seeds"])
    variants = results["variants"]
    parameters = results.get("parameters") or 0
    width = max(14, *(len(name) + 2 for name in variants))
    lines = [
        f"ablate -> {out}: {len(variants)} variants x {seeds} seed{'s' * (seeds > 1)}, "
        f"{results['tokens_per_run']:,} tokens per run ({results['steps']:,} steps, "
        f"{parameters / 1e6:,.1f}M-parameter model, rows of {results['seq_len']} tokens)",
        "",
        f"{'variant':<{width}}{'documents':>11}{'tokens':>13}{'epochs':>8}{'removed':>9}"
        f"{'wall':>9}",
    ]
    for name, variant in variants.items():
        removed = sum(variant["eval_overlap_removed"].values())
        epochs = f"{variant['epochs']:.2f}" if variant["epochs"] is not None else "-"
        lines.append(
            f"{name:<{width}}{variant['documents']['train']:>11,}{variant['tokens']:>13,}"
            f"{epochs:>8}{removed:>9,}{variant['wall_s']:>8.0f}s"
        )
    how = f"mean ± std over {seeds} seeds" if seeds > 1 else "one seed: no spread"
    lines += _matrix(results, "eval", f"bits per byte on the eval sets ({how})")
    lines += _matrix(results, "val", "bits per byte on each variant's validation split")
    lines += [
        "",
        "< lowest in its column"
        + ("; * higher than it by more than the two spreads added" if seeds > 1 else ""),
        f"results.json, ablation.png in {out}",
    ]
    return "\n".join(lines)
