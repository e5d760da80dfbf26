"""Executors: where a phase's tasks run, with a time limit per task. One protocol
(`Executor.map`), two implementations: a local pool of worker processes (the default) and Ray
(pipeline/ray_executor.py); `build_executor` is the only place that tells them apart.

pebble's pool kills a worker that overruns its task's time limit and reports a worker that
died (a segfault in a C extension, the OOM killer) as an error of that task alone, so one
hostile input can neither hang nor sink the run.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from pebble import ProcessExpired, ProcessPool

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.executor_config import ExecutorConfig

T = TypeVar("T")


@dataclass(frozen=True)
class TaskFailure:
    """Why a task produced no result: its worker died, it ran too long, or it raised."""

    kind: Literal["crash", "timeout", "error"]
    message: str
    # False when the task's input is at fault (an exception with `retryable = False`): running
    # it again cannot help.
    retryable: bool = True


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _worker_init(documents: Any, nbytes: Any) -> None:
    progress.attach(documents, nbytes)
    # The pool's parent handles Ctrl-C; workers die with it instead of printing tracebacks.
    # SIGTERM is how the pool stops its workers: the default action, not the parent's handler.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Executor(Protocol):
    """Runs tasks and reports each one's result as it finishes."""

    # Workers may be on other machines: they cannot update this process's progress counters
    # (the runner counts finished tasks instead), and a global step that would need one
    # machine's memory is split into tasks over partitions (dedup.partitions unset).
    distributed: bool

    def map(
        self, fn: Callable[[T], Any], tasks: Iterable[T], counters: tuple[Any, Any]
    ) -> Iterator[tuple[T, Any | TaskFailure]]:
        """Yield (task, result or TaskFailure) as tasks finish, in completion order."""
        ...


@dataclass(frozen=True)
class LocalPool:
    """Worker processes on this machine (pebble), sharing progress counters with the parent."""

    config: ExecutorConfig
    distributed: bool = False

    def map(
        self, fn: Callable[[T], Any], tasks: Iterable[T], counters: tuple[Any, Any]
    ) -> Iterator[tuple[T, Any | TaskFailure]]:
        tasks = list(tasks)
        timeout_s = self.config.task_timeout_s
        workers = max(1, min(self.config.workers or default_workers(), len(tasks)))
        _warm_up()
        with ProcessPool(max_workers=workers, initializer=_worker_init, initargs=counters) as pool:
            futures = {pool.schedule(fn, args=(task,), timeout=timeout_s): task for task in tasks}
            try:
                for future in as_completed(futures):
                    yield futures[future], _outcome(future, timeout_s)
            finally:
                pool.stop()
                pool.join()


def _warm_up() -> None:
    """Import in the parent what each forked worker would otherwise import on its own: on its
    first array, pyarrow imports pandas (when installed), 0.2 s per worker per phase."""
    import pyarrow as pa

    pa.array([0])


def build_executor(config: ExecutorConfig) -> Executor:
    """The executor `executor.kind` names (Ray is imported only when asked for)."""
    if config.kind == "ray":
        from llm_pretrain.pipeline.ray_executor import RayExecutor

        return RayExecutor(config)
    return LocalPool(config)


def _outcome(future: Any, timeout_s: float) -> Any | TaskFailure:
    try:
        return future.result()
    except FutureTimeout:
        return TaskFailure("timeout", f"task exceeded its time limit of {timeout_s:g} s")
    except ProcessExpired as exc:
        return TaskFailure("crash", f"worker died (exit code {exc.exitcode})")
    except Exception as exc:
        if not getattr(exc, "retryable", True):
            return TaskFailure("error", str(exc), retryable=False)
        detail = getattr(exc, "traceback", None) or traceback.format_exc()
        return TaskFailure("error", f"{type(exc).__name__}: {exc}\n{detail}")
