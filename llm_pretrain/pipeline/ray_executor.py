"""Ray executor: the local executor's tasks as Ray tasks, on one machine or a cluster.

A stage does not change: the same picklable task function runs on a Ray worker instead of a
pool process, writes its shards to the (shared) output folder and returns the same result, so
the parent writes the same markers, stats and manifest. What Ray adds is placement across
nodes and retries: a task whose worker or node is lost, or that raised, runs again up to
`retries` times; one that keeps failing is reported with its task (and so its shard). Errors
are retried too: Ray cannot tell a bug from a flaky disk or network, and a rerun is safe since
a task commits its shards atomically.

The task's time limit is enforced inside the task (SIGALRM in the worker: Ray runs a task on
its worker's main thread). A document stuck in C code that ignores signals is ended by the
extract stage's own watchdog (pipeline/watchdog.py), which ends the worker process on either
executor; a task whose input is damaged (`retryable = False`) is reported as such, though Ray
retries it first (it cannot be told which exceptions not to retry).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from llm_pretrain.errors import StageError
from llm_pretrain.pipeline.executor import TaskFailure, default_workers
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.remote.stores import STORAGE_ENV

T = TypeVar("T")
log = logging.getLogger(__name__)


class RayUnavailable(StageError):
    """`--executor ray` without Ray installed, or a cluster that cannot be reached."""


class TaskTimedOut(Exception):
    """Raised inside a task that ran past its time limit."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "executor.kind ray needs Ray: pip install 'llm-pretrain[ray]' "
            "(on every node of the cluster)"
        ) from None
    return ray


def connect(config: ExecutorConfig, workers: int) -> Any:
    """Join the configured cluster, or start a Ray instance of `workers` CPUs for this run."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if config.ray_address:
        check_reachable(config.ray_address)
        options["address"] = config.ray_address
    else:
        options["num_cpus"] = workers
    if STORAGE_ENV in os.environ:  # how workers reach object stores (remote/stores.py)
        options["runtime_env"] = {"env_vars": {STORAGE_ENV: os.environ[STORAGE_ENV]}}
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = config.ray_address or "a local instance"
        raise RayUnavailable(f"cannot start or join Ray ({where}): {exc}") from None
    log.info("ray: %s", ray.cluster_resources())
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once on a head that does not answer: Ray itself retries for many minutes."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"executor.ray_address {address!r}: give auto or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(f"cannot reach the Ray head at {address}: {exc}") from None


def _with_time_limit(fn: Callable[[T], Any], task: T, timeout_s: float, cwd: str) -> Any:
    """Runs on the Ray worker: the task, in the driver's working folder (a worker starts in its
    raylet's, where relative input and output paths would name other files), stopped by
    SIGALRM once its time is up."""
    os.chdir(cwd)

    def expire(*_: object) -> None:
        raise TaskTimedOut(f"task exceeded its time limit of {timeout_s:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return ("ok", fn(task))
    except TaskTimedOut as exc:
        return ("timeout", str(exc))  # a result, not an error: no retry, as locally
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class RayExecutor:
    """Tasks as Ray tasks, on this machine or a cluster (see the module's docstring)."""

    config: ExecutorConfig
    distributed: bool = True

    def map(
        self, fn: Callable[[T], Any], tasks: Iterable[T], counters: tuple[Any, Any]
    ) -> Iterator[tuple[T, Any]]:
        """Yield (task, result or TaskFailure) as tasks finish, in completion order; the
        progress counters are this process's, which Ray workers cannot reach."""
        workers = self.config.workers or default_workers()
        return run_ray_tasks(fn, tasks, self.config, workers, self.config.task_timeout_s)


def run_ray_tasks(
    fn: Callable[[T], Any],
    tasks: Iterable[T],
    config: ExecutorConfig,
    workers: int,
    timeout_s: float,
) -> Iterator[tuple[T, Any]]:
    """Yield (task, result or TaskFailure) as tasks finish, in completion order."""
    ray = connect(config, workers)
    remote = ray.remote(num_cpus=1, max_retries=config.retries, retry_exceptions=True)(
        _with_time_limit
    )
    function = ray.put(fn)  # shipped once, not once per task
    cwd = os.getcwd()  # the same folder on every node: the filesystem is shared
    pending = {remote.remote(function, task, timeout_s, cwd): task for task in tasks}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    status, value = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if exc.cause is not None else exc
                    if not getattr(cause, "retryable", True):
                        yield task, TaskFailure("error", str(cause), retryable=False)
                        continue
                    failure = TaskFailure(
                        "error",
                        f"{type(cause).__name__}: {cause} (failed {config.retries + 1} times)\n"
                        f"{exc}",
                    )
                    yield task, failure
                    continue
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
                    yield task, TaskFailure("crash", f"Ray worker or node lost: {exc}")
                    continue
                if status == "timeout":
                    yield task, TaskFailure("timeout", value)
                else:
                    yield task, value
    finally:
        for ref in pending:  # the run stops (an error, Ctrl-C): stop what is still queued
            ray.cancel(ref, force=True)
