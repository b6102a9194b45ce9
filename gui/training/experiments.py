"""The Experiments tab: run the chosen model over a grid of any number of dimensions (batch
size, width, depth, kernel size, learning rate; one row each, added and removed in the
form), each point ``repeats`` times over seeds, on an executor (a local process pool by
default, inline, or Ray), and tabulate and plot each grid point's mean ± standard deviation
(core.training.sweeps): x is the first dimension, one series per combination of the
others. A second plot draws each finished point's per-epoch test curve.

The view only collects the sweep and shows what arrives; the Training panel runs the sweep
in its worker thread (one thing trains at a time) and feeds ``start`` / ``update`` /
``finish``. Points arrive as they finish, so the table and the plots grow live.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFormLayout,
                               QFrame, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QScrollArea, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QTabWidget, QToolButton, QVBoxLayout,
                               QWidget)

from core.common.errors import InputError
from core.training.executors import DEFAULT_EXECUTOR, EXECUTORS
from core.training.experiments import EXAMPLES, SWEEP_KINDS, Sweep, parse_values, value_label
from core.training.sweep_points import cores
from core.training.sweeps import MAX_POINTS, MAX_REPEATS, Grid, aggregates_table, rows_table

from gui.widgets.field import ERROR_STYLE
from gui.widgets.files import export_widget, write_atomic
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format
from gui.training.plots import styled_plot

KIND_TEXT = {"batch_size": "batch size", "width": "width (channel multiplier)",
             "depth": "depth (extra hidden layers)", "kernel": "kernel size",
             "lr": "learning rate"}
SHORT_TEXT = {"batch_size": "batch size", "width": "width ×", "depth": "depth +",
              "kernel": "kernel", "lr": "learning rate"}
# what the grid plot can show: aggregate metric -> axis label
METRICS = {"test_acc": "test accuracy (%)", "test_loss": "test loss",
           "train_seconds": "training s", "images_per_sec": "training images/s",
           "inference_ms_per_batch": "inference ms/batch"}
# what the per-point curves can show: epoch metric -> axis label
CURVE_METRICS = {"test_loss": "test loss", "test_acc": "test accuracy (%)"}
EXECUTOR_TEXT = {"pool": "process pool (local)", "inline": "inline (this process)",
                 "ray": "Ray cluster"}
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
           (23, 190, 207), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34)]
# the pool starts its workers (spawn, import torch, receive the data) in seconds: below
# these sizes inline tends to finish first (benchmarks/bench_sweep_executors.py)
SMALL_RUNS_PER_WORKER = 2
SMALL_TRAIN_IMAGES = 10_000
MAX_LEGEND = 6  # more per-point curves than this: no legend, click a line for its name
PLOT_FILTER = "PNG image (*.png);;SVG vector image (*.svg)"


@dataclass(frozen=True)
class SweepRequest:
    """What the form asks for; ``train_images`` None means the whole training split."""

    grid: Grid
    repeats: int
    executor: str
    cluster: str
    train_images: int | None


class DimensionRow(QWidget):
    """One grid dimension: what varies, its comma-separated values, a remove button, and
    its one-line problem beneath (checked as the values are edited)."""

    sig_changed = Signal()
    sig_remove = Signal(object)

    def __init__(self, kind: str, parent=None):
        super().__init__(parent)
        self.kind = QComboBox()
        for name in SWEEP_KINDS:
            self.kind.addItem(SHORT_TEXT[name], name)
            self.kind.setItemData(self.kind.count() - 1, KIND_TEXT[name], Qt.ToolTipRole)
        self.kind.setCurrentIndex(self.kind.findData(kind))
        self.kind.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.kind.setMinimumContentsLength(8)
        self.kind.setToolTip("What changes from run to run; everything else stays as set on "
                             "the left (model, optimizer, epochs, seed)")
        self.values = QLineEdit(EXAMPLES[kind])
        self.values.setToolTip("Comma-separated values, at most 12")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this dimension")
        self.remove.clicked.connect(lambda: self.sig_remove.emit(self))
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.kind)
        line.addWidget(self.values, 1)
        line.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(line)
        layout.addWidget(self.error)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.values.textChanged.connect(self.sig_changed)

    def current_kind(self) -> str:
        return self.kind.currentData()

    @Slot()
    def _on_kind_changed(self) -> None:
        self.values.setText(EXAMPLES[self.current_kind()])  # emits sig_changed

    def sweep(self) -> Sweep | None:
        """The row as a checked Sweep, or None with the problem shown beneath it."""
        kind = self.current_kind()
        try:
            sweep = Sweep(kind, parse_values(kind, self.values.text()))
        except InputError as exc:
            self.show_error(str(exc))
            return None
        self.error.hide()
        return sweep

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()


class ExperimentsView(QWidget):
    """Sweep form, results table and plots. ``sig_run(SweepRequest)`` asks the panel to
    run it."""

    sig_run = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid: Grid | None = None
        self.aggregates: list = []
        self.rows: list = []
        self.point_epochs: list = []  # (PointRow, its per-epoch dicts), as they finish
        self.dims: list[DimensionRow] = []
        self.dims_layout = QVBoxLayout()
        self.dims_layout.setContentsMargins(0, 0, 0, 0)
        self.dims_layout.setSpacing(2)
        self.add_button = QPushButton("Add dimension")
        self.add_button.setToolTip("Another dimension: every value of the others is trained "
                                   "with every value of this one")
        self.add_button.clicked.connect(lambda: self.add_dimension())
        self.size_label = QLabel()
        self.size_label.setWordWrap(True)
        self.size_label.setToolTip(f"Grid points × repeats: at most {MAX_POINTS} runs")
        self.repeats = QSpinBox()
        self.repeats.setRange(1, MAX_REPEATS)
        self.repeats.setToolTip("Runs per grid point, with seeds seed, seed + 1, …: the table "
                                "shows their mean ± standard deviation, the plot error bars")
        self.repeats.valueChanged.connect(self.validate)
        self.executor = QComboBox()
        for name in EXECUTORS:
            self.executor.addItem(EXECUTOR_TEXT[name], name)
        self.executor.setCurrentIndex(self.executor.findData(DEFAULT_EXECUTOR))
        self.executor.setToolTip("Where points train: side by side in local processes (one "
                                 "torch thread each), one after another here, or on Ray. "
                                 "The numbers are the same on each.")
        self.executor.currentIndexChanged.connect(self._on_executor_changed)
        self.executor_hint = QLabel()
        self.executor_hint.setWordWrap(True)
        self.executor_hint.setStyleSheet("color: #7f6000;")
        self.executor_hint.hide()
        self.cluster = QLineEdit("local")
        self.cluster.setToolTip("Ray: local (start one here), ray://HOST:PORT or HOST:PORT")
        self.cluster.setEnabled(False)
        self.images = QLineEdit()
        self.images.setPlaceholderText("all")
        self.images.setToolTip("Training images per run (the first N); fewer make a quick "
                               "sweep. The test set is always whole.")
        self.images.textChanged.connect(self.validate)
        self.run_button = QPushButton("Run sweep")
        self.run_button.setToolTip("Train every grid point × repeat (Pause on the left holds "
                                   "it after the running points, Stop ends it; finished "
                                   "points are kept in the run store and a rerun of the "
                                   "same sweep takes them from there)")
        self.run_button.clicked.connect(self.request_run)
        self.export_button = QPushButton("Export table…")
        self.export_button.setToolTip("The mean ± std table as CSV, Markdown or LaTeX")
        self.export_button.clicked.connect(self.export_table)
        self.save_plot_button = QPushButton("Save plot…")
        self.save_plot_button.setToolTip("The plot shown (grid or per-point curves) as PNG "
                                         "or SVG")
        self.save_plot_button.clicked.connect(lambda: self.save_plot())
        self.metric = QComboBox()
        for key, text in METRICS.items():
            self.metric.addItem(text, key)
        self.metric.setToolTip("What the grid plot shows, per grid point (mean ± std)")
        self.metric.currentIndexChanged.connect(self.redraw)
        self.curve_metric = QComboBox()
        for key, text in CURVE_METRICS.items():
            self.curve_metric.addItem(text, key)
        self.curve_metric.setToolTip("What the per-point curves show, per epoch")
        self.curve_metric.currentIndexChanged.connect(self.redraw_curves)
        self.status = QLabel("Choose what to vary and press Run sweep.")
        self.status.setWordWrap(True)
        self.running = False
        self._build()
        self.add_dimension("batch_size")

    def _build(self) -> None:
        dims = QWidget()
        box = QVBoxLayout(dims)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        title = QLabel("Vary (the plot's x is the first)")
        title.setToolTip("Every combination of the values below is trained; the grid plot "
                         "has the first dimension across and one line per combination of "
                         "the others")
        box.addWidget(title)
        box.addLayout(self.dims_layout)
        size_row = QHBoxLayout()
        size_row.addWidget(self.add_button, 0, Qt.AlignTop)
        size_row.addWidget(self.size_label, 1)
        box.addLayout(size_row)
        form = QFormLayout()
        form.addRow(dims)
        counts = QWidget()  # repeats and train images share a row: 720 px is short
        counts_box = QVBoxLayout(counts)
        counts_box.setContentsMargins(0, 0, 0, 0)
        counts_box.setSpacing(1)
        line = QHBoxLayout()
        line.addWidget(self.repeats)
        images_label = QLabel("Train images")
        images_label.setToolTip(self.images.toolTip())
        line.addWidget(images_label)
        line.addWidget(self.images, 1)
        counts_box.addLayout(line)
        self.images_error = QLabel()
        self.images_error.setWordWrap(True)
        self.images_error.setStyleSheet(ERROR_STYLE)
        self.images_error.hide()
        counts_box.addWidget(self.images_error)
        form.addRow("Repeats", counts)
        executor = QWidget()
        executor_box = QVBoxLayout(executor)
        executor_box.setContentsMargins(0, 0, 0, 0)
        executor_box.setSpacing(1)
        executor_box.addWidget(self.executor)
        executor_box.addWidget(self.executor_hint)
        form.addRow("Executor", executor)
        form.addRow("Cluster", self.cluster)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.export_button)
        form.addRow(buttons)
        self.form = form
        form.setRowVisible(self.cluster, False)  # only for Ray
        side = QWidget()
        side.setLayout(form)
        scroll = QScrollArea()  # many dimensions or errors never push the form off screen
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(310)
        scroll.setMaximumWidth(340)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.plot = styled_plot("", legend=True)
        self.plot.setMinimumWidth(220)
        self.curve_plot = styled_plot("", legend=True)
        self.curve_plot.setLabel("bottom", "epoch")
        self.curve_plot.setMinimumWidth(220)
        self.plots = QTabWidget()
        self.plots.addTab(self._with_choice(self.plot, self.metric), "Grid")
        self.plots.addTab(self._with_choice(self.curve_plot, self.curve_metric), "Per point")
        self.plots.setTabToolTip(0, "Mean ± std per grid point: x the first dimension, one "
                                    "line per combination of the others")
        self.plots.setTabToolTip(1, "Each finished point's curve over its epochs (click a "
                                    "line to name it)")
        plots = QWidget()
        plots_box = QVBoxLayout(plots)
        plots_box.setContentsMargins(0, 0, 0, 0)
        plots_box.setSpacing(1)
        plots_box.addWidget(self.plots, 1)
        plots_box.addWidget(self.save_plot_button, 0, Qt.AlignRight)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.table)
        split.addWidget(plots)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([450, 450])
        row = QHBoxLayout()
        row.addWidget(scroll)
        row.addWidget(split, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(row, 1)
        layout.addWidget(self.status)
        self.redraw()
        self.redraw_curves()

    @staticmethod
    def _with_choice(plot, choice: QComboBox) -> QWidget:
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(choice)
        layout.addWidget(plot, 1)
        return holder

    # -- dimensions --------------------------------------------------------------------
    def add_dimension(self, kind: str | None = None, values: str | None = None
                      ) -> DimensionRow | None:
        """A new dimension row (the first kind not used yet unless ``kind``)."""
        used = [d.current_kind() for d in self.dims]
        if kind is None:
            free = [k for k in SWEEP_KINDS if k not in used]
            if not free:
                return None
            kind = free[0]
        row = DimensionRow(kind)
        if values is not None:
            row.values.setText(values)
        row.sig_changed.connect(self.validate)
        row.sig_remove.connect(self.remove_dimension)
        self.dims.append(row)
        self.dims_layout.addWidget(row)
        self._update_dimension_buttons()
        self.validate()
        return row

    @Slot(object)
    def remove_dimension(self, row: DimensionRow) -> None:
        if row not in self.dims or len(self.dims) == 1:
            return
        self.dims.remove(row)
        self.dims_layout.removeWidget(row)
        row.deleteLater()
        self._update_dimension_buttons()
        self.validate()

    def set_dimensions(self, dims: list[tuple[str, str]]) -> None:
        """Replace the rows with ``[(kind, "v1, v2"), ...]`` (as a user would type them)."""
        for row in list(self.dims):
            self.dims.remove(row)
            self.dims_layout.removeWidget(row)
            row.deleteLater()
        for kind, values in dims:
            self.add_dimension(kind, values)

    def _update_dimension_buttons(self) -> None:
        self.add_button.setEnabled(not self.running and len(self.dims) < len(SWEEP_KINDS))
        for row in self.dims:
            row.remove.setEnabled(not self.running and len(self.dims) > 1)

    def current_kind(self) -> str:
        return self.dims[0].current_kind() if self.dims else SWEEP_KINDS[0]

    # -- checking as the form is edited ------------------------------------------------
    def _read_grid(self) -> Grid | None:
        """The rows as a Grid, or None with each problem beneath its row."""
        sweeps, ok = [], True
        for row in self.dims:
            sweep = row.sweep()
            ok = ok and sweep is not None
            sweeps.append(sweep)
        kinds = [s.kind for s in sweeps if s is not None]
        for row, sweep in zip(self.dims, sweeps):
            if sweep is not None and kinds.count(sweep.kind) > 1:
                row.show_error(f"{sweep.kind} is chosen twice: give each dimension once, "
                               f"with all its values")
                ok = False
        return Grid(tuple(sweeps)) if ok else None

    def _read_images(self) -> int | None | bool:
        """Train images (None: all), or False with the problem beneath the field."""
        self.images_error.hide()
        text = self.images.text().strip().replace(",", "").replace("_", "")
        if not text:
            return None
        if not text.isdigit() or int(text) < 1:
            self._field_error(self.images_error, f"train images {text!r} is not allowed: "
                                                 f"use a whole number ≥ 1, or leave empty")
            return False
        return int(text)

    @Slot()
    def validate(self) -> bool:
        """Check every field now: problems beneath their fields, the grid size live
        ("3 × 4 × 2 repeats = 24 runs", refused above the limit), the executor hint.
        True when the form can run."""
        grid = self._read_grid()
        images = self._read_images()
        if grid is None:
            self._set_size("Grid size: fix the values above.", error=True)
            self._update_hint(None, images)
            return False
        runs = grid.size() * self.repeats.value()
        factors = " × ".join(str(len(d.values)) for d in grid.dims)
        repeats = self.repeats.value()
        text = (f"{factors} × {repeats} repeats = {runs} runs" if repeats > 1
                else f"{factors} = {runs} run{'s' if runs != 1 else ''}")
        if runs > MAX_POINTS:
            self._set_size(f"{text}: too many, use at most {MAX_POINTS} runs "
                           f"(fewer values or repeats)", error=True)
            self._update_hint(None, images)
            return False
        self._set_size(text)
        self._update_hint(runs, images)
        return images is not False

    def _set_size(self, text: str, error: bool = False) -> None:
        self.size_label.setText(text)
        self.size_label.setStyleSheet(ERROR_STYLE if error else "")
        self.run_button.setEnabled(not self.running and not error)

    def workers(self) -> int:
        """The pool's workers (one torch thread each: one per core)."""
        return cores()

    def _update_hint(self, runs: int | None, images) -> None:
        """Suggest inline for a small sweep on the pool; the default stays the pool."""
        hint = ""
        if self.executor.currentData() == "pool" and runs is not None:
            workers = self.workers()
            if runs < SMALL_RUNS_PER_WORKER * workers:
                hint = (f"{runs} run{'s' if runs != 1 else ''} for {workers} workers: "
                        f"inline may be faster")
            elif isinstance(images, int) and images < SMALL_TRAIN_IMAGES:
                hint = f"{images:,} train images a run: inline may be faster"
        self.executor_hint.setText(hint)
        self.executor_hint.setToolTip(
            "The pool spends seconds starting its workers (spawn, import torch, receive the "
            "data): a small sweep can finish sooner inline (benchmarks/"
            "bench_sweep_executors.py). The numbers are the same either way." if hint else "")
        self.executor_hint.setVisible(bool(hint))

    # -- input -------------------------------------------------------------------------
    @Slot()
    def _on_executor_changed(self) -> None:
        ray = self.executor.currentData() == "ray"
        self.cluster.setEnabled(ray and not self.running)
        self.form.setRowVisible(self.cluster, ray)
        self.validate()

    def read_request(self) -> SweepRequest | None:
        """The form as a SweepRequest, or None with the problems beside their fields."""
        if not self.validate():
            return None
        return SweepRequest(self._read_grid(), self.repeats.value(),
                            self.executor.currentData(),
                            self.cluster.text().strip() or "local", self._read_images())

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
        self.running = running
        for widget in (self.repeats, self.executor, self.images):
            widget.setEnabled(not running)
        for row in self.dims:
            row.kind.setEnabled(not running)
            row.values.setEnabled(not running)
        self._update_dimension_buttons()
        self.cluster.setEnabled(not running and self.executor.currentData() == "ray")
        if running:
            self.run_button.setEnabled(False)
        else:
            self.validate()

    # -- results -----------------------------------------------------------------------
    def start(self, grid: Grid, runs: int) -> None:
        self.grid, self.aggregates, self.rows, self.point_epochs = grid, [], [], []
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.redraw()
        self.redraw_curves()
        self.set_status(f"Sweep of {runs} runs over "
                        f"{' × '.join(KIND_TEXT[k] for k in grid.kinds)}…")

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def update(self, row, aggregates, epochs=()) -> None:
        """A point finished (``row``, core.training.sweeps.PointRow, with its per-epoch
        dicts ``epochs``): the table shows the grid points' mean ± std so far, the curves
        plot gains the point's curve."""
        self.rows.append(row)
        self.aggregates = list(aggregates)
        if epochs:
            self.point_epochs.append((row, list(epochs)))
        self._fill_table()
        self.redraw()
        self.redraw_curves()

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
        """(legend, x, mean, std) per combination of the dimensions after the first (one
        series when there is only one), x the first dimension's values; accuracy in %."""
        if self.grid is None:
            return []
        first, others = self.grid.kinds[0], self.grid.kinds[1:]
        groups: dict = {}
        for agg in self.aggregates:
            if agg.mean.get(key) is None:
                continue
            groups.setdefault(tuple(agg.settings[k] for k in others), []).append(agg)
        scale = 100.0 if key == "test_acc" else 1.0
        out = []
        for values, aggs in groups.items():
            aggs = sorted(aggs, key=lambda a: a.settings[first])
            out.append((", ".join(value_label(k, v) for k, v in zip(others, values)),
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
            curve.setCurveClickable(True, width=6)
            curve.sigClicked.connect(self._name_curve)
            self.curves.append(curve)
            self.error_bars.append(bars)
        self.plot.getPlotItem().legend.setVisible(len(self.curves) <= MAX_LEGEND)
        self.plot.getAxis("bottom").setTicks(
            [[(i, f"{v:g}") for i, v in enumerate(sorted(values))]] if values else None)
        if values:
            self.plot.setXRange(-0.3, len(values) - 0.7, padding=0)
        self.plot.setLabel("bottom", KIND_TEXT[kind])
        repeated = any(a.repeats > 1 for a in self.aggregates)
        self.plot.setTitle(METRICS[key] + (" ± std" if repeated else ""), color="k",
                           size="10pt")

    def curve_name(self, row) -> str:
        """A point's curve in the legend: its settings, and its seed when repeated."""
        repeated = any(r.repeat > 1 for r, _ in self.point_epochs) or \
            any(a.repeats > 1 for a in self.aggregates)
        return f"{row.label}, seed {row.seed}" if repeated else row.label

    @Slot()
    def redraw_curves(self) -> None:
        """Each finished point's per-epoch test loss (or accuracy, in %) as its own line,
        named after the point (sweep points send no per-batch events: these are what a
        sweep shows of training)."""
        key = self.curve_metric.currentData()
        scale = 100.0 if key == "test_acc" else 1.0
        self.curve_plot.clear()
        self.point_curves = []
        for i, (row, epochs) in enumerate(sorted(self.point_epochs,
                                                 key=lambda p: p[0].index)):
            points = [(e["epoch"], e[key]) for e in epochs if e.get(key) is not None]
            if not points:
                continue
            colour = COLOURS[i % len(COLOURS)]
            x = np.array([p[0] for p in points], dtype=float)
            y = scale * np.array([p[1] for p in points], dtype=float)
            curve = self.curve_plot.plot(x, y, pen=pg.mkPen(colour, width=1.5), symbol="o",
                                         symbolSize=5, symbolBrush=colour,
                                         name=self.curve_name(row))
            curve.setCurveClickable(True, width=6)
            curve.sigClicked.connect(self._name_curve)
            self.point_curves.append(curve)
        legend = self.curve_plot.getPlotItem().legend
        many = len(self.point_curves) > MAX_LEGEND
        legend.setVisible(not many)  # a dozen names would hide the lines
        self.curve_plot.setLabel("left", CURVE_METRICS[key])
        self.curve_plot.setTitle(f"{CURVE_METRICS[key]} per epoch", color="k", size="10pt")
        self.curve_plot.setToolTip("Click a line to see which point it is"
                                   if many else "Each finished point's curve")
        epochs = max((len(e) for _, e in self.point_epochs), default=0)
        step = max(1, -(-epochs // 8))  # whole epochs, at most about 8 ticks
        self.curve_plot.getAxis("bottom").setTickSpacing(step, step)

    def _name_curve(self, curve, *_args) -> None:
        self.set_status(f"Curve: {curve.name()}")

    def save_plot(self, path: str | None = None) -> str | None:
        """The plot on show (grid or per-point curves) as PNG or SVG (by the suffix)."""
        plot = self.plots.currentWidget()
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the plot", "experiment.png",
                                                  PLOT_FILTER)
        if not path:
            return None
        try:
            export_widget(plot, path, "Experiment")
        except OSError as exc:
            self.set_status(f"Cannot write {path}: {exc.strerror or exc}", error=True)
            return None
        self.set_status(f"Wrote {path}")
        return str(path)

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
