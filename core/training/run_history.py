"""The runs a training session keeps: settings, per-epoch metrics, the per-batch loss curve
and the summary numbers, as tables (CSV / Markdown / LaTeX through core.common.tables) and JSON.

The Training workspace shows ``history_table`` and overlays the kept curves; the export
actions write ``history_table``, ``epochs_table`` and ``histories_json``. No Qt, no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from core.common.tables import Table

JSON_FORMAT = "mlsys-studio-training-history"

HISTORY_HEADERS = ("#", "model", "optimizer", "lr", "batch", "epochs", "seed", "device",
                   "status", "train time (s)", "infer ms/batch", "infer µs/image",
                   "test acc (%)", "params", "MACs", "input", "output", "dataset")
EPOCH_HEADERS = ("run", "model", "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                 "seconds")


@dataclass
class RunRecord:
    """One run: ``settings`` is TrainConfig.as_dict(), ``summary`` the TrainResult summary
    (inference figures None when the run was stopped), the batch curve in global steps."""

    index: int
    model: str
    status: str
    settings: dict
    summary: dict
    input_shape: str = ""
    output_shape: str = ""
    steps_per_epoch: int = 1
    batch_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    batch_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def epochs(self) -> list[dict]:
        return list(self.summary.get("epochs") or [])

    @property
    def test_acc(self) -> float | None:
        return self.epochs[-1]["test_acc"] if self.epochs else None

    @property
    def label(self) -> str:
        return f"#{self.index} {self.model}"

    def epoch_series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(global step at the end of each epoch, ``key`` per epoch) for plotting."""
        epochs = self.epochs
        x = np.array([e["epoch"] * self.steps_per_epoch for e in epochs], dtype=float)
        y = np.array([e[key] for e in epochs], dtype=float)
        return x, y

    def table_row(self) -> list:
        s, c = self.summary, self.settings
        per_batch, per_image = s.get("inference_ms_per_batch"), s.get("inference_ms_per_image")
        planned = c.get("max_epochs") if c.get("until_converged") else c.get("epochs")
        return [self.index, self.model, c.get("optimizer", ""), _lr_text(c.get("lr")),
                c.get("batch_size"), f"{len(self.epochs)}/{planned}" if planned else
                len(self.epochs), c.get("seed"), c.get("device", "cpu"), self.status,
                _rounded(s.get("train_seconds"), 2), _rounded(per_batch, 3),
                None if per_image is None else round(1000 * per_image, 2),
                None if self.test_acc is None else round(100 * self.test_acc, 2),
                s.get("params"), s.get("macs"), self.input_shape, self.output_shape,
                s.get("dataset", "")]

    def as_dict(self) -> dict:
        return {"index": self.index, "model": self.model, "status": self.status,
                "settings": self.settings, "summary": self.summary,
                "input_shape": self.input_shape, "output_shape": self.output_shape,
                "steps_per_epoch": self.steps_per_epoch,
                "batch_loss": {"step": self.batch_steps.astype(int).tolist(),
                               "loss": [float(v) for v in self.batch_losses]}}


def _lr_text(value) -> str:
    return "" if value is None else f"{value:g}"


def _rounded(value, digits: int):
    return None if value is None else round(float(value), digits)


def history_table(records: list[RunRecord]) -> Table:
    """One row per run: the numbers a systems course asks for."""
    numeric = {0, 4, 6, 9, 10, 11, 12, 13, 14}
    return Table(list(HISTORY_HEADERS), [r.table_row() for r in records],
                 title="Training runs", numeric=numeric)


def epochs_table(records: list[RunRecord]) -> Table:
    """Every epoch of every run, one row each (long format, for plotting elsewhere)."""
    rows = [[r.index, r.model, e["epoch"], e["train_loss"], e["train_acc"], e["test_loss"],
             e["test_acc"], e["seconds"]] for r in records for e in r.epochs]
    return Table(list(EPOCH_HEADERS), rows, title="Per-epoch history", numeric={0, 2})


def histories_json(records: list[RunRecord]) -> str:
    return json.dumps({"format": JSON_FORMAT, "version": 1,
                       "runs": [r.as_dict() for r in records]}, indent=1)
