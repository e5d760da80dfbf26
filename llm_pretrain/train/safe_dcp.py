"""Reading a torch.distributed.checkpoint folder without unpickling arbitrary objects.

DCP keeps its index in `.metadata`, a plain pickle, and non-tensor values (the optimizer's
hyperparameters) as `torch.save` bytes that its default planner loads with
`weights_only=False` (torch 2.13). Either would run code hidden in a checkpoint someone handed
you. Here `.metadata` is unpickled with an allow-list of the classes DCP writes into it, and the
bytes values with `weights_only=True`; anything else is refused with a `TrainError`.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import DefaultLoadPlanner, FileSystemReader
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.metadata import Metadata, StorageMeta
from torch.distributed.checkpoint.planner import ReadItem

from llm_pretrain.train.runtime import TrainError

METADATA_FILE = ".metadata"
# Every module whose classes DCP puts into `.metadata` (only dataclasses and enums live there).
_METADATA_MODULES = {"torch.distributed.checkpoint.metadata"}
# The other globals found in the indexes torch 2.13 writes (dtypes are checked by type).
_ALLOWED = {
    ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
    ("torch", "Size"),
    ("torch.serialization", "_get_layout"),  # a name -> torch.layout lookup
    ("pathlib", "PosixPath"),
}


class _MetadataUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: Path) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        allowed = (
            module in _METADATA_MODULES
            or (module, name) in _ALLOWED
            or (module == "torch" and isinstance(getattr(torch, name, None), torch.dtype))
        )
        if not allowed:
            raise TrainError(
                f"{self.source} refers to {module}.{name}, which is not part of a checkpoint "
                "index; it was not loaded (it could run code)"
            )
        return super().find_class(module, name)


class SafeReader(FileSystemReader):
    """A FileSystemReader whose `.metadata` may only hold checkpoint index classes."""

    checked: Metadata | None = None  # the index, once read (read_sharded reads it first)

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        rank = kwargs.get("rank")  # DCP asks for `__<rank>.metadata` when there is no index
        if rank is None and self.checked is not None:
            return self.checked
        path = Path(self.path) / (METADATA_FILE if rank is None else f"__{rank}{METADATA_FILE}")
        with open(path, "rb") as file:
            try:
                metadata = _MetadataUnpickler(file, path).load()
            except TrainError:
                raise
            except Exception as exc:  # garbage makes pickle raise about anything
                raise TrainError(f"{path} is not a readable checkpoint index: {exc!r}") from None
        if not isinstance(metadata, Metadata):
            raise TrainError(f"{path} is not a checkpoint index")
        if getattr(metadata, "storage_meta", None) is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        if rank is None:
            self.checked = metadata
        return metadata


class SafePlanner(DefaultLoadPlanner):
    """Non-tensor values are loaded with `weights_only=True` (numbers, strings, containers)."""

    def load_bytes(self, read_item: ReadItem, value: io.BytesIO) -> None:
        try:
            loaded = torch.load(value, weights_only=True)
        except pickle.UnpicklingError as exc:
            raise TrainError(
                f"checkpoint value {read_item.dest_index.fqn} is not plain data; it was not "
                f"loaded (it could run code): {str(exc).splitlines()[0]}"
            ) from None
        super().load_bytes(read_item, _saved(loaded))


def _saved(value: Any) -> io.BytesIO:
    """`value` as the bytes the default planner expects (it is plain data: safe to re-read)."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    buffer.seek(0)
    return buffer


def read_sharded(state: dict[str, Any], path: Path, no_dist: bool) -> None:
    """`dcp.load` into `state` in place, refusing anything but tensors and plain values."""
    reader = SafeReader(str(path))
    reader.read_metadata()  # refused here as a TrainError, not as a warning inside dcp.load
    try:
        dcp.load(
            state,
            storage_reader=reader,
            planner=SafePlanner(),
            no_dist=no_dist,
        )
    except CheckpointException as exc:
        causes = [cause for cause, _ in exc.failures.values() if isinstance(cause, TrainError)]
        if causes:
            raise causes[0] from None
        raise TrainError(f"{path}: the checkpoint could not be read: {exc}") from None
