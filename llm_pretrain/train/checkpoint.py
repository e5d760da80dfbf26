"""Sharded checkpoints (torch.distributed.checkpoint) that are complete or invisible.

    OUT/checkpoints/step-000200/   .metadata, __<rank>_0.distcp   model + optimizer, sharded
                                   train_state.json               step, data position, config
                                   model.json                     the model config
                                   rng/rank-00000.pt              each process's RNG state
                                   tokenizer.json, ...            the data's tokenizer files

Every process writes its shards into `.step-000200.tmp`; after a barrier the main process adds
`train_state.json` and renames the folder. A folder without the `step-` name or without
`train_state.json` is a save that did not finish: it is never loaded, and the next save removes
it. The state dicts come from `get_state_dict` (fully qualified names, DTensor shards), so a
checkpoint loads into any number of processes: DCP reshards on load. Loading never unpickles
arbitrary objects (`safe_dcp`).
"""

from __future__ import annotations

import io
import re
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from llm_pretrain.pipeline.storage import (
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
    read_json,
)
from llm_pretrain.train.model import ModelConfig
from llm_pretrain.train.runtime import Runtime, TrainError
from llm_pretrain.train.safe_dcp import METADATA_FILE, read_sharded

STATE_FILE = "train_state.json"
MODEL_FILE = "model.json"
STEP_FOLDER = re.compile(r"^step-(\d+)$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def complete_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every finished checkpoint under `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = STEP_FOLDER.match(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(folder: Path) -> Path | None:
    found = complete_checkpoints(folder)
    return found[-1][1] if found else None


def is_checkpoint(path: Path) -> bool:
    return (path / STATE_FILE).is_file() and (path / METADATA_FILE).is_file()


def read_state(path: Path) -> dict[str, Any]:
    return read_json(path / STATE_FILE)


def find_checkpoint(path: Path) -> Path:
    """A checkpoint folder, or a run folder (its latest checkpoint)."""
    if is_checkpoint(path):
        return path
    latest = latest_checkpoint(path / "checkpoints")
    if latest is None:
        raise TrainError(f"{path} is neither a checkpoint nor a run folder with one")
    return latest


def read_model_config(path: Path) -> ModelConfig:
    return ModelConfig.model_validate(read_json(path / MODEL_FILE))


def _rng_state(runtime: Runtime) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if runtime.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(runtime.device)
    return state


def save_checkpoint(
    folder: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    files: dict[str, Path],
    runtime: Runtime,
    keep_last: int,
) -> Path:
    """Write checkpoint `step` (a collective: every process calls it); keep the last K."""
    final = folder / checkpoint_name(step)
    tmp = folder / f".{final.name}.tmp"
    if runtime.is_main:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".step-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp.mkdir()
    runtime.barrier()
    model_state, optim_state = get_state_dict(model, optimizer)
    with single_process_quietly():
        dcp.save(
            {"model": model_state, "optim": optim_state},
            checkpoint_id=str(tmp),
            no_dist=runtime.world == 1,
        )
    buffer = _serialize(_rng_state(runtime))
    (tmp / "rng").mkdir(exist_ok=True)
    atomic_write_bytes(tmp / "rng" / f"rank-{runtime.rank:05d}.pt", buffer)
    runtime.barrier()
    if runtime.is_main:
        for name, source in files.items():
            shutil.copyfile(source, tmp / name)
        atomic_write_json(tmp / STATE_FILE, state)
        fsync_dir(tmp)
        if final.exists():  # the same step saved by an earlier, interrupted run
            shutil.rmtree(final)
        tmp.rename(final)
        fsync_dir(folder)
        for _, old in complete_checkpoints(folder)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    runtime.barrier()
    return final


@contextmanager
def single_process_quietly() -> Iterator[None]:
    """DCP in one process runs without collectives (`no_dist`), and says so in a warning.

    Measured: a DCP save through the one-process gloo group leaves a thread behind after which
    every CPU training step was 25-30% slower (torch 2.13); without collectives it is not.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def _serialize(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, runtime: Runtime
) -> dict[str, Any]:
    """Restore model, optimizer and (same world size) RNG; return the training state."""
    if not is_checkpoint(path):
        raise TrainError(f"{path} is not a complete checkpoint")
    model_state, optim_state = get_state_dict(model, optimizer)
    wanted = {"model": model_state, "optim": optim_state}
    with single_process_quietly():
        read_sharded(wanted, path, no_dist=runtime.world == 1)
    set_state_dict(
        model,
        optimizer,
        model_state_dict=wanted["model"],
        optim_state_dict=wanted["optim"],
    )
    state = read_state(path)
    rng_file = path / "rng" / f"rank-{runtime.rank:05d}.pt"
    if state.get("world_size") == runtime.world and rng_file.is_file():
        rng = torch.load(rng_file, weights_only=True)
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng and runtime.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], runtime.device)
    else:
        # Another number of processes: no per-process stream to continue; derive one.
        torch.manual_seed(1_000_003 * int(state.get("step", 0)) + runtime.rank)
    return state


def load_model_weights(path: Path, model: torch.nn.Module, runtime: Runtime) -> dict[str, Any]:
    """Only the model's weights (evaluation, export): the optimizer state is not read."""
    if not is_checkpoint(path):
        raise TrainError(f"{path} is not a complete checkpoint (no {STATE_FILE} or .metadata)")
    model_state = get_model_state_dict(model)
    wanted = {"model": model_state}
    with single_process_quietly():
        read_sharded(wanted, path, no_dist=runtime.world == 1)
    set_model_state_dict(model, wanted["model"])
    return read_state(path)
