"""Ctrl-C and SIGTERM stop a data stage with 130 or 143 and how to go on; its finished tasks
are kept, and the same command finishes the job with the output of a run never stopped (issue
18, case 14)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from llm_pretrain.samples import article
from tests.pipeline.helpers import shard_checksums


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_data_stage_stops_keeping_its_finished_tasks(tmp_path, signum, code):
    pages = tmp_path / "pages"
    pages.mkdir()
    for index in range(60):
        (pages / f"p{index:03d}.html").write_text(article(index, seed=2).html, encoding="utf-8")
    command = [sys.executable, "-m", "llm_pretrain", "extract", "-i", str(pages),
               "--task-max-files", "1", "--workers", "1", "-q"]  # fmt: skip
    subprocess.run([*command, "-o", str(tmp_path / "clean")], check=True)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*command, "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while len(list(out.glob("_progress/task-*.json"))) < 3:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.002)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    name = signal.Signals(signum).name
    assert stderr.strip().splitlines()[-1] == (
        f"stopped by {name}; finished tasks are kept: run the same command to continue"
    )
    assert not (out / "_manifest.json").exists()
    kept = len(list(out.glob("_progress/task-*.json")))
    assert kept >= 3
    subprocess.run([*command, "-o", str(out)], check=True)
    assert shard_checksums(out) == shard_checksums(tmp_path / "clean")
    assert json.loads((out / "_manifest.json").read_text())["counts"]["documents"] == 60
