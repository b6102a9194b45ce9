"""Where sweep points train: the executors of core.common.executors (inline, a local process
pool — the default — or a Ray cluster) given the training job: each PointTask trains with
core.training.sweep_points.run_point on the MNIST data, which goes to workers once as plain
arrays. ``run(tasks, data, should_stop)`` yields Outcome(index, PointResult | message | None,
attempts) and Retry as points finish; ``should_pause`` holds inline and pool sweeps between
points (Held events). A point's numbers do not depend on the executor: each
task carries its seed and its torch thread count (set in pool workers before torch loads and
in Ray workers per task).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Iterator

from core.common import executors as common
from core.common.errors import InputError
from core.common.executors import (DEFAULT_EXECUTOR, DEFAULT_RETRIES, EXECUTORS,  # noqa: F401
                                   Held, Job, Outcome, Retry, ray_install_message, ray_missing)

__all__ = ["DEFAULT_EXECUTOR", "DEFAULT_RETRIES", "EXECUTORS", "Held", "InlineExecutor", "Outcome",
           "PoolExecutor", "RayExecutor", "Retry", "make_executor", "pack", "ray_missing",
           "unpack"]


def pack(data) -> dict:
    """MnistData as plain arrays (it holds a lock and tensor cache that do not pickle)."""
    return {"train_images": data.train_images, "train_labels": data.train_labels,
            "test_images": data.test_images, "test_labels": data.test_labels,
            "source": data.source, "kind": data.kind}


def unpack(packed: dict):
    from core.training.data import MnistData
    return MnistData(**packed)


def _train(task, data, should_stop):
    from core.training.sweep_points import run_point  # looked up per call (tests replace it)
    return run_point(task, data, should_stop)


def _prepare_pool_worker(threads: int, packed: dict):
    """In a pool worker (its thread variables already set): torch's threads, the data."""
    import torch
    torch.set_num_threads(threads)
    return unpack(packed)


def _train_on_ray(task, data, should_stop):
    import torch
    torch.set_num_threads(task.config.threads)
    return _train(task, data, should_stop)


class InlineExecutor(common.InlineExecutor):
    """Points one after another in this process (a stop is seen before every batch, a
    pause between points: the point that is training finishes first)."""

    def run(self, tasks, data, should_stop: Callable[[], bool] = lambda: False,
            should_pause: Callable[[], bool] = lambda: False) -> Iterator[Outcome | Retry | Held]:
        return self.run_job(Job(_train, data), tasks, should_stop, should_pause)


class PoolExecutor(common.PoolExecutor):
    """Points in spawned local processes, each running torch on ``threads`` threads."""

    def run(self, tasks, data, should_stop: Callable[[], bool] = lambda: False,
            should_pause: Callable[[], bool] = lambda: False) -> Iterator[Outcome | Retry | Held]:
        job = Job(_train, pack(data), partial(_prepare_pool_worker, self.threads))
        return self.run_job(job, tasks, should_stop, should_pause)


class RayExecutor(common.RayExecutor):
    """Points as Ray tasks, each on ``threads`` CPUs with torch on the point's threads."""

    def __init__(self, cluster: str = "local", threads: int = 1,
                 retries: int = DEFAULT_RETRIES):
        if ray_missing():
            raise InputError(ray_install_message())
        super().__init__(cluster, threads, retries)

    def run(self, tasks, data, should_stop: Callable[[], bool] = lambda: False,
            should_pause: Callable[[], bool] = lambda: False) -> Iterator[Outcome | Retry]:
        """``should_pause`` is not honoured: every task is submitted at once."""
        return self.run_job(Job(_train_on_ray, pack(data), unpack), tasks, should_stop)


def make_executor(name: str, cluster: str | None = None, workers: int | None = None,
                  threads: int = 1, retries: int = DEFAULT_RETRIES):
    """The training executor called ``name`` (InputError naming what is allowed otherwise)."""
    common.check_choice(name, cluster, retries)
    if name == "inline":
        return InlineExecutor(retries)
    if name == "pool":
        return PoolExecutor(workers, threads, retries)
    return RayExecutor(cluster or "local", threads, retries)
