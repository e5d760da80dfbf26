"""The hostile-input drill of benchmarks/drill.py passes (issue 18: every input of cases 4, 7
and 8 at once, in one extract and one refresh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DRILL = Path(__file__).resolve().parents[1] / "benchmarks" / "drill.py"


def test_the_drill_keeps_every_good_document_and_accounts_for_every_bad_input(tmp_path):
    done = subprocess.run(
        [sys.executable, str(DRILL), "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("drill passed: every good document kept")
    assert "peak memory" in done.stdout and "Traceback" not in done.stderr
    assert "nothing new" in done.stdout
