"""The Experiments tab: run the chosen model over a grid of up to two dimensions (batch
size, width, depth, kernel size, learning rate), each point ``repeats`` times over seeds,
on an executor (a local process pool by default, inline, or Ray), and tabulate and plot
each grid point's mean ± standard deviation (core.training.sweeps).

The view only collects the sweep and shows what arrives; the Training panel runs the sweep
in its worker thread (one thing trains at a time) and feeds ``start`` / ``update`` /
``finish``. Points arrive as they finish, so the table and the plot grow live.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from core.common.errors import InputError
from core.training.executors import DEFAULT_EXECUTOR, EXECUTORS
from core.training.experiments import EXAMPLES, SWEEP_KINDS, Sweep, parse_values, value_label
from core.training.sweeps import MAX_REPEATS, Grid, aggregates_table, rows_table

from gui.widgets.field import add_field_row
from gui.widgets.files import write_atomic
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format
from gui.training.plots import styled_plot

KIND_TEXT = {"batch_size": "batch size", "width": "width (channel multiplier)",
             "depth": "depth (extra hidden layers)", "kernel": "kernel size",
             "lr": "learning rate"}
NONE = ""  # the second dimension's "none"
# what the plot can show: aggregate metric -> axis label
METRICS = {"test_acc": "test accuracy (%)", "test_loss": "test loss",
           "train_seconds": "training s", "images_per_sec": "training images/s",
           "inference_ms_per_batch": "inference ms/batch"}
EXECUTOR_TEXT = {"pool": "process pool (local)", "inline": "inline (this process)",
                 "ray": "Ray cluster"}
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
           (23, 190, 207)]


@dataclass(frozen=True)
class SweepRequest:
    """What the form asks for; ``train_images`` None means the whole training split."""

    grid: Grid
    repeats: int
    executor: str
    cluster: str
    train_images: int | None


class ExperimentsView(QWidget):
    """Sweep form, results table and plot. ``sig_run(SweepRequest)`` asks the panel to
    run it."""

    sig_run = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid: Grid | None = None
        self.aggregates: list = []
        self.rows: list = []
        self.kind = self._kind_box(with_none=False)
        self.values = QLineEdit(EXAMPLES["batch_size"])
        self.values.setToolTip("Comma-separated values, at most 12")
        self.kind2 = self._kind_box(with_none=True)
        self.kind2.setToolTip("A second dimension: every value of the first is trained with "
                              "every value of this one")
        self.values2 = QLineEdit()
        self.values2.setToolTip("Comma-separated values of the second dimension")
        self.values2.setEnabled(False)
        self.kind.currentIndexChanged.connect(lambda: self._on_kind_changed(self.kind,
                                                                            self.values))
        self.kind2.currentIndexChanged.connect(lambda: self._on_kind_changed(self.kind2,
                                                                             self.values2))
        self.repeats = QSpinBox()
        self.repeats.setRange(1, MAX_REPEATS)
        self.repeats.setToolTip("Runs per grid point, with seeds seed, seed + 1, …: the table "
                                "shows their mean ± standard deviation, the plot error bars")
        self.executor = QComboBox()
        for name in EXECUTORS:
            self.executor.addItem(EXECUTOR_TEXT[name], name)
        self.executor.setCurrentIndex(self.executor.findData(DEFAULT_EXECUTOR))
        self.executor.setToolTip("Where points train: side by side in local processes (one "
                                 "torch thread each), one after another here, or on Ray. "
                                 "The numbers are the same on each.")
        self.executor.currentIndexChanged.connect(self._on_executor_changed)
        self.cluster = QLineEdit("local")
        self.cluster.setToolTip("Ray: local (start one here), ray://HOST:PORT or HOST:PORT")
        self.cluster.setEnabled(False)
        self.images = QLineEdit()
        self.images.setPlaceholderText("all")
        self.images.setToolTip("Training images per run (the first N); fewer make a quick "
                               "sweep. The test set is always whole.")
        self.run_button = QPushButton("Run sweep")
        self.run_button.setToolTip("Train every grid point × repeat (Stop on the left ends "
                                   "the sweep; finished points are kept in the run store and "
                                   "a rerun of the same sweep takes them from there)")
        self.run_button.clicked.connect(self.request_run)
        self.export_button = QPushButton("Export table…")
        self.export_button.setToolTip("The mean ± std table as CSV, Markdown or LaTeX")
        self.export_button.clicked.connect(self.export_table)
        self.metric = QComboBox()
        for key, text in METRICS.items():
            self.metric.addItem(text, key)
        self.metric.currentIndexChanged.connect(self.redraw)
        self.status = QLabel("Choose what to vary and press Run sweep.")
        self.status.setWordWrap(True)
        self._build()

    @staticmethod
    def _kind_box(with_none: bool) -> QComboBox:
        box = QComboBox()
        if with_none:
            box.addItem("— none —", NONE)
        for kind in SWEEP_KINDS:
            box.addItem(KIND_TEXT[kind], kind)
        box.setToolTip("What changes from run to run; everything else stays as set on the "
                       "left (model, optimizer, epochs, seed)")
        return box

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("Vary", self.kind)
        self.values_error = add_field_row(form, "Values", self.values)
        form.addRow("and by", self.kind2)
        self.values2_error = add_field_row(form, "Values", self.values2)
        form.addRow("Repeats", self.repeats)
        form.addRow("Executor", self.executor)
        form.addRow("Cluster", self.cluster)
        self.images_error = add_field_row(form, "Train images", self.images)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.export_button)
        form.addRow(buttons)
        form.addRow("Plot", self.metric)
        self.form = form
        form.setRowVisible(self.cluster, False)  # only for Ray
        side = QWidget()
        side.setLayout(form)
        side.setMaximumWidth(300)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.plot = styled_plot("", legend=True)
        self.plot.setMinimumWidth(220)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 400])
        row = QHBoxLayout()
        row.addWidget(side)
        row.addWidget(split, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(row, 1)
        layout.addWidget(self.status)
        self.redraw()

    # -- input -------------------------------------------------------------------------
    def current_kind(self) -> str:
        return self.kind.currentData()

    @staticmethod
    def _on_kind_changed(box: QComboBox, values: QLineEdit) -> None:
        kind = box.currentData()
        values.setEnabled(kind != NONE)
        values.setText(EXAMPLES[kind] if kind != NONE else "")

    @Slot()
    def _on_executor_changed(self) -> None:
        ray = self.executor.currentData() == "ray"
        self.cluster.setEnabled(ray)
        self.form.setRowVisible(self.cluster, ray)

    def read_request(self) -> SweepRequest | None:
        """The form as a SweepRequest, or None with the problem beside its field."""
        for label in (self.values_error, self.values2_error, self.images_error):
            label.hide()
        dims = []
        for box, values, error in ((self.kind, self.values, self.values_error),
                                   (self.kind2, self.values2, self.values2_error)):
            kind = box.currentData()
            if kind == NONE:
                continue
            try:
                dims.append(Sweep(kind, parse_values(kind, values.text())))
            except InputError as exc:
                self._field_error(error, str(exc))
                return None
        try:
            grid = Grid(tuple(dims))
        except InputError as exc:
            self._field_error(self.values2_error, str(exc))
            return None
        text = self.images.text().strip().replace(",", "").replace("_", "")
        images = None
        if text:
            if not text.isdigit() or int(text) < 1:
                self._field_error(self.images_error, f"train images {text!r} is not allowed: "
                                                     f"use a whole number ≥ 1, or leave empty")
                return None
            images = int(text)
        return SweepRequest(grid, self.repeats.value(), self.executor.currentData(),
                            self.cluster.text().strip() or "local", images)

    @staticmethod
    def _field_error(label: QLabel, message: str) -> None:
        label.setText(message)
        label.show()

    @Slot()
    def request_run(self) -> None:
        request = self.read_request()
        if request is not None:
            self.sig_run.emit(request)

    def set_running(self, running: bool) -> None:
        for widget in (self.run_button, self.kind, self.values, self.kind2, self.repeats,
                       self.executor, self.images):
            widget.setEnabled(not running)
        self.values2.setEnabled(not running and self.kind2.currentData() != NONE)
        self.cluster.setEnabled(not running and self.executor.currentData() == "ray")

    # -- results -----------------------------------------------------------------------
    def start(self, grid: Grid, runs: int) -> None:
        self.grid, self.aggregates, self.rows = grid, [], []
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.redraw()
        self.set_status(f"Sweep of {runs} runs over "
                        f"{' × '.join(KIND_TEXT[k] for k in grid.kinds)}…")

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def update(self, row, aggregates) -> None:
        """A point finished (``row``, core.training.sweeps.PointRow): the table shows the
        grid points' mean ± std so far."""
        self.rows.append(row)
        self.aggregates = list(aggregates)
        self._fill_table()
        self.redraw()

    def _fill_table(self) -> None:
        table = aggregates_table(self.aggregates, self.grid)
        self.table.setColumnCount(len(table.headers))
        self.table.setHorizontalHeaderLabels(table.headers)
        self.table.setRowCount(len(table.rows))
        for r, values in enumerate(table.rows):
            for c, value in enumerate(values):
                item = QTableWidgetItem("—" if value is None else table.cell(value, c))
                if c in table.numeric:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)

    def finish(self, status: str, from_store: int = 0) -> None:
        done = len(self.rows)
        stored = f" ({from_store} from the run store)" if from_store else ""
        self.set_status(f"Sweep {status}: {done} run{'s' if done != 1 else ''}{stored}, "
                        f"{len(self.aggregates)} grid point"
                        f"{'s' if len(self.aggregates) != 1 else ''} in the table.")

    def series(self, key: str) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        """(legend, x, mean, std) per value of the second dimension (one series without
        one), x the first dimension's values; accuracy in %."""
        if self.grid is None:
            return []
        first = self.grid.kinds[0]
        second = self.grid.kinds[1] if len(self.grid.kinds) > 1 else None
        groups: dict = {}
        for agg in self.aggregates:
            if agg.mean.get(key) is None:
                continue
            groups.setdefault(agg.settings.get(second) if second else None, []).append(agg)
        scale = 100.0 if key == "test_acc" else 1.0
        out = []
        for value, aggs in groups.items():
            aggs = sorted(aggs, key=lambda a: a.settings[first])
            out.append((value_label(second, value) if second else "",
                        np.array([float(a.settings[first]) for a in aggs]),
                        scale * np.array([a.mean[key] for a in aggs]),
                        scale * np.array([a.std[key] for a in aggs])))
        return out

    @Slot()
    def redraw(self) -> None:
        """One line with error bars per series; the first dimension's values sit evenly
        spaced (batch sizes and learning rates are usually spread geometrically)."""
        key = self.metric.currentData()
        self.plot.clear()
        self.curves, self.error_bars = [], []
        kind = self.grid.kinds[0] if self.grid else self.current_kind()
        values = list(self.grid.dims[0].values) if self.grid else []
        position = {float(v): i for i, v in enumerate(sorted(values))}
        for i, (legend, x, mean, std) in enumerate(self.series(key)):
            colour = COLOURS[i % len(COLOURS)]
            xs = np.array([position[float(v)] for v in x], dtype=float)
            curve = self.plot.plot(xs, mean, pen=pg.mkPen(colour, width=2), symbol="o",
                                   symbolSize=7, symbolBrush=colour, name=legend or None)
            bars = pg.ErrorBarItem(x=xs, y=mean, top=std, bottom=std, beam=0.12,
                                   pen=pg.mkPen(colour, width=1.5))
            self.plot.addItem(bars)
            self.curves.append(curve)
            self.error_bars.append(bars)
        self.plot.getAxis("bottom").setTicks(
            [[(i, f"{v:g}") for i, v in enumerate(sorted(values))]] if values else None)
        if values:
            self.plot.setXRange(-0.3, len(values) - 0.7, padding=0)
        self.plot.setLabel("bottom", KIND_TEXT[kind])
        repeated = any(a.repeats > 1 for a in self.aggregates)
        self.plot.setTitle(METRICS[key] + (" ± std" if repeated else ""), color="k",
                           size="10pt")

    @Slot()
    def export_table(self, path: str | None = None, per_run: bool = False) -> str | None:
        """The mean ± std table (or, ``per_run``, every repeat) as CSV, Markdown or LaTeX."""
        from core.common.tables import render
        if not self.aggregates:
            self.set_status("Nothing to export yet: run a sweep first.", error=True)
            return None
        chosen = ""
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self, "Export the sweep",
                                                       "experiment.csv", TABLE_FILTER)
        if not path:
            return None
        path, fmt = table_path_and_format(path, chosen)
        table = rows_table(self.rows, self.grid) if per_run else \
            aggregates_table(self.aggregates, self.grid)
        try:
            write_atomic(path, render(table, fmt))
        except OSError as exc:
            self.set_status(f"Cannot write {path}: {exc.strerror or exc}", error=True)
            return None
        self.set_status(f"Wrote {path}")
        return str(path)
