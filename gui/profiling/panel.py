"""The Profiling workspace page: choose a model and how to time it, Start/Stop with a
progress bar, and watch latency and throughput against batch size fill in; then the
roofline, the per-layer table (sortable, GEMM shapes visible), the time by layer type and
a summary in words. Every table and plot exports (gui.profiling.exports).

Settings are checked by core (ProfileConfig) and each problem is shown beside its field.
The model is resolved and torch imported in the worker thread only.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFormLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPlainTextEdit, QProgressBar, QPushButton, QScrollArea,
                               QTableWidget, QTableWidgetItem, QTabWidget, QToolButton,
                               QVBoxLayout, QWidget)

from core.common.errors import InputError, MlsysError
from core.profiling.config import DEVICES, MODES, PRECISIONS

from gui.profiling.exports import ProfilingExports
from gui.profiling.plots import BatchPlots, RooflinePlot
from gui.widgets.workspace_layout import lay_out_workspace
from gui.widgets.worker import JOIN_TIMEOUT_MS, JobController
from gui.widgets.field import add_field_row

PRESETS = ("lenet5", "lenet5-ds", "mlp", "cnn", "resnet18", "resnet50", "bert-base",
           "transformer")
CURRENT_DESIGN = "current design"
ERROR_STYLE = "color: #c0392b;"
# first word of a core InputError → the field it concerns
FIELD_OF_ERROR = {"batches": "batches", "batch": "batches", "repeats": "repeats",
                  "warmup": "warmup", "budget": "budget", "device": "device",
                  "threads": "threads", "mode": "mode", "precision": "precision",
                  "memory": "batches", "input": "input", "model": "model"}


def auto_threads() -> int:
    """Leave one core to the window (as Training does)."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def profile_events(spec: str, network, shape, config, should_stop):
    """The worker's generator: resolve the model (torch and fx load here), then profile."""
    from core.profiling.profiler import profile
    from core.torchbridge.resolve import resolve_model, set_input_shape
    if network is None:
        network = resolve_model(spec, shape)
    elif shape is not None:
        set_input_shape(network, shape)
    yield from profile(network, config, should_stop)


class NumericItem(QTableWidgetItem):
    """A cell shown as formatted text but sorted by its number (empty cells first)."""

    def __init__(self, text: str, key):
        super().__init__(text)
        self.key = key
        self.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def __lt__(self, other) -> bool:
        if isinstance(other, NumericItem):
            mine = float("-inf") if self.key is None else self.key
            theirs = float("-inf") if other.key is None else other.key
            return mine < theirs
        return super().__lt__(other)


def fill_table(view: QTableWidget, table) -> None:
    """Show a core.common.tables.Table (numbers sortable as numbers)."""
    view.setSortingEnabled(False)
    view.clear()
    view.setColumnCount(len(table.headers))
    view.setHorizontalHeaderLabels(table.headers)
    view.setRowCount(len(table.rows))
    for r, row in enumerate(table.rows):
        for c, value in enumerate(row):
            text = table.cell(value, c)
            item = NumericItem(text, value) if c in table.numeric else QTableWidgetItem(text)
            item.setFlags(item.flags() & ~Qt.ItemIsEditable)
            view.setItem(r, c, item)
    view.setSortingEnabled(True)
    view.resizeColumnsToContents()


class ProfilingPanel(QWidget):
    """Profile presets, the current design or any importable model, live."""

    def __init__(self, document_provider: Callable[[], object] | None = None, parent=None):
        super().__init__(parent)
        self.setToolTip("Latency and throughput against batch size, per-layer time and a "
                        "measured roofline")
        self.document_provider = document_provider
        self.controller = JobController(self)
        self.result = None  # core.profiling.ProfileResult of the last run
        self.stored_run_id: int | None = None  # the last profile's id in the run store
        self.config = None
        self._live = None  # what the batch table needs while a run goes on
        self._build()
        self.exports = ProfilingExports(self)
        self.export_button.setMenu(self.exports.menu)
        self.controller.sig_event.connect(self.on_event)
        self.controller.sig_error.connect(self.on_error)
        self.controller.sig_running.connect(self.on_running)
        self.roofline.sig_selected.connect(self.select_layer)
        self.layer_view.itemSelectionChanged.connect(self._on_layer_row_selected)
        self._update_buttons(False)

    # -- layout ------------------------------------------------------------------------
    def _field(self, form, name: str, label: str, widget: QWidget, tip: str) -> None:
        widget.setToolTip(tip)
        self.fields[name] = widget
        self.field_errors[name] = add_field_row(form, label, widget)

    def _build(self) -> None:
        self.fields: dict[str, QWidget] = {}
        self.field_errors: dict[str, QLabel] = {}
        controls = QWidget()
        left = QVBoxLayout(controls)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self._build_settings())
        left.addLayout(self._build_buttons())
        left.addWidget(self.progress)
        left.addWidget(self.status_label)
        left.addStretch(1)
        scroll = QScrollArea()  # the form stays reachable on a short screen
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(290)
        scroll.setMaximumWidth(380)

        self.batch_plots = BatchPlots()
        self.roofline = RooflinePlot()
        self.plot_tabs = QTabWidget()
        self.plot_tabs.addTab(self.batch_plots, "Latency and throughput")
        self.plot_tabs.addTab(self.roofline, "Roofline")
        lay_out_workspace(self, scroll, self.plot_tabs, self._build_results())

    def _build_settings(self) -> QGroupBox:
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.addItems(list(PRESETS))
        self.model_combo.addItem(CURRENT_DESIGN)
        if self.document_provider is None:
            self.model_combo.model().item(self.model_combo.count() - 1).setEnabled(False)
        self.input_shape = QLineEdit()
        self.input_shape.setPlaceholderText("the model's own")
        self.batches = QLineEdit("1,8,32,64")
        self.repeats = QLineEdit("30")
        self.warmup = QLineEdit("3")
        self.budget = QLineEdit("1.0")
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.threads = QLineEdit()
        self.threads.setPlaceholderText(f"auto ({auto_threads()})")
        self.mode = QComboBox()
        self.mode.addItems(list(MODES))
        self.precision = QComboBox()
        self.precision.addItems(list(PRECISIONS))
        self.per_layer = QCheckBox("per-layer times")
        self.per_layer.setChecked(True)
        self.per_layer.setToolTip("Time every layer with forward hooks at the largest batch")
        self.memory = QCheckBox("peak memory")
        self.memory.setChecked(True)
        self.memory.setToolTip("Measured peak memory of one forward at the largest batch "
                               "(CUDA: max allocated; CPU: the torch profiler's memory "
                               "records, a few seconds the first time)")
        self.roofline_box = QCheckBox("roofline (measure the machine's peaks)")
        self.roofline_box.setChecked(True)
        self.roofline_box.setToolTip("A large GEMM and a large copy measure peak FLOP/s and "
                                     "bandwidth (cached per device, dtype and threads)")
        self.log_x = QCheckBox("log batch axis")
        self.log_x.setToolTip("Batch sizes on a logarithmic axis")
        self.log_x.toggled.connect(self.batch_plots_log_x)
        box = QGroupBox("Profile")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self._field(form, "model", "Model", self.model_combo,
                    "A preset, the current design, torchvision:NAME or path/model.py:factory")
        self._field(form, "input", "Input", self.input_shape,
                    "Per-sample input shape C,H,W or L; empty: the model's own")
        self._field(form, "batches", "Batches", self.batches, "Batch sizes, comma-separated")
        self._field(form, "repeats", "Repeats", self.repeats, "Timed runs per batch at most")
        self._field(form, "warmup", "Warm-up", self.warmup, "Untimed runs before timing")
        self._field(form, "budget", "Budget (s)", self.budget,
                    "Seconds of timed runs per measurement (warm-up not counted)")
        self._field(form, "device", "Device", self.device,
                    "cpu, or cuda when torch sees a GPU (synchronised before each reading)")
        self._field(form, "threads", "Threads", self.threads,
                    "Torch CPU threads for the profile (restored afterwards); empty: one "
                    "fewer than the cores, leaving one to the window")
        self._field(form, "mode", "Step", self.mode,
                    "inference (torch.inference_mode) or one training step (forward, "
                    "backward, SGD step)")
        self._field(form, "precision", "Precision", self.precision,
                    "dtype of weights and inputs, and of the engine's byte counts")
        form.addRow("", self.per_layer)
        form.addRow("", self.memory)
        form.addRow("", self.roofline_box)
        form.addRow("", self.log_x)
        return box

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start profiling (Ctrl+Enter)")
        self.start_button.setShortcut("Ctrl+Return")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current run of the model (within a "
                                    "second for models that run faster than that)")
        self.stop_button.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        return row

    def _table_view(self, tip: str) -> QTableWidget:
        view = QTableWidget()
        view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        view.setSelectionBehavior(QAbstractItemView.SelectRows)
        view.setSelectionMode(QAbstractItemView.SingleSelection)
        view.setAlternatingRowColors(True)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        view.verticalHeader().setVisible(False)
        view.setToolTip(tip)
        return view

    def _build_results(self) -> QWidget:
        self.layer_view = self._table_view(
            "Each layer's measured forward time beside the engine's counts and the roofline's "
            "prediction; click a header to sort (e.g. by measured ms)")
        self.group_view = self._table_view("Measured time per layer type")
        self.batch_view = self._table_view("Median latency, inter-quartile range and "
                                           "throughput per batch size")
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setPlaceholderText("The summary appears when a profile ends.")
        self.result_tabs = QTabWidget()
        self.result_tabs.addTab(self.summary, "Summary")
        self.result_tabs.addTab(self.batch_view, "Batches")
        self.result_tabs.addTab(self.layer_view, "Layers")
        self.result_tabs.addTab(self.group_view, "By layer type")
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        self.export_button.setToolTip("Tables (CSV/Markdown/LaTeX), plots (PNG/SVG), summary")
        self.result_tabs.setCornerWidget(self.export_button, Qt.TopRightCorner)
        self.result_tabs.setMinimumHeight(160)
        return self.result_tabs

    # -- settings ----------------------------------------------------------------------
    def _clear_errors(self) -> None:
        for label in self.field_errors.values():
            label.clear()
            label.setVisible(False)

    def show_field_error(self, name: str, message: str) -> None:
        self.field_errors[name].setText(message)
        self.field_errors[name].setVisible(True)

    def _whole(self, name: str, label: str, default: int | None = None):
        text = self.fields[name].text().strip().replace(",", "").replace("_", "")
        if not text and default is not None:
            return default
        try:
            return int(text)
        except ValueError:
            raise InputError(f"{label} {text!r} is not a whole number") from None

    def read_config(self):
        """A ProfileConfig from the fields, or None with each problem beside its field."""
        from core.profiling.config import ProfileConfig, parse_batches
        self._clear_errors()
        values, ok = {}, True
        readers = {
            "batches": lambda: parse_batches(self.batches.text()),
            "repeats": lambda: self._whole("repeats", "repeats"),
            "warmup": lambda: self._whole("warmup", "warmup"),
            "threads": lambda: self._whole("threads", "threads", auto_threads()),
            "budget": self._read_budget,
        }
        for name, read in readers.items():
            try:
                values[name] = read()
            except InputError as exc:
                self.show_field_error(name, str(exc))
                ok = False
        if not ok:
            return None
        try:
            return ProfileConfig(batches=values["batches"], repeats=values["repeats"],
                                 warmup=values["warmup"], budget_s=values["budget"],
                                 threads=values["threads"], device=self.device.currentText(),
                                 mode=self.mode.currentText(),
                                 precision=self.precision.currentText(),
                                 per_layer=self.per_layer.isChecked(),
                                 roofline=self.roofline_box.isChecked(),
                                 memory=self.memory.isChecked())
        except InputError as exc:
            self.show_field_error(FIELD_OF_ERROR.get(str(exc).split(" ", 1)[0], "batches"),
                                  str(exc))
            return None

    def _read_budget(self) -> float:
        text = self.budget.text().strip()
        try:
            return float(text)
        except ValueError:
            raise InputError(f"budget {text!r} is not a number of seconds (e.g. 1.0)") from None

    def _model(self):
        """(spec, network or None, shape): a network now for the current design; other
        models are resolved in the worker (torchvision and factories import torch)."""
        from core.torchbridge.resolve import parse_shape
        spec = self.model_combo.currentText().strip()
        text = self.input_shape.text().strip()
        try:
            shape = parse_shape(text) if text else None
        except InputError as exc:
            self.show_field_error("input", str(exc))
            raise
        if spec != CURRENT_DESIGN:
            if not spec:
                raise InputError("model is empty: choose a preset or type torchvision:NAME")
            return spec, None, shape
        network = self.document_provider() if self.document_provider else None
        if network is None:
            raise InputError("there is no current design to profile: open or draw one in the "
                             "Design workspace")
        return spec, network.copy(), shape  # the worker never sees later edits

    # -- actions -----------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.controller.is_running()

    @Slot()
    def start(self) -> bool:
        if self.controller.is_running():
            return False
        config = self.read_config()
        if config is None:
            self.set_status("Fix the highlighted fields to start.", error=True)
            return False
        try:
            spec, network, shape = self._model()
        except MlsysError as exc:
            if not self.field_errors["input"].isVisible():
                self.show_field_error("model", str(exc))
            self.set_status(str(exc), error=True)
            return False
        self.config, self.result = config, None
        self._live = SimpleNamespace(model=spec, mode=config.mode, device=config.device,
                                     threads=config.threads, config=config, batches=[])
        self.batch_plots.reset()
        self.roofline.reset()
        for view in (self.layer_view, self.group_view, self.batch_view):
            view.setRowCount(0)
        self.summary.clear()
        self.progress.setRange(0, 0)  # busy until Started tells the step count
        self.progress.setFormat("loading the model…")
        self.set_status(f"Loading {spec}…")

        def make_events(should_stop, _should_pause):  # a profile does not pause
            return profile_events(spec, network, shape, config, should_stop)
        started = self.controller.start(make_events)
        self._update_buttons(started)
        return started

    @Slot()
    def stop(self) -> None:
        self.controller.stop()
        if self.controller.is_running():
            self.set_status("Stopping after the current run…")

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
        self.exports.cleanup()
        return self.controller.shutdown(timeout_ms)

    @Slot(bool)
    def batch_plots_log_x(self, log: bool) -> None:
        self.batch_plots.set_log_x(log)

    # -- events (GUI thread) -----------------------------------------------------------
    @Slot(object)
    def on_event(self, event) -> None:
        from core.profiling import profiler as p
        if isinstance(event, p.Started):
            self._live.model, self._live.threads = event.model, event.threads
            self.progress.setRange(0, event.steps)
            self.progress.setValue(0)
            self.progress.setFormat("%v of %m measurements")
            self.set_status(f"Profiling {event.model} ({event.params:,} parameters) on "
                            f"{event.device}, {event.threads} thread(s)…")
        elif isinstance(event, p.PeaksMeasured):
            self.progress.setValue(event.step)
            self.set_status(f"Machine: {event.peaks.peak_flops / 1e9:,.1f} GFLOP/s, "
                            f"{event.peaks.bandwidth / 1e9:,.1f} GB/s. Timing batches…")
        elif isinstance(event, p.BatchMeasured):
            self.progress.setValue(event.step)
            self._live.batches.append(event.result)
            self.batch_plots.add_batch(event.result)
            self._show_batches(self._live)
            self.set_status(f"Batch {event.result.batch}: {event.result.latency_ms:,.3g} ms "
                            f"({event.result.throughput_per_s:,.1f} items/s)")
        elif isinstance(event, p.LayersMeasured):
            self.progress.setValue(event.step)
        elif isinstance(event, (p.Finished, p.Stopped, p.Failed)):
            self.show_result(event.result)
            self.stored_run_id = record_profile(event.result)
            if isinstance(event, p.Failed):
                self.set_status(f"Profiling failed: {event.message}", error=True)
            elif isinstance(event, p.Stopped):
                self.set_status("Stopped: the measurements made so far are shown.")
            else:
                self.set_status(f"Done: {len(event.result.batches)} batch sizes"
                                + (f", {len(event.result.layers)} layers timed"
                                   if event.result.layers else "") + ".")

    def _show_batches(self, result) -> None:
        from core.profiling.report import batch_table
        fill_table(self.batch_view, batch_table(result))

    def show_result(self, result) -> None:
        """Tables, roofline and summary of a finished (or stopped) profile."""
        from core.profiling.report import group_table, layer_table
        from core.profiling.summary import summary_lines
        self.result = result
        self._show_batches(result)
        if result.layers:
            fill_table(self.layer_view, layer_table(result))
            self._add_formulas(result.layers)
            fill_table(self.group_view, group_table(result))
            self.roofline.set_profile(result.layers, result.peaks)
        self.summary.setPlainText("\n\n".join(summary_lines(result)))

    def _add_formulas(self, layers) -> None:
        """The engine's formula behind each layer's MACs, as the MACs cell's tooltip."""
        from core.profiling.report import LAYER_HEADERS
        column = LAYER_HEADERS.index("MACs")
        formulas = {l.name: l.cost.formula for l in layers}
        for row in range(self.layer_view.rowCount()):
            name = self.layer_view.item(row, 0).text()
            if formulas.get(name):
                self.layer_view.item(row, column).setToolTip(formulas[name])

    @Slot(str)
    def on_error(self, message: str) -> None:
        self.set_status(f"Cannot profile: {message}", error=True)

    @Slot(bool)
    def on_running(self, running: bool) -> None:
        self._update_buttons(running)
        if not running:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if self.result is not None else 0)
            self.progress.setFormat("done" if self.result is not None else "idle")

    def _update_buttons(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    # -- selection between the roofline and the table ------------------------------------
    @Slot(str)
    def select_layer(self, name: str) -> None:
        """Select ``name``'s row in the per-layer table (and show that table)."""
        for row in range(self.layer_view.rowCount()):
            item = self.layer_view.item(row, 0)
            if item is not None and item.text() == name:
                self.layer_view.selectRow(row)
                self.layer_view.scrollToItem(item)
                self.result_tabs.setCurrentWidget(self.layer_view)
                return

    def selected_layer(self) -> str | None:
        rows = self.layer_view.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.layer_view.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    @Slot()
    def _on_layer_row_selected(self) -> None:
        name = self.selected_layer()
        if name is not None:
            self.roofline.select(name)


def record_profile(result) -> int | None:
    """Keep a profile in the run store as the ``profile`` command does (kind "profile", its
    settings, its JSON report as the summary); None when the store cannot be opened."""
    import dataclasses

    from core.profiling.report import as_json
    from core.training.run_store import RunStore, RunStoreError
    try:
        store = RunStore()
        run_id = store.start_run("profile", result.model, dataclasses.asdict(result.config),
                                 device=result.config.device)
        store.finish_run(run_id, result.status if result.status != "running" else "stopped",
                         as_json(result))
    except (RunStoreError, OSError):
        return None
    return run_id
