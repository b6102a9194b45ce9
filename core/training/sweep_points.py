"""One sweep point as a worker sees it: the picklable task (design as a dict, config with
its seed and thread count), the plain result, and ``run_point`` that trains it. Shared by
core.training.sweeps (which plans tasks) and core.training.executors (which runs them in
this process, spawned processes or Ray workers); imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from core.common.executors import cores  # noqa: F401 (re-exported for core.training.sweeps)

if TYPE_CHECKING:
    from core.training.data import MnistData
    from core.training.trainer import TrainConfig


@dataclass(frozen=True)
class PointTask:
    """One (grid point, seed): everything a worker needs, picklable (the design as a dict).
    ``index`` counts from 1 in grid order, repeats of a point next to each other."""

    index: int
    settings: dict
    seed: int
    repeat: int  # 1-based
    label: str
    design: dict
    config: "TrainConfig"  # seed and threads set


@dataclass
class PointResult:
    """What training one task gave (in the worker); plain data, picklable."""

    status: str  # finished, converged, failed
    message: str
    epochs: list  # EpochEvent.as_dict() per epoch
    batch_losses: list  # per step
    train_seconds: float | None
    images_per_sec: float | None
    device: str = "cpu"
    dataset: str = ""
    threads: int = 1
    inference_ms_per_batch: float | None = None  # at the training batch size


def run_point(task: PointTask, data: "MnistData",
              should_stop: Callable[[], bool] = lambda: False) -> PointResult | None:
    """Train one task (in whichever process runs it) and return plain results; None if
    stopped. Deterministic for a given task and data: the weights and the batch order
    come from the task's seed, and torch runs on exactly ``config.threads`` threads."""
    from core.common.errors import MlsysError
    from core.graph.io import network_from_dict
    from core.training.trainer import (BatchEvent, EpochEvent, Failed, Finished, Started,
                                       Stopped, train)
    losses, epochs, result, device, threads = [], [], None, "cpu", task.config.threads
    try:
        network = network_from_dict(task.design)
        for event in train(network, data, task.config, should_stop):
            if isinstance(event, BatchEvent):
                losses.append(event.loss)
            elif isinstance(event, EpochEvent):
                epochs.append(dict(event.as_dict(), images_per_sec=event.images_per_sec))
            elif isinstance(event, Started):
                device, threads = event.device, event.threads
            elif isinstance(event, (Finished, Failed, Stopped)):
                result = event.result
    except MlsysError as exc:
        return PointResult("failed", str(exc), epochs, losses, None, None, device,
                           data.description, threads)
    if result is None or result.status == "stopped":
        return None
    rates = [e["images_per_sec"] for e in epochs]
    return PointResult(result.status, result.message if result.status == "failed" else "",
                       epochs, losses, result.train_seconds,
                       sum(rates) / len(rates) if rates else None, device, result.dataset,
                       threads, _inference_ms(result, task))


def _inference_ms(result, task: PointTask) -> float | None:
    """Median forward time of one batch at the point's batch size, on the point's threads
    (under a pool the other workers share the machine: compare within one executor)."""
    from core.training.experiments import INFERENCE_BUDGET_S
    if result.status == "failed":
        return None
    try:
        return result.model.inference_time(task.config.batch_size,
                                           budget_s=INFERENCE_BUDGET_S).ms_per_batch
    except (RuntimeError, ValueError):
        return None
