"""A stage whose `--output` is an object-store URL (s3://, gs://, az://).

The stage runs as it does locally, into a staging folder on this machine (one per URL, under
`storage.staging_dir`), so its files are the local run's byte for byte. A publisher uploads
what the run commits as it goes (shards before the done-markers that name them), and at the
end `_stats.json`, the cards and, last, `_manifest.json`: the manifest is the commit, as the
rename is locally, and a reader ignores a folder without one. Then the store's `_progress/`
and the staging folder are removed.

A killed run resumes from the staging folder when it is restarted on the same machine, and
from the store's `_progress/` (the done-markers and the files they name, downloaded into a
new staging folder) on another. Two runs writing the same URL at once are not told apart:
the local lock covers one machine only.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from llm_pretrain.errors import StageError
from llm_pretrain.pipeline.dataset import (
    HF_YAML,
    LEGACY_REJECTED_DIR,
    MANIFEST,
    README,
    REJECTED_DIR,
    STATS,
    card_is_ours,
)
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.pipeline.runner import (
    OUTPUT_LOCK,
    PROGRESS_DIR,
    RunSummary,
    Stage,
    fingerprints,
    listed_files,
    run_claimed_stage,
)
from llm_pretrain.remote import stores
from llm_pretrain.remote.folders import Publisher, StoreFolder
from llm_pretrain.storage import read_json, remove_tree

log = logging.getLogger(__name__)
STAGING_ENV = "LLM_PRETRAIN_STAGING"
COMMIT_FILES = (STATS, README, HF_YAML, MANIFEST)  # uploaded last, in this order


def staging_folder(url: str) -> Path:
    """Where the stage writing `url` builds its output on this machine."""
    root = stores.settings().staging_dir or os.environ.get(STAGING_ENV)
    base = Path(root) if root else Path.home() / ".cache" / "llm-pretrain" / "staging"
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return base.expanduser() / digest


def staged_output(output: Path | str, sources: list[Path | str]) -> tuple[Path, str | None]:
    """The folder a stage writes, and the URL it publishes that folder to when `output` is a
    store URL (then refused if it is, contains or lies inside a source URL, as a local output
    is by `check_dataset_output`)."""
    if not stores.is_url(output):
        return Path(output), None
    url = stores.canonical(str(output)).rstrip("/")
    stores.check_url(url, writing=True)
    for source in sources:
        if stores.is_url(source) and stores.overlap(url, str(source)):
            raise StageError(f"--output {url} overlaps the input {source}: choose another --output")
    return staging_folder(url), url


def _never_uploaded(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return (
        name == OUTPUT_LOCK
        or fnmatch.fnmatch(base, ".*.tmp-*")
        or name.startswith(f"{PROGRESS_DIR}/")
        and base.startswith("watch-")  # worker cursors
    )


def _ours(name: str, data_glob: str) -> bool:
    """Whether a file of the folder is one a stage writes (the rest is the user's)."""
    top = name.split("/", 1)[0]
    return (
        name in (MANIFEST, STATS, README, HF_YAML, OUTPUT_LOCK)
        or top in (PROGRESS_DIR, REJECTED_DIR, LEGACY_REJECTED_DIR)
        or ("/" not in name and fnmatch.fnmatch(name, data_glob))
    )


def run_published(
    stage: Stage, url: str, executor: ExecutorConfig, show_progress: bool, overwrite: bool
) -> RunSummary:
    """Run `stage` (whose output is the staging folder of `url`) and publish it to `url`."""
    staging = stage.output
    folder = StoreFolder(url)
    folder.check_bucket()
    staging.mkdir(parents=True, exist_ok=True)
    with folder_lock(staging / OUTPUT_LOCK, "being written"):
        fingerprint, earlier = fingerprints(stage)
        remote = folder.files()
        if overwrite:
            remote = _clear_store(folder, remote, stage.data_glob)
            stage.clear(staging)
        elif MANIFEST in remote:
            finished = _finished(folder, remote, fingerprint, earlier)
            remove_tree(staging)
            return finished
        if not _staging_resumes(staging, fingerprint):
            plan = folder.read_json(f"{PROGRESS_DIR}/plan.json")
            if isinstance(plan, dict) and plan.get("fingerprint") not in (fingerprint, *earlier):
                raise StageError(
                    f"{url} holds an unfinished run with other inputs or settings; run that "
                    "command again to finish it, or pass --overwrite"
                )
            stage.clear(staging)
            _pull(folder, remote, staging, stage.data_glob)
        publisher = Publisher(folder, staging, PROGRESS_DIR, COMMIT_FILES, _never_uploaded)
        publisher.known(remote)
        with publisher.in_background():
            summary = run_claimed_stage(stage, executor, show_progress)
        named = listed_files(summary.manifest) + summary.manifest.get("rejected_shards", [])
        lost = [shard["file"] for shard in named if not (staging / shard["file"]).is_file()]
        if lost:  # never commit a manifest naming a file the store will not hold
            raise StageError(
                f"{url}: {lost[0]} is named by a done-marker but was never uploaded; "
                "pass --overwrite to make the dataset again"
            )
        publisher.publish(final=True)
        folder.delete([name for name in folder.files() if name.startswith(PROGRESS_DIR + "/")])
        remove_tree(staging)  # published: nothing here is needed any more
    return summary


def _finished(
    folder: StoreFolder, remote: dict[str, int], fingerprint: str, earlier: list[str]
) -> RunSummary:
    manifest = folder.read_json(MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("fingerprint") not in (
        fingerprint,
        *earlier,
    ):
        raise StageError(
            f"{folder.url} already holds a dataset made from other inputs or settings; "
            "choose another --output or pass --overwrite"
        )
    for shard in listed_files(manifest):
        if remote.get(shard["file"]) != shard.get("bytes"):
            raise StageError(
                f"{folder.url} was finished, but {shard['file']} is missing or changed since; "
                "pass --overwrite to make it again"
            )
    stats = folder.read_json(STATS) or {}
    return RunSummary(manifest, stats, up_to_date=True, tasks_run=0)


def _staging_resumes(staging: Path, fingerprint: str) -> bool:
    """Whether the staging folder holds this run, unfinished or finished but not published."""
    for marker in (staging / PROGRESS_DIR / "plan.json", staging / MANIFEST):
        if marker.is_file():
            try:
                return read_json(marker).get("fingerprint") == fingerprint
            except (ValueError, AttributeError):
                return False
    return False


def _pull(folder: StoreFolder, remote: dict[str, int], staging: Path, data_glob: str) -> None:
    """The store's unfinished run (its `_progress/` and the files its markers name) into the
    staging folder, where the runner resumes it or refuses it as it would a local one."""
    names = [name for name in remote if _ours(name, data_glob) and name != OUTPUT_LOCK]
    if names:
        log.info("%s: downloading %d files of an unfinished run to resume it", folder.url,
                 len(names))  # fmt: skip
    for name in sorted(names):
        folder.download(name, staging / name)
    _drop_orphan_markers(staging)


def _drop_orphan_markers(staging: Path) -> None:
    """Remove a done-marker whose shards did not reach the store (a run killed between two
    uploads): its task runs again instead of a manifest naming a missing file."""
    for marker in (staging / PROGRESS_DIR).rglob("task-*.json"):
        try:
            result = read_json(marker)
        except ValueError:
            result = None
        named = [v["file"] for v in (result or {}).values() if isinstance(v, dict) and "file" in v]
        if result is None or not all((staging / name).is_file() for name in named):
            log.info("%s names a shard the store lacks: its task runs again", marker.name)
            marker.unlink()


def _clear_store(folder: StoreFolder, remote: dict[str, int], data_glob: str) -> dict[str, int]:
    """--overwrite on a store: delete what a stage wrote there, after refusing a folder of
    other files that holds no dataset (as locally)."""
    foreign = sorted(name for name in remote if not _ours(name, data_glob))
    has_dataset = MANIFEST in remote or any(n.startswith(PROGRESS_DIR + "/") for n in remote)
    if foreign and not has_dataset:
        raise StageError(
            f"{folder.url} holds files that are not a dataset of llm-data ({foreign[0]}, ...); "
            "--overwrite replaces only a dataset: choose another --output"
        )
    doomed = [name for name in remote if _ours(name, data_glob)]
    for card in (README, HF_YAML):
        if card in doomed and not _card_is_ours(folder, card):
            doomed.remove(card)
    folder.delete(sorted(doomed, key=lambda name: name != MANIFEST))  # the commit goes first
    return {name: size for name, size in remote.items() if name not in doomed}


def _card_is_ours(folder: StoreFolder, name: str) -> bool:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / name
        folder.download(name, path)
        return card_is_ours(path)
