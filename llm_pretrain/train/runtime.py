"""Where training runs: the process group, the device mesh, the device and the dtype.

One code path for every launch. Under `torchrun` (single or multi-node) the rank and world come
from its environment; a plain `llm-train pretrain` is a world of one with an in-process store.
Either way there is a process group and a one-dimensional mesh, so the model is always wrapped
by FSDP2 and checkpoints always have the same sharded format.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

from llm_pretrain.errors import UserError
from llm_pretrain.train.config import RuntimeConfig
from llm_pretrain.train.fp8 import fp8_problem
from llm_pretrain.train.ranks import launched, local_rank, process_rank, world_size


class TrainError(UserError, RuntimeError):
    """A training run that cannot go on, with a message for the user."""


@dataclass
class Runtime:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    mesh: DeviceMesh
    param_dtype: torch.dtype
    compile: str | None  # "blocks", "model" or None
    fp8: str | None = None  # the float8 scaling of the blocks' linear layers, or None: no fp8

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return "cpu"

    def describe(self) -> str:
        """Device, precision and compilation, for the line a run starts with."""
        device = "cpu" if self.device.type == "cpu" else f"cuda ({self.device_name()})"
        if self.world > 1:
            device = f"{self.world} x {device}"
        precision = "bf16 mixed precision" if self.param_dtype == torch.bfloat16 else "fp32"
        if self.fp8:
            precision += f", fp8 matmuls in the blocks ({self.fp8} scales; MFU against bf16)"
        compiled = {"blocks": ", blocks compiled", "model": ", the whole model compiled"}
        when = " at the first step" if self.compile else ""
        return f"on {device}, {precision}{compiled.get(self.compile or '', '')}{when}"

    def sum(self, value: float | torch.Tensor) -> torch.Tensor:
        """The sum over all processes, as a float64 tensor on this device."""
        tensor = torch.as_tensor(value, dtype=torch.float64, device=self.device).clone()
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def peak_memory_gib(self) -> float:
        """Peak allocated GPU memory; on CPU the process's peak resident set."""
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**30
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return peak / (2**30 if sys.platform == "darwin" else 2**20)


def _pick_device(config: RuntimeConfig, local_rank: int) -> torch.device:
    wanted = config.device
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise TrainError("runtime.device is cuda, but no GPU is visible to torch")
    if local_rank >= torch.cuda.device_count():
        raise TrainError(
            f"local rank {local_rank} has no GPU: {torch.cuda.device_count()} visible; start "
            "at most one process per GPU (torchrun --nproc-per-node)"
        )
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def start_runtime(config: RuntimeConfig) -> Runtime:
    """Join (or, alone, create) the process group and pick device, dtype and compile."""
    rank, world, local = process_rank(), world_size(), local_rank()
    device = _pick_device(config, local)
    if config.precision == "fp8" and (problem := fp8_problem(device)):
        raise TrainError(problem)  # before the process group: nothing to tear down
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        if launched():
            dist.init_process_group(backend, device_id=device if backend == "nccl" else None)
        else:
            dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    if device.type == "cpu" and world > 1 and "OMP_NUM_THREADS" not in os.environ:
        # Processes on one machine share its cores.
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return Runtime(
        rank=rank,
        world=world,
        local_rank=local,
        device=device,
        mesh=init_device_mesh(device.type, (world,)),
        param_dtype=torch.float32 if precision == "fp32" else torch.bfloat16,
        compile=compile_mode(config.compile, device),
        fp8=config.fp8_scaling if precision == "fp8" else None,
    )


def compile_mode(setting: bool | str | None, device: torch.device) -> str | None:
    """`runtime.compile` as "blocks", "model" or None: empty is blocks on cuda, none on cpu."""
    if setting is None:
        return "blocks" if device.type == "cuda" else None
    if isinstance(setting, bool):
        return "blocks" if setting else None
    return setting


_kept = False  # the process group outlives the runs in it (see kept_process_group)


def stop_runtime() -> None:
    if dist.is_initialized() and not _kept:
        dist.destroy_process_group()


@contextmanager
def kept_process_group() -> Iterator[None]:
    """One process group for several runs in one process (`llm-train ablate` trains and
    evaluates many): under torchrun a group created again after it was destroyed was seen to
    hang at its third creation, so it is created once, at the first run, and destroyed here."""
    global _kept
    _kept = True
    try:
        yield
    finally:
        _kept = False
        stop_runtime()
