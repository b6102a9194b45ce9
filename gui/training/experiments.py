"""The Experiments tab: run the chosen model at several batch sizes, widths, depths or
kernel sizes (core.training.experiments) and tabulate and plot the effect on training time,
inference time, accuracy, parameters and MACs.

The view only collects the sweep and shows rows; the Training panel runs the sweep in its
worker thread (one thing trains at a time) and feeds ``add_row`` / ``finish``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QWidget)

from core.common.errors import InputError
from core.training.experiments import EXAMPLES, SWEEP_KINDS, Sweep, parse_values, rows_table

from gui.widgets.field import add_field_row
from gui.widgets.files import write_atomic
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format
from gui.training.plots import styled_plot

KIND_TEXT = {"batch_size": "batch size", "width": "width (channel multiplier)",
             "depth": "depth (extra hidden layers)", "kernel": "kernel size"}
# what the plot can show: row attribute -> axis label
METRICS = {"seconds_per_epoch": "training s/epoch", "images_per_sec": "training images/s",
           "inference_ms_per_batch": "inference ms/batch",
           "inference_us_per_image": "inference µs/image", "test_acc": "test accuracy (%)",
           "params": "parameters", "macs": "MACs per image"}
TEXT_COLUMNS = {"kind", "variant", "status", "input", "output"}
HIDDEN_COLUMNS = {"kind", "variant"}  # shown by the form and the value column; exported


class ExperimentsView(QWidget):
    """Sweep form, results table and plot. ``sig_run(sweep, train_images)`` asks the panel
    to run; ``train_images`` is None for the whole training split."""

    sig_run = Signal(object, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []
        self.kind = QComboBox()
        for kind in SWEEP_KINDS:
            self.kind.addItem(KIND_TEXT[kind], kind)
        self.kind.setToolTip("What changes from run to run; everything else stays as set "
                             "on the left (model, optimizer, epochs, seed)")
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.values = QLineEdit(EXAMPLES["batch_size"])
        self.values.setToolTip("Comma-separated values, at most 12")
        self.images = QLineEdit()
        self.images.setPlaceholderText("all")
        self.images.setToolTip("Training images per run (the first N); fewer make a quick "
                               "sweep. The test set is always whole.")
        self.run_button = QPushButton("Run sweep")
        self.run_button.setToolTip("Train one model per value, one after another (Stop on "
                                   "the left ends the sweep)")
        self.run_button.clicked.connect(self.request_run)
        self.export_button = QPushButton("Export table…")
        self.export_button.clicked.connect(self.export_table)
        self.metric = QComboBox()
        for key, text in METRICS.items():
            self.metric.addItem(text, key)
        self.metric.currentIndexChanged.connect(self.redraw)
        self.status = QLabel("Choose what to vary and press Run sweep.")
        self.status.setWordWrap(True)
        self._build()

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("Vary", self.kind)
        self.values_error = add_field_row(form, "Values", self.values)
        self.images_error = add_field_row(form, "Train images", self.images)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.export_button)
        form.addRow(buttons)
        form.addRow("Plot", self.metric)
        form.addRow(self.status)
        side = QWidget()
        side.setLayout(form)
        side.setMaximumWidth(290)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.plot = styled_plot("", legend=False)
        self.plot.setMinimumWidth(220)
        self.curve = self.plot.plot(pen=pg.mkPen((31, 119, 180), width=2), symbol="o",
                                    symbolSize=7, symbolBrush=(31, 119, 180))
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 400])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(side)
        layout.addWidget(split, 1)
        self.redraw()

    # -- input -------------------------------------------------------------------------
    def current_kind(self) -> str:
        return self.kind.currentData()

    @Slot()
    def _on_kind_changed(self) -> None:
        self.values.setText(EXAMPLES[self.current_kind()])
        self.values_error.hide()

    def read_sweep(self) -> tuple[Sweep, int | None] | None:
        """(Sweep, training images or None), or None with the problem beside its field."""
        self.values_error.hide()
        self.images_error.hide()
        try:
            sweep = Sweep(self.current_kind(), parse_values(self.current_kind(),
                                                            self.values.text()))
        except InputError as exc:
            self._field_error(self.values_error, str(exc))
            return None
        text = self.images.text().strip().replace(",", "").replace("_", "")
        if not text:
            return sweep, None
        if not text.isdigit() or int(text) < 1:
            self._field_error(self.images_error, f"train images {text!r} is not allowed: "
                                                 f"use a whole number ≥ 1, or leave empty")
            return None
        return sweep, int(text)

    @staticmethod
    def _field_error(label: QLabel, message: str) -> None:
        label.setText(message)
        label.show()

    @Slot()
    def request_run(self) -> None:
        chosen = self.read_sweep()
        if chosen is not None:
            self.sig_run.emit(*chosen)

    def set_running(self, running: bool) -> None:
        for widget in (self.run_button, self.kind, self.values, self.images):
            widget.setEnabled(not running)

    # -- results -----------------------------------------------------------------------
    def start(self, runs: int, kind: str) -> None:
        self.rows = []
        self.table.setRowCount(0)
        self.redraw()
        self.set_status(f"Sweep of {runs} runs over {KIND_TEXT[kind]}…")

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def add_row(self, row) -> None:
        self.rows.append(row)
        table = rows_table(self.rows)
        if self.table.columnCount() != len(table.headers):
            self.table.setColumnCount(len(table.headers))
            self.table.setHorizontalHeaderLabels(table.headers)
            for c, header in enumerate(table.headers):  # the same on every row
                self.table.setColumnHidden(c, header in HIDDEN_COLUMNS)
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, (header, value) in enumerate(zip(table.headers, table.rows[-1])):
            item = QTableWidgetItem("—" if value is None else table.cell(value, c))
            if header not in TEXT_COLUMNS:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            if row.message:
                item.setToolTip(row.message)
            self.table.setItem(r, c, item)
        self.redraw()

    def finish(self, status: str) -> None:
        done = len(self.rows)
        self.set_status(f"Sweep {status}: {done} run{'s' if done != 1 else ''} in the table.")

    @Slot()
    def redraw(self) -> None:
        key = self.metric.currentData()
        rows = [r for r in self.rows if getattr(r, key) is not None]
        x = np.array([float(r.value) for r in rows])
        y = np.array([float(getattr(r, key)) for r in rows])
        if key == "test_acc":
            y = 100 * y
        self.curve.setData(x, y)
        kind = self.rows[0].kind if self.rows else self.current_kind()
        self.plot.setLabel("bottom", KIND_TEXT[kind])
        self.plot.setTitle(METRICS[key], color="k", size="10pt")
        self.plot.setLogMode(x=bool(kind == "batch_size" and len(x) and x.min() > 0), y=False)

    @Slot()
    def export_table(self, path: str | None = None) -> str | None:
        from core.common.tables import render
        if not self.rows:
            self.set_status("Nothing to export yet: run a sweep first.", error=True)
            return None
        chosen = ""
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self, "Export the sweep",
                                                       "experiment.csv", TABLE_FILTER)
        if not path:
            return None
        path, fmt = table_path_and_format(path, chosen)
        try:
            write_atomic(path, render(rows_table(self.rows), fmt))
        except OSError as exc:
            self.set_status(f"Cannot write {path}: {exc.strerror or exc}", error=True)
            return None
        self.set_status(f"Wrote {path}")
        return str(path)
