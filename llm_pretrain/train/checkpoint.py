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

`train_state.json` also records the size and sha256 of every other file of the checkpoint,
hashed by the process that wrote it (its shards, its RNG state; the main process the rest).
`checkpoint_check` verifies them before a checkpoint is loaded. A save that fails on any
process (a full disk) fails on all of them alike, removes its partial folder and keeps the
earlier checkpoints.
"""

from __future__ import annotations

import errno
import io
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from llm_pretrain.storage import (
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
    read_json,
)
from llm_pretrain.train.integrity import (
    check_finite,
    file_record,
    gather,
)
from llm_pretrain.train.model import ModelConfig
from llm_pretrain.train.runtime import Runtime, TrainError
from llm_pretrain.train.safe_dcp import METADATA_FILE, read_sharded

STATE_FILE = "train_state.json"
MODEL_FILE = "model.json"
STEP_FOLDER = re.compile(r"^step-(\d+)$")
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


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
    if (path / STATE_FILE).is_file():  # a damaged one too: verification says what is wrong
        return path
    latest = latest_checkpoint(path / "checkpoints")
    if latest is None:
        raise TrainError(f"{path} is neither a checkpoint nor a run folder with one")
    return latest


def read_model_config(path: Path) -> ModelConfig:
    return ModelConfig.model_validate(read_json(path / MODEL_FILE))


# -- saving ---------------------------------------------------------------------------------


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
    """Write checkpoint `step` (a collective: every process calls it); keep the last K.

    Each phase ends with every process learning whether any failed (instead of a barrier), so
    one process's full disk is a TrainError on all of them rather than a hang.
    """
    final = folder / checkpoint_name(step)
    tmp = folder / f".{final.name}.tmp"
    main = runtime.is_main
    try:
        _on_every_process(runtime, final, lambda: _prepare(folder, tmp) if main else None)
        shares = _on_every_process(
            runtime, final, lambda: _write_shards(tmp, model, optimizer, runtime)
        )
        written = {name: record for share in shares for name, record in share.items()}
        _on_every_process(
            runtime,
            final,
            lambda: _publish(tmp, final, state, files, written, keep_last) if main else None,
        )
    except TrainError:
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _on_every_process(runtime: Runtime, final: Path, work: Callable[[], Any]) -> list[Any]:
    """`work` here, then every process's result; a failure anywhere fails all processes alike."""
    try:
        outcome: tuple[Any, str | None] = (work(), None)
    except (Exception, CheckpointException) as exc:  # DCP's is a BaseException
        outcome = (None, save_failure(exc, final))
    outcomes = gather(runtime, outcome)
    problems = [problem for _, problem in outcomes if problem]
    if problems:
        raise TrainError(problems[0])
    return [result for result, _ in outcomes]


def _prepare(folder: Path, tmp: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".step-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir()


def _write_shards(
    tmp: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, runtime: Runtime
) -> dict[str, dict[str, Any]]:
    """This process's shards and RNG state, with the records of the files it wrote."""
    model_state, optim_state = get_state_dict(model, optimizer)
    with single_process_quietly():
        dcp.save(
            {"model": model_state, "optim": optim_state},
            checkpoint_id=str(tmp),
            no_dist=runtime.world == 1,
        )
    rng = tmp / "rng" / f"rank-{runtime.rank:05d}.pt"
    rng.parent.mkdir(exist_ok=True)
    atomic_write_bytes(rng, _serialize(_rng_state(runtime)))
    mine = [rng, *tmp.glob(f"__{runtime.rank}_*.distcp")]
    return {path.relative_to(tmp).as_posix(): file_record(path) for path in mine}


def _publish(
    tmp: Path,
    final: Path,
    state: dict[str, Any],
    files: dict[str, Path],
    written: dict[str, dict[str, Any]],
    keep_last: int,
) -> None:
    """Main process: copy `files` in, record every file, write the state, rename, prune."""
    for name, source in files.items():
        shutil.copyfile(source, tmp / name)
    records = dict(written)
    for path in sorted(tmp.rglob("*")):  # the index, the copies: what no process claimed
        name = path.relative_to(tmp).as_posix()
        if path.is_file() and name not in records:
            records[name] = file_record(path)
    atomic_write_json(tmp / STATE_FILE, {**state, "files": dict(sorted(records.items()))})
    fsync_dir(tmp)
    if final.exists():  # the same step saved by an earlier, interrupted run
        shutil.rmtree(final)
    tmp.rename(final)
    fsync_dir(final.parent)
    for _, old in complete_checkpoints(final.parent)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: causes, contexts and the per-process failures DCP collects."""
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__]
        if isinstance(current, CheckpointException):
            pending += [failure for failure, _ in current.failures.values()]


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or EDQUOT anywhere in the chain, or torch's report of a short write to a file."""
    return any(
        (isinstance(cause, OSError) and cause.errno in NO_SPACE) or "unexpected pos" in str(cause)
        for cause in _causes(exc)
    )


def save_failure(exc: BaseException, final: Path) -> str:
    """One line for a checkpoint that could not be written."""
    if is_disk_full(exc):
        return (
            f"no space left on device ({final}): checkpoint {final.name} was not saved; the "
            "earlier checkpoints are kept"
        )
    root = _root_cause(exc)
    if isinstance(root, OSError) and root.strerror:
        text = f"{root.strerror} ({root.filename})" if root.filename else root.strerror
    else:
        text = (str(root).strip().splitlines() or [type(root).__name__])[0]
    return f"could not save checkpoint {final}: {text}"


def _root_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of DCP's wrapping and of explicit causes."""
    while True:
        if isinstance(exc, CheckpointException) and exc.failures:
            exc = next(iter(exc.failures.values()))[0]
        elif exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            return exc


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


# -- loading --------------------------------------------------------------------------------


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, runtime: Runtime
) -> dict[str, Any]:
    """Restore model, optimizer and (same world size) RNG; return the training state.

    The caller has verified the checkpoint (`checkpoint_check.newest_intact`)."""
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
    """Only the model's weights (evaluation, export): the optimizer state is not read.

    The caller has verified the checkpoint (`checkpoint_check.intact_checkpoint`); weights that
    are not finite are refused here."""
    if not is_checkpoint(path):
        raise TrainError(f"{path} is not a complete checkpoint (no {STATE_FILE} or .metadata)")
    model_state = get_model_state_dict(model)
    wanted = {"model": model_state}
    with single_process_quietly():
        read_sharded(wanted, path, no_dist=runtime.world == 1)
    set_model_state_dict(model, wanted["model"])
    check_finite(wanted["model"], path, runtime)
    return read_state(path)
