"""Where sweep points train: ``inline`` (this process, one after another), ``pool`` (a local
process pool, the default: spawned workers, each with its share of the cores) or ``ray``
(a Ray cluster: ``ray://HOST:PORT``, a GCS address HOST:PORT, or "local" to start one here).

Every executor takes core.training.sweeps PointTasks and yields, as points finish (not in
task order), ``Outcome(index, result, attempts)`` — result a PointResult, the one-line
message of the last failure once ``retries`` more attempts have failed too, or None when
stopped — and ``Retry(index, attempt, message)`` before each retry. While ``should_pause()``
the inline and pool executors start no new point; once the points in flight have finished
they yield ``Held(True)``, wait, and yield ``Held(False)`` on resuming (Ray ignores pauses:
its tasks are all submitted at once). A point's numbers do
not depend on the executor: each task carries its seed and its torch thread count.

Ray is imported lazily and only by RayExecutor (the optional ``cluster`` extra).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from core.common.errors import InputError

EXECUTORS = ("inline", "pool", "ray")
DEFAULT_EXECUTOR = "pool"
DEFAULT_RETRIES = 2
POLL_S = 0.2  # how often a waiting executor looks at the stop flag
REACH_TIMEOUT_S = 5.0  # a cluster address that does not answer a TCP connect in this
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the core package


@dataclass(frozen=True)
class Outcome:
    index: int
    result: object  # PointResult, a failure message (str), or None when stopped
    attempts: int


@dataclass(frozen=True)
class Retry:
    index: int
    attempt: int
    message: str


@dataclass(frozen=True)
class Held:
    """Paused with nothing in flight (``held`` True), or going on again (False)."""

    held: bool


def hold(should_pause: Callable[[], bool], should_stop: Callable[[], bool]
         ) -> Iterator[Held]:
    """While paused (and not stopped): Held(True), wait, Held(False); nothing otherwise."""
    if not should_pause() or should_stop():
        return
    yield Held(True)
    while should_pause() and not should_stop():
        time.sleep(POLL_S / 4)
    yield Held(False)


NEVER = lambda: False  # noqa: E731 - the default "never paused"


def pack(data) -> dict:
    """MnistData as plain arrays (it holds a lock and tensor cache that do not pickle)."""
    return {"train_images": data.train_images, "train_labels": data.train_labels,
            "test_images": data.test_images, "test_labels": data.test_labels,
            "source": data.source, "kind": data.kind}


def unpack(packed: dict):
    from core.training.data import MnistData
    return MnistData(**packed)


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def make_executor(name: str, cluster: str | None = None, workers: int | None = None,
                  threads: int = 1, retries: int = DEFAULT_RETRIES):
    """The executor called ``name`` (InputError naming what is allowed otherwise)."""
    if name not in EXECUTORS:
        raise InputError(f"executor {name!r} is not allowed: use one of {', '.join(EXECUTORS)}")
    if cluster and name != "ray":
        raise InputError(f"--cluster needs --executor ray (not {name})")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise InputError(f"retries {retries!r} is not allowed: use a whole number from 0 to 10")
    if name == "inline":
        return InlineExecutor(retries)
    if name == "pool":
        return PoolExecutor(workers, threads, retries)
    return RayExecutor(cluster or "local", threads, retries)


# ---------------------------------------------------------------------------------------
# Inline
# ---------------------------------------------------------------------------------------
class InlineExecutor:
    """Points one after another in this process (a stop is seen before every batch, a
    pause between points: the point that is training finishes first)."""

    name = "inline"

    def __init__(self, retries: int = DEFAULT_RETRIES):
        self.retries = retries

    def workers_for(self, tasks: int) -> int:
        return 1

    def run(self, tasks, data, should_stop: Callable[[], bool] = lambda: False,
            should_pause: Callable[[], bool] = NEVER) -> Iterator[Outcome | Retry | Held]:
        from core.training.sweep_points import run_point
        for task in tasks:
            yield from hold(should_pause, should_stop)
            if should_stop():
                return
            for attempt in range(1, self.retries + 2):
                try:
                    result = run_point(task, data, should_stop)
                except Exception as exc:  # noqa: BLE001 - reported, then retried
                    if attempt > self.retries:
                        yield Outcome(task.index, _brief(exc), attempt)
                        break
                    yield Retry(task.index, attempt, _brief(exc))
                    continue
                yield Outcome(task.index, result, attempt)
                break
            if should_stop():
                return


# ---------------------------------------------------------------------------------------
# Local process pool
# ---------------------------------------------------------------------------------------
_WORKER_DATA = None


def _init_worker(threads: int, data) -> None:
    """In each spawned worker: thread variables before torch is imported, then torch's
    thread count, and the data kept for every task of this worker."""
    global _WORKER_DATA
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    import torch
    torch.set_num_threads(threads)
    _WORKER_DATA = unpack(data)


def _pool_point(task):
    from core.training.sweep_points import run_point
    return os.getpid(), run_point(task, _WORKER_DATA)


class PoolExecutor:
    """A spawned local process pool of ``workers`` processes (default: cores // threads),
    each running torch on ``threads`` threads. A worker that dies (killed, out of memory)
    breaks the pool: it is rebuilt and the points that were in flight are retried."""

    name = "pool"

    def __init__(self, workers: int | None = None, threads: int = 1,
                 retries: int = DEFAULT_RETRIES):
        from core.training.sweep_points import cores
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or not 1 <= workers <= 256):
            raise InputError(f"workers {workers!r} is not allowed: use a whole number from 1 "
                             f"to 256")
        self.threads = threads
        self.workers = workers or max(1, cores() // max(1, threads))
        self.retries = retries
        self._pool = None

    def workers_for(self, tasks: int) -> int:
        return max(1, min(self.workers, tasks))

    def processes(self) -> list:
        """The live worker processes (multiprocessing.Process), e.g. to watch or end them."""
        pool = self._pool
        return list(getattr(pool, "_processes", {}).values()) if pool is not None else []

    def _start(self, count: int, data):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self._pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker,
                                         initargs=(self.threads, pack(data)))
        return self._pool

    def run(self, tasks, data, should_stop: Callable[[], bool] = lambda: False,
            should_pause: Callable[[], bool] = NEVER) -> Iterator[Outcome | Retry | Held]:
        """At most one point per worker is submitted at a time, so that a pause starts
        nothing new (the points in flight finish)."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool
        if not tasks:
            return
        attempts = {t.index: 0 for t in tasks}
        waiting = list(tasks)
        size = self.workers_for(len(tasks))
        pool = self._start(size, data)
        running = {}
        try:
            while waiting or running:
                if should_stop():
                    return
                if should_pause():
                    if not running:
                        yield from hold(should_pause, should_stop)
                        continue
                else:
                    while waiting and len(running) < size:
                        task = waiting.pop(0)
                        attempts[task.index] += 1
                        running[pool.submit(_pool_point, task)] = task
                finished, _ = wait(list(running), timeout=POLL_S, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    task = running.pop(future)
                    try:
                        _, result = future.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        yield from self._failed(task, attempts, exc, waiting)
                        continue
                    except Exception as exc:  # noqa: BLE001 - the task raised in the worker
                        yield from self._failed(task, attempts, exc, waiting)
                        continue
                    yield Outcome(task.index, result, attempts[task.index])
                if broken:
                    for future, task in list(running.items()):  # all of them are lost
                        running.pop(future)
                        yield from self._failed(task, attempts,
                                                BrokenProcessPool("a worker died"), waiting)
                    self._shutdown(kill=True)
                    if waiting:
                        size = self.workers_for(len(waiting))
                        pool = self._start(size, data)
        finally:
            self._shutdown(kill=bool(running) or should_stop())

    def _failed(self, task, attempts: dict, exc: BaseException, waiting: list):
        message = _brief(exc)
        if attempts[task.index] > self.retries:
            yield Outcome(task.index, message, attempts[task.index])
        else:
            yield Retry(task.index, attempts[task.index], message)
            waiting.append(task)

    def _shutdown(self, kill: bool) -> None:
        """End the pool; with ``kill``, terminate its workers now (a stop must not wait
        for the points in flight)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            for process in list(getattr(pool, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()
        pool.shutdown(wait=not kill, cancel_futures=True)


# ---------------------------------------------------------------------------------------
# Ray
# ---------------------------------------------------------------------------------------
def _check_reachable(address: str) -> None:
    """A quick TCP look at HOST:PORT (after any ray://), so that a wrong address fails in
    seconds rather than after Ray Client's own retries."""
    import socket
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"cluster {address!r} is not allowed: use local, ray://HOST:PORT or "
                         f"HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as exc:
        raise InputError(f"cannot reach Ray cluster {address}: {exc.strerror or exc}") \
            from None


def ray_missing() -> bool:
    import importlib.util
    return importlib.util.find_spec("ray") is None


def _ray_point(task, data):
    """The Ray task: one point on ``task.config.threads`` CPUs of a Ray worker."""
    import torch
    torch.set_num_threads(task.config.threads)
    from core.training.sweep_points import run_point
    return run_point(task, unpack(data))


class RayExecutor:
    """Points as Ray tasks, each asking for ``threads`` CPUs (Ray sets OMP_NUM_THREADS to
    that too); Ray retries a task whose worker died or that raised, ``retries`` times.
    ``cluster``: "local" starts a Ray instance in this process's session, "ray://HOST:PORT"
    connects through Ray Client, HOST:PORT joins a cluster's GCS directly. Workers must be
    able to import ``core`` (the project's folder is put on their PYTHONPATH)."""

    name = "ray"

    def __init__(self, cluster: str = "local", threads: int = 1,
                 retries: int = DEFAULT_RETRIES):
        if ray_missing():
            raise InputError("--executor ray needs Ray: install with `pip install -e "
                             "\".[cluster]\"` (or `pip install ray`)")
        self.cluster = str(cluster).strip() or "local"
        self.threads = threads
        self.retries = retries
        self.started_here = False

    def workers_for(self, tasks: int) -> int:
        import ray
        self.connect()
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, min(tasks, cpus // max(1, self.threads)))

    def connect(self) -> None:
        import ray
        if ray.is_initialized():
            return
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join(
            [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}}
        try:
            if self.cluster == "local":
                from core.training.sweep_points import cores
                ray.init(num_cpus=cores(), include_dashboard=False, runtime_env=env,
                         log_to_driver=False, configure_logging=False)
                self.started_here = True
            else:
                _check_reachable(self.cluster)
                ray.init(address=self.cluster, runtime_env=env, log_to_driver=False,
                         configure_logging=False)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - ConnectionError, ray's own errors
            raise InputError(f"cannot reach Ray cluster {self.cluster}: {_brief(exc)}") \
                from None

    def run(self, tasks, data, should_stop: Callable[[], bool] = lambda: False,
            should_pause: Callable[[], bool] = NEVER) -> Iterator[Outcome | Retry]:
        """``should_pause`` is not honoured: every task is submitted at once."""
        if not tasks:
            return
        import ray
        self.connect()
        remote = ray.remote(_ray_point).options(num_cpus=self.threads,
                                                 max_retries=self.retries,
                                                 retry_exceptions=True)
        data_ref = ray.put(pack(data))
        running = {remote.remote(task, data_ref): task for task in tasks}
        try:
            while running:
                if should_stop():
                    return
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    task = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - after Ray's own retries
                        yield Outcome(task.index, _brief(exc), self.retries + 1)
                        continue
                    yield Outcome(task.index, result, 1)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        """Disconnect (and end the instance started here, if any)."""
        import ray
        if ray.is_initialized():
            ray.shutdown()
        self.started_here = False

