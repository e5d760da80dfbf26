"""The report as one self-contained HTML page: inline CSS, charts as base64 PNGs, no scripts
and no links to fetch, so it can be mailed, archived or opened on a machine without network."""

from __future__ import annotations

import base64
import os
import posixpath
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from llm_pretrain.corpus import report_plots
from llm_pretrain.corpus.report import kept_row
from llm_pretrain.pipeline.outputs import written_by_us
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.storage import atomic_write_bytes

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
.meta { color: #666; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 8em; }
.card b { display: block; font-size: 1.3em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f6f6f6; }
td:first-child, th:first-child { text-align: left; }
td.text { text-align: left; font-family: monospace; font-size: 0.9em; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
.note { color: #666; font-size: 0.92em; }
pre.example { white-space: pre-wrap; background: #f8f8f8; border: 1px solid #eee; padding: 0.4em;
  font-size: 0.85em; max-height: 12em; overflow: auto; margin: 0.2em 0 0.8em; }
.pair { display: flex; gap: 1em; } .pair > div { flex: 1; min-width: 0; }
"""


GENERATOR = "llm-pretrain report"  # in every page; an existing file without it is not replaced


def write_report(data: dict[str, Any], output: Path) -> Path:
    """Render and write the page atomically (a cron job may publish the file as it is)."""
    # Pages of versions before the generator tag open with this title.
    if not written_by_us(output, GENERATOR.encode(), b"<title>Corpus report: "):
        raise StageError(
            f"{output} exists and was not written by llm-data report; choose another --output"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    # A file name of non-UTF-8 bytes in an input error is escaped, not fatal.
    page = render_html(data, links_from=output.parent)
    atomic_write_bytes(output, page.encode("utf-8", "backslashreplace"))
    return output


def render_html(data: dict[str, Any], links_from: Path | None = None) -> str:
    """The page; links to shards work from `links_from` (the folder the page is written to;
    None: the corpus folder)."""
    prefix = os.path.relpath(data["corpus"], links_from) if links_from is not None else "."
    sections = [
        _header(data),
        _funnel(data),
        _rejections(data),
        _rejection_examples(data, prefix),
        _filter_steps(data),
        _settings(data),
        _sites(data),
        _languages(data),
        _dedup(data, prefix),
        _tokens(data),
        _batches(data),
        _extraction(data),
        _ablations(data),
    ]
    title = f"Corpus report: {data['corpus']}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='generator' content='{GENERATOR}'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(section for section in sections if section)
        + "\n</body></html>\n"
    )


def _number(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def _size(value: int | None) -> str:
    if value is None:
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:,.1f} {unit}"
    return f"{value:,} B"


def _share(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return "—"
    return f"{100 * part / whole:.1f}%"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], text_columns: int = 1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            css = " class='text'" if 0 < index < text_columns else ""
            cells.append(f"<td{css}>{escape(str(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return "<p class='note'>none</p>"
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _chart(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    encoded = base64.b64encode(png).decode("ascii")
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{encoded}'>"


def _header(data: dict[str, Any]) -> str:
    tokens, kept = data["tokens"], kept_row(data)
    if data["layout"] == "refresh":
        what = f"version {data['version']}, committed {data['committed_at']}"
    else:
        what = "output of a chained llm-data run"
    cards = [
        ("documents", _number(kept.get("documents_out"))),
        ("text", _size(kept.get("bytes_out"))),
        ("tokens", _number(tokens["tokens"])),
        ("batches", _number(len(data["batches"]))),
    ]
    cards_html = "".join(f"<div class='card'><b>{escape(v)}</b>{escape(k)}</div>" for k, v in cards)
    return (
        f"<h1>Corpus report</h1><p class='meta'>{escape(data['corpus'])}: {escape(what)}; "
        f"report made {escape(data['generated_at'])}</p><div class='cards'>{cards_html}</div>"
    )


def _funnel(data: dict[str, Any]) -> str:
    rows = []
    for row in data["funnel"]:
        if row["stage"] == "input files":
            rows.append(
                (
                    "input files",
                    "—",
                    _number(row["documents_out"]),
                    "—",
                    "—",
                    _size(row["bytes_out"]),
                    "—",
                    "—",
                    "—",
                )
            )
            continue
        changed = None
        if None not in (row["bytes_in"], row["bytes_out"]) and row["stage"] != "extract":
            changed = row["bytes_in"] - row["bytes_out"] - row["rejected_bytes"]
        out = _number(row["documents_out"])
        if row["stage"] == "tokenize":
            out += f" ({_number(row['tokens'])} tokens)"
        extract = row["stage"] == "extract"
        docs_in = _number(row["documents_in"]) + (" files" if extract else "")
        rows.append(
            (
                row["stage"],
                docs_in,
                out,
                "—" if extract else _share(row["documents_out"], row["documents_in"]),
                _size(row["bytes_in"]) if row["stage"] != "extract" else "—",
                _size(row["bytes_out"]),
                _number(row["rejected"]),
                _size(row["rejected_bytes"]) if row["bytes_out"] is not None else "—",
                _size(changed) if changed is not None else "—",
            )
        )
    header = (
        "stage",
        "documents in",
        "documents out",
        "kept",
        "text in",
        "text out",
        "rejected",
        "rejected text",
        "text removed in kept documents",
    )
    note = (
        "<p class='note'>Extract turns input files (raw bytes) into documents (UTF-8 text); "
        "one file may hold many documents. The last column is text the stage cut from "
        "documents it kept: lines dropped by line filters, PII replaced by placeholders. "
        "— means the stage recorded no byte counts (datasets written before they were "
        "counted).</p>"
    )
    chart = _chart(report_plots.funnel_chart(data["funnel"]), "documents and text per stage")
    return "<h2>Funnel</h2>" + _table(header, rows) + note + chart


def _rejections(data: dict[str, Any]) -> str:
    rows = [
        (r["stage"], r["reason"], _number(r["documents"]), _size(r["bytes"]))
        for r in data["rejections"]
    ]
    table = _table(("stage", "reason", "documents", "text"), rows, text_columns=2)
    chart = _chart(report_plots.rejections_chart(data["rejections"]), "rejections per reason")
    return "<h2>Rejections by stage and rule</h2>" + table + chart


def _filter_steps(data: dict[str, Any]) -> str:
    steps = data["filter_steps"]
    if not steps:
        return ""
    rows = []
    for step in steps:
        rows.append(
            (
                step["step"],
                "",
                _number(step["seen"]),
                _number(step["seen"] - step["rejected"]),
                _number(step["rejected"]),
                "",
            )
        )
        for rule in step["rules"]:
            rows.append(
                ("", rule["rule"], "", "", _number(rule["documents"]), _size(rule["bytes"]))
            )
    header = ("step", "rule", "documents in", "documents out", "rejected", "rejected text")
    counters = [
        (step["step"], name, _number(value))
        for step in steps
        for name, value in sorted(step["counts"].items())
        if not name.startswith("detected:")
    ]
    counter_table = ""
    if counters:
        counter_table = "<h3>What steps changed or counted</h3>" + _table(
            ("step", "counter", "value"), counters, text_columns=2
        )
    return (
        "<h2>Filter steps, in the order they ran</h2>"
        + _table(header, rows, text_columns=2)
        + counter_table
    )


def _languages(data: dict[str, Any]) -> str:
    detected, kept = data["languages"]["detected"], data["languages"]["kept"]
    if not detected and not kept:
        return ""
    codes = list(dict.fromkeys([*detected, *kept]))
    total_detected, total_kept = sum(detected.values()), sum(kept.values())
    rows = [
        (
            code,
            _number(detected.get(code, 0)),
            _share(detected.get(code, 0), total_detected),
            _number(kept.get(code, 0)),
            _share(kept.get(code, 0), total_kept),
        )
        for code in codes
    ]
    header = ("language", "detected", "share", "in the corpus", "share")
    chart = _chart(report_plots.languages_chart(detected, kept), "documents per language")
    return "<h2>Languages</h2>" + _table(header, rows) + chart


def _dedup(data: dict[str, Any], prefix: str) -> str:
    dedup = data["dedup"]
    rows = [
        ("exact duplicates removed", _number(dedup["exact_duplicates"])),
        ("near duplicates removed", _number(dedup["near_duplicates"])),
        ("of which duplicates of earlier batches", _number(dedup["duplicates_of_earlier_batches"])),
        ("duplicate clusters", _number(dedup["clusters"])),
        ("largest cluster", _number(dedup["largest_cluster"])),
    ]
    sizes = [(size, _number(count)) for size, count in dedup["cluster_sizes"].items()]
    return (
        "<h2>Deduplication</h2>"
        + _table(("", "documents"), rows)
        + "<h3>Cluster sizes</h3>"
        + _table(("documents in the cluster", "clusters"), sizes)
        + _pairs(data.get("near_duplicate_pairs", []), prefix)
    )


def _pairs(pairs: list[dict[str, Any]], prefix: str) -> str:
    """Near duplicates beside the document kept in their place."""
    if not pairs:
        return ""
    parts = []
    for pair in pairs:
        similarity = pair.get("similarity")
        kept = pair.get("kept")
        kept_html = (
            _example_html(kept, prefix) if kept else "<p class='note'>in an earlier batch</p>"
        )
        parts.append(
            f"<p>estimated Jaccard similarity {similarity:.2f}</p>"
            if similarity is not None
            else ""
        )
        parts.append(
            "<div class='pair'><div><b>removed</b>" + _example_html(pair["removed"], prefix)
            + "</div><div><b>kept</b>" + kept_html + "</div></div>"
        )  # fmt: skip
    return "<h3>Examples of near duplicates</h3>" + "".join(parts)


def _example_html(example: dict[str, Any], prefix: str) -> str:
    """One document: where it lies (shard and row, relative to the corpus folder; the link is
    relative to the page), its URL, and the head of its text, escaped (a page's `<script>`
    shows as text)."""
    where = f"{example['shard']}, row {example['row']}"
    href = (
        posixpath.join(Path(prefix).as_posix(), example["shard"])
        if prefix != "."
        else example["shard"]
    )
    url = f" · {escape(example['url'])}" if example.get("url") else ""
    more = " …" if example.get("truncated") else ""
    return (
        f"<p class='note'><a href='{escape(href, quote=True)}'>{escape(where)}</a>"
        f"{url}</p><pre class='example'>{escape(example['text'])}{more}</pre>"
    )


def _rejection_examples(data: dict[str, Any], prefix: str) -> str:
    groups = data.get("rejection_examples", [])
    unreadable = data.get("unreadable_shards", [])
    missing = ""
    if unreadable:
        missing = (
            "<p class='note'>Shards that could not be read (missing or damaged): their examples "
            "and sites are left out; the counts come from the stats.</p>"
            + _table(("shard: error",), [(line,) for line in unreadable])
        )
    if not groups:
        return missing and "<h2>Examples of rejected documents</h2>" + missing
    parts = ["<h2>Examples of rejected documents</h2><p class='note'>The first documents found "
             "for every reason, their text cut to its head; links are relative to the corpus "
             "folder.</p>"]  # fmt: skip
    parts.append(missing)
    for group in groups:
        parts.append(f"<h3>{escape(group['stage'])}: {escape(group['reason'])}</h3>")
        parts.extend(_example_html(example, prefix) for example in group["examples"])
    return "".join(parts)


def _settings(data: dict[str, Any]) -> str:
    """Every setting of the rules that ran, as the last batch's manifests recorded them."""
    rows = []
    for owner, values in data.get("settings", {}).items():
        for key, value in _flat(values):
            rows.append((owner, key, value))
    if not rows:
        return ""
    return "<h2>Thresholds the rules ran with</h2>" + _table(("rule", "setting", "value"), rows, 3)


def _flat(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            items.extend(_flat(value, f"{prefix}{key}."))
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _sites(data: dict[str, Any]) -> str:
    sites = data.get("sites", [])
    if not sites:
        return ""
    rows = [
        (
            site["site"],
            _number(site["kept"]),
            _size(site["kept_bytes"]),
            _number(site["rejected"]),
            _size(site["rejected_bytes"]),
            _share(site["kept"], site["kept"] + site["rejected"]),
        )
        for site in sites
    ]
    other = data.get("other_sites", {})
    if other.get("sites"):
        rows.append(
            (
                f"{other['sites']:,} other sites",
                _number(other["kept"]),
                _size(other["kept_bytes"]),
                _number(other["rejected"]),
                _size(other["rejected_bytes"]),
                _share(other["kept"], other["kept"] + other["rejected"]),
            )
        )
    header = ("site", "kept", "kept text", "rejected (any stage)", "rejected text", "kept share")
    note = (
        "<p class='note'>A document's site is its URL's host; files without a URL count under "
        "the folder they came from. Kept: in the corpus; rejected: by any stage.</p>"
    )
    return "<h2>Documents per site</h2>" + _table(header, rows) + note


def _tokens(data: dict[str, Any]) -> str:
    tokens = data["tokens"]
    rows = [
        ("tokens", _number(tokens["tokens"])),
        ("documents", _number(tokens["documents"])),
        ("text", _size(tokens["text_bytes"])),
        ("bytes per token", _number(tokens["bytes_per_token"])),
        ("vocabulary", _number(tokens["vocab_size"])),
        ("sequence length", _number(tokens["seq_len"])),
    ]
    for name, split in tokens["splits"].items():
        rows.append(
            (
                f"{name} split",
                f"{_number(split['tokens'])} tokens, {_number(split['documents'])} documents, "
                f"{_number(split['rows'])} rows",
            )
        )
    chart = _chart(
        report_plots.tokens_per_document_chart(tokens["tokens_per_document"]),
        "tokens per document",
    )
    by_language = tokens.get("tokens_per_language", {})
    languages = [
        (code, _number(count), _share(count, tokens["tokens"]))
        for code, count in by_language.items()
    ]
    language_table = (
        "<h3>Tokens per language</h3>" + _table(("language", "tokens", "share"), languages)
        if languages
        else ""
    )
    return "<h2>Tokens</h2>" + _table(("", ""), rows) + language_table + chart


def _batches(data: dict[str, Any]) -> str:
    if data["layout"] != "refresh":
        return ""
    rows = [
        (
            batch["batch"],
            _number(batch.get("inputs")),
            _number(batch.get("extract")),
            _number(batch.get("filter")),
            _number(batch.get("dedup")),
            _number(batch.get("tokens")),
        )
        for batch in data["batches"]
    ]
    header = ("batch (version)", "input files", "extracted", "filtered", "deduped", "tokens")
    chart = _chart(report_plots.growth_chart(data["batches"]), "tokens per version")
    return "<h2>Batches</h2>" + _table(header, rows) + chart


def _extraction(data: dict[str, Any]) -> str:
    formats = [(name, _number(count)) for name, count in sorted(data["formats"].items())]
    skipped = [(name, _number(count)) for name, count in sorted(data["skipped"].items())]
    errors = [
        (e["path"], e["error"].splitlines()[0], e.get("records", 0)) for e in data["input_errors"]
    ]
    more = data["input_error_count"] - len(errors)
    tail = f"<p class='note'>and {more:,} more in the extract stats</p>" if more > 0 else ""
    return (
        "<h2>Extraction</h2><h3>Documents by format</h3>"
        + _table(("format", "documents"), formats)
        + "<h3>Records skipped (not documents)</h3>"
        + _table(("reason", "records"), skipped)
        + "<h3>Input errors</h3>"
        + _table(("file", "error", "records read before it"), errors, text_columns=2)
        + tail
    )


def _ablations(data: dict[str, Any]) -> str:
    """Each ablation's bits per byte on its eval sets, and its chart, embedded."""
    parts = []
    for ablation in data.get("ablations", []):
        if "error" in ablation:
            parts.append(f"<h3>{escape(ablation['path'])}</h3><p>not shown: "
                         f"{escape(ablation['error'])}</p>")  # fmt: skip
            continue
        evals = list(dict.fromkeys(e for v in ablation["variants"].values() for e in v["eval"]))
        spread = ablation["seeds"] > 1
        rows = []
        for name, variant in ablation["variants"].items():
            row: list[Any] = [name, _number(variant["tokens"]), f"{variant['epochs'] or 0:.2f}"]
            for where in evals:
                cell = variant["eval"].get(where) or {}
                text = "-" if cell.get("bpb") is None else f"{cell['bpb']:.4f}"
                if spread and cell.get("bpb") is not None:
                    text += f" ± {cell['bpb_std']:.4f}"
                if ablation["best"].get(where) == name:
                    text += " (best)"
                elif name in ablation["beyond_spread"].get(where, []):
                    text += " *"
                row.append(text)
            rows.append(row)
        chart = Path(ablation["chart"]).read_bytes() if ablation.get("chart") else None
        parts.append(
            f"<h3>{escape(ablation['path'])}</h3><p class='note'>"
            f"{ablation['tokens_per_run']:,} training tokens per run, {ablation['seeds']} "
            "seed(s); bits per byte on held-out text, lower is better; * worse than the best "
            "by more than the spread over seeds</p>"
            + _table(["variant", "train tokens", "epochs", *evals], rows)
            + _chart(chart, "ablation curves and bits per byte")
        )
    if not parts:
        return ""
    return "<h2>Ablations: does the filtering help?</h2>" + "".join(parts)
