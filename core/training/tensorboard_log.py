"""TensorBoard logs of a training run: the trainer's events written as scalars with
``torch.utils.tensorboard``, so runs open in TensorBoard as users expect (batch loss by
global step; train and test loss and accuracy by epoch). Needs the ``tensorboard``
package (the ``tensorboard`` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterator

from core.common.errors import InputError, printable


def tensorboard_missing() -> bool:
    return importlib.util.find_spec("tensorboard") is None


class TensorBoardRecorder:
    """Writes a run's scalars under ``logdir/run_name`` as its events pass."""

    def __init__(self, logdir: str | Path, run_name: str):
        if tensorboard_missing():
            raise InputError("--tensorboard needs the tensorboard package: install with "
                             "`pip install tensorboard` (or the project's [tensorboard] extra)")
        self.folder = Path(logdir) / run_name
        self._writer = None

    def wrap(self, events: Iterator) -> Iterator:
        try:
            for event in events:
                self.record(event)
                yield event
        finally:
            self.close()

    def record(self, event) -> None:
        name = type(event).__name__
        if name == "Started":
            self._open()
        elif self._writer is None:
            return
        elif name == "BatchEvent":
            step = (event.epoch - 1) * event.steps_per_epoch + event.step
            self._writer.add_scalar("batch/loss", event.loss, step)
            self._writer.add_scalar("batch/accuracy", event.acc, step)
        elif name == "EpochEvent":
            for tag, value in (("loss/train", event.train_loss), ("loss/test", event.test_loss),
                               ("accuracy/train", event.train_acc),
                               ("accuracy/test", event.test_acc)):
                self._writer.add_scalar(tag, value, event.epoch)
            self._writer.flush()

    def _open(self) -> None:
        from torch.utils.tensorboard import SummaryWriter
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write TensorBoard logs to {printable(str(self.folder))}: "
                             f"{exc.strerror or exc}") from None
        self._writer = SummaryWriter(str(self.folder))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_scalars(logdir: str | Path, run_name: str, epochs: list[dict],
                  batch_losses: list[float]) -> Path:
    """A finished run's scalars (epoch dicts as EpochEvent.as_dict(), batch losses by
    step) written at once under ``logdir/run_name``: what a sweep point sends back."""
    recorder = TensorBoardRecorder(logdir, run_name)
    recorder._open()
    try:
        for step, loss in enumerate(batch_losses, 1):
            recorder._writer.add_scalar("batch/loss", loss, step)
        for epoch in epochs:
            for tag, key in (("loss/train", "train_loss"), ("loss/test", "test_loss"),
                             ("accuracy/train", "train_acc"), ("accuracy/test", "test_acc")):
                if epoch.get(key) is not None:
                    recorder._writer.add_scalar(tag, epoch[key], epoch["epoch"])
    finally:
        recorder.close()
    return recorder.folder


def write_profile_scalars(logdir: str | Path, run_name: str, result) -> Path:
    """A profile (core.profiling ProfileResult, read by its attributes) as scalars whose
    step is the batch size: median latency and its inter-quartile range in ms, per-item ms
    and throughput in items/s; with a per-layer profile, each layer's ms at the layer
    batch under layer_ms/."""
    recorder = TensorBoardRecorder(logdir, run_name)
    recorder._open()
    try:
        writer = recorder._writer
        for batch in result.batches:
            writer.add_scalar("profile/latency_ms", batch.latency_ms, batch.batch)
            writer.add_scalar("profile/latency_iqr_ms", batch.latency_iqr_ms, batch.batch)
            writer.add_scalar("profile/per_item_ms", batch.per_item_ms, batch.batch)
            writer.add_scalar("profile/throughput_per_s", batch.throughput_per_s, batch.batch)
        for layer in result.layers or []:
            measured = getattr(layer, "measured_ms", None)
            if measured is not None:
                writer.add_scalar(f"layer_ms/{layer.name}", measured, result.layer_batch or 0)
    finally:
        recorder.close()
    return recorder.folder
