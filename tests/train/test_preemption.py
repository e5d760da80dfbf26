"""Preemption and Ctrl-C (issue 18, case 14): training finishes its step, saves and exits with
143 (SIGTERM) or 130 (SIGINT) and how to go on; the same command continues with the losses of a
run that never stopped; a second signal stops at once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_pretrain.train.checkpoint import complete_checkpoints
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import TINY, losses, tiny_config

OVERRIDES = ["max_steps=150", "checkpoint.every_steps=1000", "eval.every_steps=1000"]


def train_command(token_data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "llm_pretrain.train", "pretrain", "--data", str(token_data),
            "--out", str(out), "-q", *TINY, *OVERRIDES]  # fmt: skip


def steps_logged(run: Path) -> int:
    metrics = run / "metrics.jsonl"
    return metrics.read_text().count('"loss"') if metrics.exists() else 0


def signal_at_step(command: list[str], run: Path, step: int, *signals: int) -> tuple[int, str]:
    """Start the command, send `signals` once `step` steps are logged; exit code and stderr."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while steps_logged(run) < step:
        assert process.poll() is None, "the run ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    for signum in signals:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


@pytest.fixture(scope="module")
def uninterrupted(token_data, tmp_path_factory) -> dict[int, float]:
    root = tmp_path_factory.mktemp("whole")
    return pretrain(tiny_config(*OVERRIDES), token_data, root / "run", show_progress=False).losses


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_step_saves_and_the_same_command_continues(
    token_data, tmp_path, uninterrupted, signum, code
):
    run = tmp_path / "run"
    at = random.randint(5, 100)
    returncode, stderr = signal_at_step(train_command(token_data, run), run, at, signum)
    assert returncode == code, stderr[-2000:]
    [(step, _)] = complete_checkpoints(run / "checkpoints")  # the one the signal wrote
    assert at <= step < 150, f"signal after step {at}"
    last_line = stderr.strip().splitlines()[-1]
    assert last_line == f"stopped at step {step}; run the same command to continue"
    assert "Traceback" not in stderr

    again = subprocess.run(train_command(token_data, run), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert losses(run) == uninterrupted  # step for step, as if it had never stopped


def test_a_second_signal_stops_at_once(token_data, tmp_path, uninterrupted):
    run = tmp_path / "run"
    returncode, stderr = signal_at_step(
        train_command(token_data, run), run, 10, signal.SIGTERM, signal.SIGINT
    )
    # Python runs pending handlers in signal number order: either may count as the second.
    name = {130: "SIGINT", 143: "SIGTERM"}.get(returncode)
    assert name, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == f"stopped by {name}; run the same command to continue"
    assert "Traceback" not in stderr
    again = subprocess.run(train_command(token_data, run), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert losses(run) == uninterrupted


def test_the_same_signal_twice_at_once_is_one_request(token_data, tmp_path):
    """Under Slurm with torchrun a worker gets SIGTERM from the job step and from the agent."""
    run = tmp_path / "run"
    returncode, stderr = signal_at_step(
        train_command(token_data, run), run, 10, signal.SIGTERM, signal.SIGTERM
    )
    assert returncode == 143, stderr[-2000:]
    [(step, _)] = complete_checkpoints(run / "checkpoints")
    assert (
        stderr.strip().splitlines()[-1]
        == f"stopped at step {step}; run the same command to continue"
    )


def test_a_repeat_after_a_while_stops_at_once(monkeypatch):
    from llm_pretrain import signals

    clock = iter([0.0, 0.5, 5.0])
    monkeypatch.setattr(signals.time, "monotonic", lambda: next(clock))
    stop = signals.GracefulStop()
    stop._note(signal.SIGTERM, None)
    stop._note(signal.SIGTERM, None)  # a copy of the first
    assert stop.signum == signal.SIGTERM
    with pytest.raises(signals.Interrupted):
        stop._note(signal.SIGTERM, None)
