"""Executors: tasks in a local pool of worker processes (the default) or on Ray, with a time
limit per task.

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
from typing import Any, Literal, TypeVar

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


def run_tasks(
    fn: Callable[[T], Any],
    tasks: Iterable[T],
    config: ExecutorConfig,
    counters: tuple[Any, Any],
) -> Iterator[tuple[T, Any | TaskFailure]]:
    """Yield (task, result or TaskFailure) as tasks finish, in completion order, on the
    executor `config` names."""
    tasks = list(tasks)
    workers = config.workers or default_workers()
    timeout_s = config.task_timeout_s
    if config.kind == "ray":
        from llm_pretrain.pipeline.ray_executor import run_ray_tasks

        yield from run_ray_tasks(fn, tasks, config, workers, timeout_s)
        return
    workers = max(1, min(workers, len(tasks)))
    with ProcessPool(max_workers=workers, initializer=_worker_init, initargs=counters) as pool:
        futures = {pool.schedule(fn, args=(task,), timeout=timeout_s): task for task in tasks}
        try:
            for future in as_completed(futures):
                yield futures[future], _outcome(future, timeout_s)
        finally:
            pool.stop()
            pool.join()


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
