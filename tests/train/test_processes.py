"""Training as separate processes: two under torchrun (FSDP2 over gloo) against one, a run
killed with SIGKILL and started again, and the llm-train commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_pretrain.cli_train import train
from llm_pretrain.train.checkpoint import complete_checkpoints, read_state
from llm_pretrain.train.config import load_train_config
from llm_pretrain.train.data import TokenData
from llm_pretrain.train.export import export
from llm_pretrain.train.trainer import make_plan, pretrain
from tests.train.helpers import TINY, losses, tiny_config, val_losses


def llm_train(*args: str, processes: int = 1) -> list[str]:
    """The command line of `llm-train ARGS`, under torchrun when processes > 1."""
    if processes == 1:
        return [sys.executable, "-m", "llm_pretrain.train", *args]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*launcher, f"--nproc-per-node={processes}", "-m", "llm_pretrain.train", *args]


def run(command: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_processes_give_the_losses_of_one_and_resume_as_one(token_data, tmp_path):
    """The same global batch split over 2 processes (1 micro-batch each) or accumulated in one
    (2 micro-batches): the same losses. A 2-process checkpoint resumes in 1 process."""
    config = tiny_config()
    pretrain(config, token_data, tmp_path / "one", show_progress=False)
    args = ["pretrain", "--data", str(token_data), "-q", *TINY]
    run(llm_train(*args, "--out", str(tmp_path / "two"), processes=2))

    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(two) == list(range(1, 13))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=1e-4), step
    for step, loss in val_losses(tmp_path / "one").items():
        assert val_losses(tmp_path / "two")[step] == pytest.approx(loss, rel=1e-4)
    state = read_state(tmp_path / "two" / "checkpoints" / "step-000012")
    assert state["world_size"] == 2 and state["position"] == 12 * 16

    run(llm_train(*args, "--out", str(tmp_path / "mixed"), "--stop-after-steps=6", processes=2))
    resumed = pretrain(config, token_data, tmp_path / "mixed", show_progress=False)
    assert resumed.start_step == 6
    mixed = losses(tmp_path / "mixed")
    for step in range(7, 13):
        assert mixed[step] == pytest.approx(one[step], rel=1e-4), step


def test_two_processes_continue_an_imported_model_as_one_does(token_data, tmp_path):
    """--init-from under torchrun: each process shards the same imported weights."""
    pretrain(tiny_config("max_steps=3"), token_data, tmp_path / "base", show_progress=False)
    export(tmp_path / "base", tmp_path / "hf", dtype="fp32")
    config = tiny_config("max_steps=4")
    one = pretrain(config, token_data, tmp_path / "one", False, False, None, tmp_path / "hf")
    args = ["pretrain", "--data", str(token_data), "-q", *TINY, "max_steps=4"]
    args += ["--init-from", str(tmp_path / "hf"), "--out", str(tmp_path / "two")]
    run(llm_train(*args, processes=2))
    assert val_losses(tmp_path / "two")[0] == pytest.approx(one.init_val_loss, rel=1e-5)
    for step, loss in one.losses.items():
        assert losses(tmp_path / "two")[step] == pytest.approx(loss, rel=1e-4), step


def test_a_killed_run_started_again_continues_exactly(token_data, tmp_path):
    overrides = ["max_steps=60", "checkpoint.every_steps=10", "eval.every_steps=20"]
    whole = pretrain(tiny_config(*overrides), token_data, tmp_path / "whole", False, False)
    command = llm_train(
        "pretrain", "--data", str(token_data), "--out", str(tmp_path / "run"), "-q",
        *TINY, *overrides,
    )  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoints = tmp_path / "run" / "checkpoints"
    deadline = time.monotonic() + 120
    while not complete_checkpoints(checkpoints) and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = complete_checkpoints(checkpoints)[-1][0]
    assert killed_at < 60, "the run finished before it could be killed"

    run(command)
    assert losses(tmp_path / "run") == whole.losses
    assert val_losses(tmp_path / "run") == val_losses(tmp_path / "whole")
    assert [step for step, _ in complete_checkpoints(checkpoints)] == [40, 50, 60]


def test_the_commands_train_evaluate_and_plot(token_data, tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["pretrain", "--data", str(token_data), "--out", str(out), "-q", *TINY]
    trained = runner.invoke(train, args)
    assert trained.exit_code == 0, trained.output
    assert "val loss" in trained.output and "unigram baseline" in trained.output

    evaluated = runner.invoke(
        train, ["eval", "--checkpoint", str(out), "--data", str(token_data), "--max-rows", "32"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    final_val = val_losses(out)[12]
    assert f"loss          {final_val:.4f}" in evaluated.output

    plotted = runner.invoke(train, ["plot", str(out)])
    assert plotted.exit_code == 0, plotted.output
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")

    wrong = runner.invoke(train, [*args, "model.n_heads=3"])
    assert wrong.exit_code == 2  # a config error
    assert "Error: model: Value error, dim 32 is not a multiple" in wrong.output
    not_tokens = runner.invoke(train, ["eval", "--checkpoint", str(tmp_path), "--data", str(out)])
    assert (
        not_tokens.exit_code == 1 and "neither a checkpoint nor a run folder" in not_tokens.output
    )


RECIPES = Path(__file__).resolve().parents[2] / "configs" / "train"


def test_the_tiny_recipe_loads_its_model_file():
    config = load_train_config(RECIPES / "tiny.yaml", ["optimizer.lr=5e-4"])
    assert config.model.dim == 128 and config.model.vocab_size is None
    assert config.optimizer.lr == 5e-4


@pytest.mark.parametrize("name", ["125M", "350M", "1B"])
def test_the_gpu_recipes_fit_rows_of_2048_on_8_gpus(name):
    config = load_train_config(RECIPES / f"{name}.yaml")
    data = TokenData(Path("corpus"), {"seq_len": 2048, "tokenizer": {"vocab_size": 32768}})
    plan = make_plan(config, data, world=8)
    assert plan.tokens_per_step == config.batch.global_tokens and plan.accumulation >= 1


@pytest.mark.parametrize("name, worlds", [("tiny", (1, 2)), ("demo", (1,))])
def test_the_cpu_recipes_fit_the_demo_corpus(name, worlds):
    """configs/train/tiny.yaml on the demo corpus (seq_len 256) in 1 or 2 processes (the
    README's torchrun example), demo.yaml in the one process of `make demo`."""
    config = load_train_config(RECIPES / f"{name}.yaml")
    data = TokenData(Path("corpus"), {"seq_len": 256, "tokenizer": {"vocab_size": 2048}})
    for world in worlds:
        plan = make_plan(config, data, world=world)
        assert plan.tokens_per_step == config.batch.global_tokens


def test_under_torchrun_a_command_leaves_with_its_exit_code_and_its_output(tmp_path):
    """torchrun's processes end without the interpreter's teardown (entry._leave), which aborted
    about 1 finished run in 12 on a loaded machine; their output and exit codes stay."""
    env = {**os.environ, "WORLD_SIZE": "1", "RANK": "0"}
    helped = subprocess.run(llm_train("--help"), capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "pretrain" in helped.stdout
    refused = subprocess.run(
        llm_train("pretrain", "--out", str(tmp_path / "run")),
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode == 2
    assert "give --data and --out" in refused.stderr
