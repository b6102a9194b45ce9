"""Where independent tasks run: ``inline`` (this process, one after another), ``pool`` (a
local process pool: spawned workers, each with its share of the cores and its thread
variables set before any numeric library loads) or ``ray`` (a Ray cluster: ``ray://HOST:PORT``,
a GCS address HOST:PORT, or "local" to start one here).

A run is a ``Job`` — a module-level ``function(task, context, should_stop)`` and the
``context`` every task shares (given to each worker once; ``prepare`` turns it back into what
the function takes there) — and a list of picklable tasks, each with an ``index``. Every
executor yields, as tasks finish (not in task order), ``Outcome(index, result, attempts)`` —
the function's result, or the one-line message of the last failure once ``retries`` more
attempts have failed too — and ``Retry(index, attempt, message)`` before each retry; a stop
ends the run (the pool's workers are terminated, Ray's tasks cancelled). While
``should_pause()`` the inline and pool executors start no new task; once the tasks in flight
have finished they yield ``Held(True)``, wait, and yield ``Held(False)`` on resuming (Ray
ignores pauses: its tasks are all submitted at once). A task's result must
not depend on the executor: it carries everything it needs, its seed included.

Used by core.training (sweeps, core/training/executors.py adds the training jobs) and
core.dataflow (the whole-network mapper). Ray is imported lazily, only by RayExecutor (the
optional ``cluster`` extra). Imports nothing of the engine but core.common.errors.
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


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Held:
    """Paused with nothing in flight (``held`` True), or going on again (False)."""

    held: bool


def hold(should_pause: Callable[[], bool], should_stop: Callable[[], bool]) -> Iterator[Held]:
    """While paused (and not stopped): Held(True), wait, Held(False); nothing otherwise."""
    if not should_pause() or should_stop():
        return
    yield Held(True)
    while should_pause() and not should_stop():
        time.sleep(POLL_S / 4)
    yield Held(False)


@dataclass(frozen=True)
class Job:
    """What every task of a run shares: ``function(task, context, should_stop)`` (module level,
    so that it pickles by name), the ``context`` and, for workers in other processes,
    ``prepare(context)`` that rebuilds it there (None: use it as it is)."""

    function: Callable
    context: object = None
    prepare: Callable | None = None


@dataclass(frozen=True)
class Outcome:
    index: int
    result: object  # the task's result, a failure message (str), or None when stopped
    attempts: int


@dataclass(frozen=True)
class Retry:
    index: int
    attempt: int
    message: str


def brief(exc: BaseException) -> str:
    """``Type: first line`` of an exception (what a failed task reports)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__



def cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_choice(name: str, cluster: str | None = None, retries: int = DEFAULT_RETRIES,
                 allowed: tuple[str, ...] = EXECUTORS) -> None:
    """InputError naming the field and what is allowed, for an executor name, a cluster
    given without ray, or a retry count out of range."""
    if name not in allowed:
        raise InputError(f"executor {name!r} is not allowed: use one of {', '.join(allowed)}")
    if cluster and name != "ray":
        raise InputError(f"--cluster needs --executor ray (not {name})")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise InputError(f"retries {retries!r} is not allowed: use a whole number from 0 to 10")


def make_executor(name: str, cluster: str | None = None, workers: int | None = None,
                  threads: int = 1, retries: int = DEFAULT_RETRIES):
    """The executor called ``name`` (InputError naming what is allowed otherwise)."""
    check_choice(name, cluster, retries)
    if name == "inline":
        return InlineExecutor(retries)
    if name == "pool":
        return PoolExecutor(workers, threads, retries)
    return RayExecutor(cluster or "local", threads, retries)


# ---------------------------------------------------------------------------------------
# Inline
# ---------------------------------------------------------------------------------------
class InlineExecutor:
    """Tasks one after another in this process (the job's function sees the stop flag)."""

    name = "inline"

    def __init__(self, retries: int = DEFAULT_RETRIES):
        self.retries = retries

    def workers_for(self, tasks: int) -> int:
        return 1

    def run_job(self, job: Job, tasks, should_stop: Callable[[], bool] = _never,
                should_pause: Callable[[], bool] = _never) -> Iterator[Outcome | Retry | Held]:
        for task in tasks:
            yield from hold(should_pause, should_stop)
            if should_stop():
                return
            for attempt in range(1, self.retries + 2):
                try:
                    result = job.function(task, job.context, should_stop)
                except Exception as exc:  # noqa: BLE001 - reported, then retried
                    if attempt > self.retries:
                        yield Outcome(task.index, brief(exc), attempt)
                        break
                    yield Retry(task.index, attempt, brief(exc))
                    continue
                yield Outcome(task.index, result, attempt)
                break
            if should_stop():
                return


# ---------------------------------------------------------------------------------------
# Local process pool
# ---------------------------------------------------------------------------------------
_WORKER_JOB: Job | None = None  # in a pool worker: the job, its context prepared


def _init_worker(threads: int, job: Job) -> None:
    """In each spawned worker: the thread variables before any numeric library is imported,
    then the job with its context prepared once for every task of this worker."""
    global _WORKER_JOB
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    context = job.prepare(job.context) if job.prepare is not None else job.context
    _WORKER_JOB = Job(job.function, context)


def _pool_task(task):
    return _WORKER_JOB.function(task, _WORKER_JOB.context, _never)


def check_workers(workers) -> None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or not 1 <= workers <= 256):
        raise InputError(f"workers {workers!r} is not allowed: use a whole number from 1 to 256")


class PoolExecutor:
    """A spawned local process pool of ``workers`` processes (default: cores // threads),
    each with ``threads`` threads. A worker that dies (killed, out of memory) breaks the
    pool: it is rebuilt and the tasks that were in flight are retried."""

    name = "pool"

    def __init__(self, workers: int | None = None, threads: int = 1,
                 retries: int = DEFAULT_RETRIES):
        check_workers(workers)
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

    def _start(self, count: int, job: Job):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self._pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker, initargs=(self.threads, job))
        return self._pool

    def run_job(self, job: Job, tasks, should_stop: Callable[[], bool] = _never,
                should_pause: Callable[[], bool] = _never) -> Iterator[Outcome | Retry | Held]:
        """At most one task per worker is submitted at a time, so that a pause starts
        nothing new (the tasks in flight finish)."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool
        if not tasks:
            return
        attempts = {t.index: 0 for t in tasks}
        waiting = list(tasks)
        size = self.workers_for(len(tasks))
        pool = self._start(size, job)
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
                        running[pool.submit(_pool_task, task)] = task
                finished, _ = wait(list(running), timeout=POLL_S, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    task = running.pop(future)
                    try:
                        result = future.result()
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
                        pool = self._start(size, job)
        finally:
            self._shutdown(kill=bool(running) or should_stop())

    def _failed(self, task, attempts: dict, exc: BaseException, waiting: list):
        message = brief(exc)
        if attempts[task.index] > self.retries:
            yield Outcome(task.index, message, attempts[task.index])
        else:
            yield Retry(task.index, attempts[task.index], message)
            waiting.append(task)

    def _shutdown(self, kill: bool) -> None:
        """End the pool; with ``kill``, terminate its workers now (a stop must not wait
        for the tasks in flight)."""
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
def check_reachable(address: str) -> None:
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


def ray_install_message(executor_option: str = "--executor ray") -> str:
    return (f"{executor_option} needs Ray: install with `pip install -e \".[cluster]\"` "
            f"(or `pip install ray`)")


def _ray_point(task, function, prepare, context):
    """The Ray task (its workers' process title is ray::_ray_point): one task on its CPUs."""
    return function(task, prepare(context) if prepare is not None else context, _never)


class RayExecutor:
    """Tasks as Ray tasks, each asking for ``threads`` CPUs (Ray sets OMP_NUM_THREADS to
    that too); Ray retries a task whose worker died or that raised, ``retries`` times.
    ``cluster``: "local" starts a Ray instance in this process's session, "ray://HOST:PORT"
    connects through Ray Client, HOST:PORT joins a cluster's GCS directly. Workers must be
    able to import ``core`` (the project's folder is put on their PYTHONPATH)."""

    name = "ray"

    def __init__(self, cluster: str = "local", threads: int = 1,
                 retries: int = DEFAULT_RETRIES):
        if ray_missing():
            raise InputError(ray_install_message())
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
                ray.init(num_cpus=cores(), include_dashboard=False, runtime_env=env,
                         log_to_driver=False, configure_logging=False)
                self.started_here = True
            else:
                check_reachable(self.cluster)
                ray.init(address=self.cluster, runtime_env=env, log_to_driver=False,
                         configure_logging=False)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - ConnectionError, ray's own errors
            raise InputError(f"cannot reach Ray cluster {self.cluster}: {brief(exc)}") \
                from None

    def run_job(self, job: Job, tasks, should_stop: Callable[[], bool] = _never,
                should_pause: Callable[[], bool] = _never) -> Iterator[Outcome | Retry]:
        """``should_pause`` is not honoured: every task is submitted at once."""
        if not tasks:
            return
        import ray
        self.connect()
        remote = ray.remote(_ray_point).options(num_cpus=self.threads,
                                                 max_retries=self.retries,
                                                 retry_exceptions=True)
        context_ref = ray.put(job.context)
        running = {remote.remote(task, job.function, job.prepare, context_ref): task
                   for task in tasks}
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
                        yield Outcome(task.index, brief(exc), self.retries + 1)
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
