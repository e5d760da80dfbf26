"""The ablations of a corpus in its report: each `llm-train ablate` folder under
CORPUS/ablations/ (or given with --ablation) as its bits-per-byte table and its chart, so the
page that says what each filter removed also says whether removing it trained a better model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_pretrain.errors import DamagedFile, StageError
from llm_pretrain.storage import read_json

ABLATIONS = "ablations"  # CORPUS/ablations/NAME/: where the report looks for them
RESULTS = "results.json"
CHART = "ablation.png"


def find_ablations(corpus: Path, given: list[Path]) -> list[Path]:
    """The ablation folders to show: those given, then those under CORPUS/ablations/."""
    for folder in given:
        if not (folder / RESULTS).is_file():
            raise StageError(f"--ablation {folder} holds no {RESULTS} (of a finished ablation)")
    found = sorted(path.parent for path in (corpus / ABLATIONS).glob(f"*/{RESULTS}"))
    return list(dict.fromkeys([*given, *found]))


def _number(value: Any) -> float | None:
    """A figure of results.json: a number, or None where it has none (never a string)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise ValueError(f"{value!r} is not a number")


def ablation_summaries(corpus: Path, given: list[Path]) -> list[dict[str, Any]]:
    """The ablations the report shows. One given with --ablation must be readable; one found
    under CORPUS/ablations/ that is not is shown as such, and the rest of the report stands."""
    summaries = []
    for folder in find_ablations(corpus, given):
        try:
            summaries.append(ablation_summary(folder))
        except (DamagedFile, OSError) as exc:
            if folder in given:
                raise
            summaries.append({"path": str(folder), "error": str(exc)})
    return summaries


def ablation_summary(folder: Path) -> dict[str, Any]:
    """What the report shows of one ablation: per variant its tokens, epochs and bits per byte
    on every eval set (mean and spread), the best per eval set, and the chart's path."""
    try:
        results = read_json(folder / RESULTS)
        variants = {
            name: {
                "tokens": variant["tokens"],
                "epochs": variant["epochs"],
                "eval": {
                    where: {"bpb": cell["bpb"], "bpb_std": cell["bpb_std"]}
                    for where, cell in variant["eval"].items()
                },
            }
            for name, variant in results["variants"].items()
        }
        best = {where: c["best"] for where, c in results["comparison"]["eval"].items()}
        beyond = {
            where: [v for v, d in c["differences"].items() if d["beyond_spread"]]
            for where, c in results["comparison"]["eval"].items()
        }
        for variant in variants.values():
            for cell in variant["eval"].values():
                cell["bpb"] = _number(cell["bpb"])
                cell["bpb_std"] = _number(cell["bpb_std"])
            variant["epochs"] = _number(variant["epochs"])
        summary = {
            "path": str(folder),
            "tokens_per_run": results["tokens_per_run"],
            "seeds": len(results["seeds"]),
            "variants": variants,
            "best": best,
            "beyond_spread": beyond,
        }
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise DamagedFile(f"{folder / RESULTS} is not an ablation's results ({exc!r})") from None
    chart = folder / CHART
    summary["chart"] = str(chart) if chart.is_file() else None
    return summary
