"""`llm-data status`: a corpus work folder's versions, pending work and last run, read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_pretrain.corpus.inputs import scan_inputs
from llm_pretrain.corpus.lock import is_locked, lock_holder
from llm_pretrain.corpus.pending import stale_reason
from llm_pretrain.corpus.versions import (
    BATCH_FILE,
    LAST_RUN,
    VERSIONS,
    batch_dir,
    committed,
    is_workdir,
    seen_inputs,
    version_of,
)
from llm_pretrain.errors import must_exist
from llm_pretrain.pipeline.documents import for_console
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.storage import read_json


def corpus_status(workdir: Path, patterns: list[str] | None = None) -> dict[str, Any]:
    must_exist(workdir, "corpus work folder")
    if not is_workdir(workdir):
        raise StageError(
            f"{workdir} is not a corpus work folder (no refresh ran there): give the --workdir "
            "of llm-data refresh"
        )
    manifest = committed(workdir)
    version = version_of(manifest)
    history = []
    for number in range(1, version + 1):
        path = workdir / VERSIONS / f"{number:06d}.json"
        if path.is_file():
            history.append(read_json(path))
    pending_batch = None
    next_batch = batch_dir(workdir, version + 1) / BATCH_FILE
    if next_batch.is_file():
        record = read_json(next_batch)
        pending_batch = {
            "batch": record["batch"],
            "created_at": record["created_at"],
            "inputs": len(record["inputs"]),
            "stale": stale_reason(next_batch.parent, record),
        }
        patterns = patterns or record["patterns"]
    elif patterns is None and version:
        patterns = read_json(batch_dir(workdir, version) / BATCH_FILE)["patterns"]
    seen = seen_inputs(workdir, manifest)
    scan = scan_inputs(patterns or [], seen, read_content=False, workdir=workdir)
    last_run = read_json(workdir / LAST_RUN) if (workdir / LAST_RUN).is_file() else None
    return {
        "workdir": str(workdir),
        "version": version,
        "created_at": manifest["created_at"] if manifest else None,
        "counts": manifest["counts"] if manifest else {"documents": 0, "tokens": 0},
        "rows": {s: manifest["splits"][s]["rows"] for s in manifest["splits"]} if manifest else {},
        "seq_len": manifest["seq_len"] if manifest else None,
        "tokenizer": manifest["tokenizer"] if manifest else None,
        "versions": history,
        "pending_batch": pending_batch,
        "patterns": patterns or [],
        "pending_inputs": len(scan.new),
        "unmatched": scan.unmatched,
        "last_run": last_run,
        "locked_by": lock_holder(workdir) if is_locked(workdir) else None,
    }


def format_status(status: dict[str, Any]) -> str:
    lines = [f"corpus  {status['workdir']}"]
    if not status["version"]:
        lines.append("  version       none committed yet")
    else:
        counts, rows = status["counts"], status["rows"]
        lines.append(f"  version       {status['version']} ({status['created_at']})")
        lines.append(
            f"  contents      {counts['documents']:,} documents, {counts['tokens']:,} tokens; "
            f"rows of {status['seq_len'] + 1} ids: {rows.get('train', 0):,} train, "
            f"{rows.get('val', 0):,} val"
        )
        tokenizer = status["tokenizer"]
        lines.append(
            f"  tokenizer     {tokenizer['vocab_size']:,} tokens, sha256 {tokenizer['sha256'][:16]}"
        )
        header = ("version", "inputs", "extracted", "filtered", "deduped", "tokens", "total")
        lines.append("")
        lines.append("  " + "".join(f"{h:>12}" for h in header) + "   committed")
        for entry in status["versions"]:
            batch = entry["batch"]
            cells = (
                entry["version"],
                batch["inputs"],
                batch["extract"]["documents"],
                batch["filter"]["documents"],
                batch["dedup"]["documents"],
                batch["tokens"],
                entry["counts"]["tokens"],
            )
            lines.append("  " + "".join(f"{c:>12,}" for c in cells) + f"   {batch['committed_at']}")
        lines.append("")
    if status["pending_batch"]:
        batch = status["pending_batch"]
        then = (
            f"the next refresh makes it again ({batch['stale']})"
            if batch.get("stale")
            else "the next refresh finishes it"
        )
        lines.append(
            f"  unfinished    batch {batch['batch']} ({batch['inputs']} inputs, started "
            f"{batch['created_at']}): {then}"
        )
    watched = ", ".join(status["patterns"]) or "-"
    lines.append(f"  inputs        {status['pending_inputs']:,} new or changed files in {watched}")
    if status["unmatched"]:
        lines.append(f"  no file in    {', '.join(status['unmatched'])}")
    last = status["last_run"]
    if last:
        said = last.get("line") or f"error: {last.get('error')}"
        lines.append(f"  last run      {last['finished_at']} {last['outcome']}: {said}")
    holder = status["locked_by"]
    if holder:
        lines.append(
            f"  running now   pid {holder.get('pid')} on {holder.get('host')} since "
            f"{holder.get('started_at')}"
        )
    return for_console("\n".join(lines)) + "\n"
