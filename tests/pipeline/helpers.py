"""Helpers shared by the stage tests."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def shard_checksums(folder: Path) -> list[tuple[str, str]]:
    """(file, sha256) of every kept and rejected shard a finished dataset lists."""
    manifest = json.loads((folder / "_manifest.json").read_text())
    return [(s["file"], s["sha256"]) for s in manifest["shards"] + manifest["rejected_shards"]]


def assert_kill_and_rerun_is_identical(
    args: list[str],
    tmp_path: Path,
    markers: str = "_progress/task-*.json",
    checksums: Callable[[Path], list] = shard_checksums,
) -> Path:
    """Run `llm-data ARGS` cleanly; run it again, SIGKILL it (workers too) after 3 finished
    tasks (done-markers matching `markers`), rerun it, and check that the shards are
    byte-identical to the clean run's."""
    command = [sys.executable, "-m", "llm_pretrain", *args]
    clean, out = tmp_path / "clean", tmp_path / "out"
    subprocess.run([*command, "--output", str(clean)], check=True)
    process = subprocess.Popen([*command, "--output", str(out)], start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list(out.glob(markers))) < 3:
        assert process.poll() is None, "run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "_manifest.json").exists()
    subprocess.run([*command, "--output", str(out)], check=True)
    assert checksums(out) == checksums(clean)
    return out
