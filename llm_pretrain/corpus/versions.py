"""The corpus work folder and its versions.

    CORPUS/batches/000003/batch.json        the batch's inputs, fixed when it starts
    CORPUS/batches/000003/extracted/ filtered/ deduped/     its stage datasets
    CORPUS/dedup-index/                     hashes and signatures of every kept document
    CORPUS/tokens/                          the training dataset (llm-train --data CORPUS/tokens)
    CORPUS/tokens/batches/000003/           the batch's token shards (a tokenize output)
    CORPUS/tokens/_manifest.json            the committed version: every batch's shards
    CORPUS/versions/000003.json             what each version added (history for status)
    CORPUS/aliases.json                     files whose content was processed under another
                                            name (not processed again, not hashed again)
    CORPUS/refresh.log, last_run.json       every run's log, the last run's outcome

`tokens/_manifest.json` is the one commit point: replacing it atomically makes a version.
Everything a batch writes before that is invisible to a reader of the corpus, and the next
refresh finishes a batch whose version was not committed (its stages resume or find their
output done), so a batch lands exactly once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_pretrain import __version__
from llm_pretrain.corpus.lock import LOCK_FILE
from llm_pretrain.pipeline.dataset import MANIFEST, read_manifest
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.stages import STAGE_FOLDERS
from llm_pretrain.storage import atomic_write_bytes, atomic_write_json, read_json
from llm_pretrain.tokenizer.bpe import CONFIG_FILE, TOKENIZER_FILE

BATCHES = "batches"
TOKENS = STAGE_FOLDERS["tokenize"]
VERSIONS = "versions"
INDEX = "dedup-index"
BATCH_FILE = "batch.json"
ALIASES = "aliases.json"
LOG_FILE = "refresh.log"
LAST_RUN = "last_run.json"
SPLITS = ("train", "val")


def batch_name(number: int) -> str:
    return f"{number:06d}"


def is_workdir(workdir: Path) -> bool:
    """Whether a refresh has run in `workdir` (it takes its lock there first)."""
    return any((workdir / name).exists() for name in (LOCK_FILE, BATCHES, LOG_FILE))


def foreign_workdir_problem(workdir: Path) -> str | None:
    """Why `workdir` may not be a corpus work folder: it holds files and is not one (a refresh
    writes last_run.json, versions/, tokens/ ... there, over files of the same names)."""
    if not workdir.is_dir() or not any(workdir.iterdir()):
        return None
    if is_workdir(workdir):
        return None
    names = sorted(path.name for path in workdir.iterdir())
    return (
        f"--workdir {workdir} holds other files ({names[0]}, ...); give a new folder or an "
        "existing corpus work folder"
    )


def committed(workdir: Path) -> dict[str, Any] | None:
    """The manifest of the committed version, or None before the first."""
    manifest = read_manifest(workdir / TOKENS)
    if manifest is not None and "corpus" not in manifest:
        raise StageError(f"{workdir / TOKENS} is a tokenize output, not a refresh corpus")
    return manifest


def version_of(manifest: dict[str, Any] | None) -> int:
    return manifest["corpus"]["version"] if manifest else 0


def batch_dir(workdir: Path, number: int) -> Path:
    return workdir / BATCHES / batch_name(number)


def seen_inputs(workdir: Path, manifest: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The inputs of every committed batch, and the known aliases.

    An input that was gone when its batch ran is not seen: if it comes back, it is processed.
    """
    seen: list[dict[str, Any]] = []
    for batch in manifest["corpus"]["batches"] if manifest else []:
        missing = set(batch["missing"])
        inputs = read_json(batch_dir(workdir, batch["batch"]) / BATCH_FILE)["inputs"]
        seen += [item for item in inputs if item["path"] not in missing]
    return seen + known_aliases(workdir)


def known_aliases(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / ALIASES
    return read_json(path) if path.is_file() else []


def add_aliases(workdir: Path, aliases: list[dict[str, Any]]) -> None:
    """Remember files whose content is in the corpus already (or in the batch being made).

    Written outside a version: it changes no corpus content, only what later scans skip.
    """
    atomic_write_json(workdir / ALIASES, known_aliases(workdir) + aliases)


def _fingerprint(previous: str | None, batch: str) -> str:
    return hashlib.sha256(f"{previous}:{batch}".encode()).hexdigest()


def merge(
    previous: dict[str, Any] | None,
    number: int,
    tokens: dict[str, Any],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The next version's manifest: the previous one's shards plus this batch's."""
    prefix = f"{BATCHES}/{batch_name(number)}/"
    if previous is not None:
        for key in ("seq_len", "pad_id"):
            if tokens[key] != previous[key]:
                raise StageError(
                    f"batch {number}: {key} {tokens[key]} differs from the corpus's "
                    f"{previous[key]}; a corpus keeps one (start another work folder to change it)"
                )
        if tokens["tokenizer"]["sha256"] != previous["tokenizer"]["sha256"]:
            raise StageError(f"batch {number} was tokenized with another tokenizer")
    splits = {}
    for split in SPLITS:
        before = previous["splits"][split] if previous else {}
        mine = tokens["splits"][split]
        splits[split] = {
            key: before.get(key, 0) + mine[key]
            for key in ("documents", "tokens", "rows", "padded_rows")
        }
        splits[split]["shards"] = before.get("shards", []) + [
            {**shard, "file": prefix + shard["file"]} for shard in mine["shards"]
        ]
    batches = previous["corpus"]["batches"] if previous else []
    return {
        **tokens,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "llm_pretrain_version": __version__,
        "fingerprint": _fingerprint(previous and previous["fingerprint"], tokens["fingerprint"]),
        "inputs": (previous["inputs"] if previous else [])
        + [{"path": prefix.rstrip("/"), "fingerprint": tokens["fingerprint"]}],
        "tokenizer": {**tokens["tokenizer"], "source": None},
        "counts": {key: sum(splits[s][key] for s in SPLITS) for key in ("documents", "tokens")},
        "bytes": sum(shard["bytes"] for s in SPLITS for shard in splits[s]["shards"]),
        "splits": splits,
        "corpus": {"version": number, "batches": [*batches, summary]},
    }


def commit(workdir: Path, manifest: dict[str, Any], batch_tokens: Path) -> None:
    """Make `manifest` the corpus's version: history entry, tokenizer files, then the manifest."""
    number = manifest["corpus"]["version"]
    history = {
        "version": number,
        "created_at": manifest["created_at"],
        "batch": manifest["corpus"]["batches"][-1],
        "counts": manifest["counts"],
    }
    atomic_write_json(workdir / VERSIONS / f"{batch_name(number)}.json", history)
    for name in (TOKENIZER_FILE, CONFIG_FILE):
        target = workdir / TOKENS / name
        if not target.exists() and (batch_tokens / name).exists():
            atomic_write_bytes(target, (batch_tokens / name).read_bytes())
    atomic_write_json(workdir / TOKENS / MANIFEST, manifest)
