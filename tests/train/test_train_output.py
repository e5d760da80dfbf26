"""What `pretrain` tells the user as it runs: a start line before the first step, step lines
with elapsed time and ETA, a warning for data without validation rows, and a progress bar on
a terminal only."""

from __future__ import annotations

import io
import logging
import re

import pytest

from llm_pretrain.train import trainer as trainer_module
from llm_pretrain.train.data import open_token_data
from llm_pretrain.train.model import ModelConfig, Transformer
from llm_pretrain.train.summary import StepClock
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import TINY, tiny_config
from tests.train.test_processes import llm_train, run

STEP_LINE = re.compile(r"^step \d+/\d+: loss .*, elapsed \d\d:\d\d, ETA (\d\d:\d\d|\?)$")
NO_VAL = "has no validation rows"


def trainer_messages(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == trainer_module.__name__ and r.levelno >= level
    ]


def test_the_start_line_comes_first_with_the_runs_figures(token_data, tmp_path, caplog):
    config = tiny_config("log.every_steps=4")
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        result = pretrain(config, token_data, tmp_path / "run", show_progress=True)
    messages = trainer_messages(caplog)
    start = messages[0]
    assert start.startswith("pretrain: "), messages
    model = ModelConfig.model_validate_json((tmp_path / "run" / "model.json").read_text())
    parameters = Transformer(model).parameter_count()
    assert result.parameters == parameters
    assert f"{parameters:,} parameters" in start
    seq_len = open_token_data(token_data).seq_len
    micro_rows, accumulation = 8, 512 // seq_len // 8  # batch.micro_batch_rows, one process
    per_step = 1 * accumulation * micro_rows * seq_len
    assert per_step == 512  # batch.global_tokens
    assert (
        f"{per_step:,} tokens a step (1 process x {accumulation} micro-batches of "
        f"{micro_rows} rows x {seq_len} tokens)"
    ) in start
    assert f"12 steps, {12 * per_step:,} tokens in all" in start
    assert "starting at step 0" in start and "on cpu, fp32" in start
    step_lines = [m for m in messages if STEP_LINE.match(m)]
    assert [m.split(":")[0] for m in step_lines] == ["step 4/12", "step 8/12", "step 12/12"]
    assert messages.index(step_lines[0]) > 0


def test_a_resumed_run_says_where_it_resumes(token_data, tmp_path, caplog):
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        pretrain(tiny_config(), token_data, run, show_progress=True, stop_after_steps=4)
        first = trainer_messages(caplog)
        caplog.clear()
        pretrain(tiny_config(), token_data, run, show_progress=True)
    assert "starting at step 0, stopping after step 4" in next(
        m for m in first if m.startswith("pretrain: ")
    )
    start = next(m for m in trainer_messages(caplog) if m.startswith("pretrain: "))
    assert "resuming at step 4 of 12" in start and "stopping" not in start


def test_step_lines_show_elapsed_and_eta(token_data, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        pretrain(tiny_config("max_steps=3"), token_data, tmp_path / "run", show_progress=True)
    step_lines = [m for m in trainer_messages(caplog) if re.match(r"step \d+/\d+:", m)]
    assert len(step_lines) == 3
    assert all(STEP_LINE.match(line) for line in step_lines), step_lines


def test_the_step_clock_leaves_the_first_step_out_of_the_eta():
    clock = StepClock(start_step=10, last_step=20, now=100.0)
    assert clock.eta(10, 100.0) is None
    assert clock.describe(10, 100.0) == "elapsed 00:00, ETA ?"
    clock.step_done(130.0)  # a first step of 30 s: compilation
    assert clock.eta(11, 130.0) == 30.0 * 9  # nothing better known yet
    clock.step_done(131.0)
    clock.step_done(132.0)
    assert clock.eta(13, 132.0) == 1.0 * 7  # the later steps' mean, 1 s
    assert clock.describe(13, 132.0) == "elapsed 00:32, ETA 00:07"
    assert clock.eta(20, 139.0) == 0.0


def test_data_without_validation_rows_is_warned_about_once(
    token_data, token_data_without_val, tmp_path, caplog
):
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        result = pretrain(
            tiny_config("eval.every_steps=2"),
            token_data_without_val,
            tmp_path / "no-val",
            show_progress=True,
        )
    warnings = [m for m in trainer_messages(caplog, logging.WARNING) if NO_VAL in m]
    assert len(warnings) == 1 and str(token_data_without_val) in warnings[0]
    assert result.val_loss is None
    messages = trainer_messages(caplog)
    assert messages.index(warnings[0]) < min(
        i for i, m in enumerate(messages) if STEP_LINE.match(m)
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        pretrain(tiny_config("max_steps=2"), token_data, tmp_path / "val", show_progress=True)
    assert not [m for m in trainer_messages(caplog) if NO_VAL in m]


def test_quiet_logs_no_start_or_step_lines(token_data, tmp_path, caplog, capsys):
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        pretrain(tiny_config("max_steps=3"), token_data, tmp_path / "run", show_progress=False)
    assert trainer_messages(caplog) == []
    assert capsys.readouterr().err == ""


def test_no_bar_when_stderr_is_not_a_terminal(token_data, tmp_path, capsys):
    pretrain(tiny_config("max_steps=3"), token_data, tmp_path / "run", show_progress=True)
    err = capsys.readouterr().err
    assert "step/s" not in err and "%|" not in err and "\r" not in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_is_drawn_and_log_lines_stay_whole(
    token_data, tmp_path, monkeypatch, caplog
):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    handler = logging.StreamHandler(terminal)  # as `setup_logging` has it, on stderr
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            config = tiny_config("max_steps=4", "log.every_steps=2")
            pretrain(config, token_data, tmp_path / "run", show_progress=True)
    finally:
        root.removeHandler(handler)
    text = terminal.getvalue()
    assert "4/4 [" in text and "step/s" in text  # the bar
    assert text.startswith("pretrain: ")  # the start line, before the bar
    # Each log line starts a line of its own: the bar is cleared before it, drawn again after.
    logged = [line.split("\r")[-1] for line in text.split("\n") if "elapsed" in line]
    assert len(logged) == 2 and all(STEP_LINE.match(line) for line in logged), logged


def test_under_torchrun_only_rank_0_prints_and_counts_every_process(token_data, tmp_path):
    args = ["pretrain", "--data", str(token_data), "--out", str(tmp_path / "run"), *TINY]
    done = run(llm_train(*args, "max_steps=2", processes=2))
    starts = [line for line in done.stderr.splitlines() if " pretrain: " in line]
    assert len(starts) == 1, done.stderr
    assert "512 tokens a step (2 processes x 1 micro-batch of 8 rows x 32 tokens)" in starts[0]
    assert len([line for line in done.stderr.splitlines() if " step 2/2: " in line]) == 1
