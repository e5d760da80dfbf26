"""Whether a checkpoint can be trusted before it is loaded.

`train_state.json` is validated (a value a resume would trust blindly, such as an edited step
or a negative data position that never ends, makes the checkpoint damaged) and every file it
lists is compared with its recorded size and sha256, the processes sharing the hashing and
agreeing on the verdict. A resume takes the newest checkpoint that verifies; export, sample and
eval refuse a damaged one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from llm_pretrain.storage import file_problem, read_json
from llm_pretrain.train.checkpoint import (
    STATE_FILE,
    STEP_FOLDER,
    complete_checkpoints,
    find_checkpoint,
)
from llm_pretrain.train.integrity import first_problem, gather, my_share
from llm_pretrain.train.runtime import Runtime, TrainError
from llm_pretrain.train.safe_dcp import METADATA_FILE

log = logging.getLogger(__name__)

Count = Annotated[int, Strict(), Field(ge=0)]


class DamagedCheckpoint(TrainError):
    """A checkpoint whose state does not validate or whose files differ from their records."""


class FileRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bytes: Count
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SourceRecord(BaseModel):
    """One source of a mixture, as a resume compares it."""

    model_config = ConfigDict(extra="allow")

    path: str
    fingerprint: str | None = None


class DataRecord(BaseModel):
    """What a resume compares with the data it is given: one folder (`path`), or the sources
    of a mixture."""

    model_config = ConfigDict(extra="allow")

    path: str | None = None
    tokenizer_sha256: str
    fingerprint: str | None = None
    sources: dict[str, SourceRecord] | None = None

    @model_validator(mode="after")
    def _names_its_data(self) -> DataRecord:
        if (self.path is None) == (self.sources is None):
            raise ValueError("names neither one folder nor the sources of a mixture")
        return self


class CheckpointState(BaseModel):
    """`train_state.json`: a value a resume would trust blindly (an edited step, a negative
    data position that never ends) makes the checkpoint damaged instead."""

    model_config = ConfigDict(extra="allow")

    step: Count
    position: Count
    source_positions: dict[str, Count] | None = None  # rows taken of each source
    source_seeds: dict[str, Count | list[Count]] | None = None  # each source's shuffle seed
    tokens: Count
    elapsed_s: Annotated[float, Strict(), Field(ge=0)]
    world_size: Annotated[int, Strict(), Field(ge=1)]
    config: dict[str, Any]
    data: DataRecord
    init_from: str | None = None
    files: dict[str, FileRecord] | None = None  # None: written before files were recorded

    @field_validator("config")
    @classmethod
    def _has_model(cls, config: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(config.get("model"), dict):
            raise ValueError("has no model section")
        return config


def read_checked_state(path: Path) -> CheckpointState:
    """The validated `train_state.json` of checkpoint `path`, or DamagedCheckpoint."""
    try:
        raw = read_json(path / STATE_FILE)
    except FileNotFoundError:
        raise DamagedCheckpoint(f"{STATE_FILE} is missing") from None
    except (OSError, ValueError) as exc:  # ValueError: not JSON, not UTF-8
        raise DamagedCheckpoint(f"{STATE_FILE} is not readable JSON ({exc})") from None
    try:
        state = CheckpointState.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "its content"
        raise DamagedCheckpoint(f"{STATE_FILE}: {where}: {error['msg']}") from None
    match = STEP_FOLDER.match(path.name)
    if match and state.step != int(match.group(1)):
        raise DamagedCheckpoint(f"{STATE_FILE} says step {state.step}, the folder {path.name}")
    return state


def _files_problem(path: Path, state: CheckpointState, runtime: Runtime | None) -> str | None:
    """This process's share of the file checks (a legacy checkpoint: only that it has an index)."""
    if state.files is None:
        return None if (path / METADATA_FILE).is_file() else f"{METADATA_FILE} is missing"
    if METADATA_FILE not in state.files:
        return f"{STATE_FILE} lists no {METADATA_FILE}"
    for name in my_share(sorted(state.files), runtime):
        record = state.files[name]
        problem = file_problem(path / name, name, record.bytes, record.sha256)
        if problem:
            return problem
    return None


def verify_checkpoint(path: Path, runtime: Runtime | None = None) -> CheckpointState:
    """The checkpoint's state once it and every file it lists check out; DamagedCheckpoint if
    not, with the same verdict on every process (a collective when there are several)."""
    state, problem = None, None
    try:
        state = read_checked_state(path)
        problem = _files_problem(path, state, runtime)
    except DamagedCheckpoint as exc:
        problem = str(exc)
    problem = first_problem(runtime, problem)
    if problem:
        raise DamagedCheckpoint(problem)
    assert state is not None
    if state.files is None and (runtime is None or runtime.is_main):
        log.info("%s records no file checksums (saved by an older version): not verified", path)
    return state


def newest_intact(folder: Path, runtime: Runtime | None = None) -> tuple[Path | None, list[str]]:
    """The newest checkpoint under `folder` that verifies, and what is wrong with newer ones."""
    damaged = []
    # The main process's listing for all: a shared filesystem may show one node a folder late.
    candidates = gather(runtime, complete_checkpoints(folder))[0]
    for _, path in reversed(candidates):
        try:
            verify_checkpoint(path, runtime)
        except DamagedCheckpoint as exc:
            damaged.append(f"{folder.name}/{path.name}: {exc}")
            continue
        return path, damaged
    return None, damaged


def intact_checkpoint(path: Path, runtime: Runtime | None = None) -> Path:
    """A checkpoint (or a run's latest) to read the model from, refused when damaged; for a run
    folder the message names the newest intact checkpoint to pass instead."""
    checkpoint = find_checkpoint(path)
    try:
        verify_checkpoint(checkpoint, runtime)
    except DamagedCheckpoint as exc:
        message = f"{checkpoint} is damaged: {exc}"
        if checkpoint != path:
            intact, _ = newest_intact(checkpoint.parent, runtime)
            message += (
                f"; the newest intact checkpoint is {intact} (pass it with --checkpoint)"
                if intact
                else "; no checkpoint of this run is intact"
            )
        raise DamagedCheckpoint(message) from None
    return checkpoint
