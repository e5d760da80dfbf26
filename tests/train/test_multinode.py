"""Training across nodes, simulated on one machine: two torchrun agents (one per "node") meet
at a c10d rendezvous on loopback and train over gloo. The launch is the one the README gives
for real nodes; only the endpoint's host differs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llm_pretrain.train.checkpoint import complete_checkpoints, read_state
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import TINY, losses, tiny_config, val_losses


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_on_two_nodes(args: list[str], tmp_path: Path) -> None:
    """`torchrun --nnodes 2 --node-rank R --rdzv-endpoint HOST:PORT ...` once per node."""
    endpoint = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two "nodes" share this machine's cores
    agents = []
    for rank in range(2):
        command = [
            sys.executable, "-m", "torch.distributed.run",
            "--nnodes=2", f"--node-rank={rank}", "--nproc-per-node=1",
            "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}", "--rdzv-id=test-job",
            "-m", "llm_pretrain.train", *args,
        ]  # fmt: skip
        log = (tmp_path / f"node-{rank}.log").open("w")
        agents.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
    for rank, agent in enumerate(agents):
        try:
            code = agent.wait(timeout=300)
        except subprocess.TimeoutExpired:
            for other in agents:
                other.kill()
            raise
        assert code == 0, (tmp_path / f"node-{rank}.log").read_text()[-3000:]


def test_two_nodes_train_and_resume_as_one_process_does(token_data, tmp_path):
    one = pretrain(tiny_config(), token_data, tmp_path / "one", show_progress=False)
    args = ["pretrain", "--data", str(token_data), "--out", str(tmp_path / "run"), "-q", *TINY]
    run_on_two_nodes([*args, "--stop-after-steps=6"], tmp_path)
    checkpoints = tmp_path / "run" / "checkpoints"
    assert [step for step, _ in complete_checkpoints(checkpoints)] == [4, 6]  # 6: the stop
    assert read_state(checkpoints / "step-000006")["world_size"] == 2

    run_on_two_nodes(args, tmp_path)  # the same launch again: resumes from step 6
    run = losses(tmp_path / "run")
    assert sorted(run) == list(range(1, 13))
    for step, loss in one.losses.items():
        assert run[step] == pytest.approx(loss, rel=1e-4), step
    for step, loss in val_losses(tmp_path / "one").items():
        assert val_losses(tmp_path / "run")[step] == pytest.approx(loss, rel=1e-4), step
    assert read_state(checkpoints / "step-000012")["world_size"] == 2
