"""Helpers shared by the stage tests."""

import json
from pathlib import Path


def shard_checksums(folder: Path) -> list[tuple[str, str]]:
    """(file, sha256) of every kept and rejected shard a finished dataset lists."""
    manifest = json.loads((folder / "_manifest.json").read_text())
    return [(s["file"], s["sha256"]) for s in manifest["shards"] + manifest["rejected_shards"]]
