"""The Training workspace page: choose a model and hyper-parameters, train it on MNIST in a
worker thread while live plots, a progress bar with ETA and a run history fill in, and see
the confusion matrix of the last finished run.

Bad hyper-parameters are reported next to their field (core's TrainConfig validates them,
DESIGN convention 9); failures during a run appear in the status line, never as a dialog
that could block. Torch is imported only inside the worker thread's generator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSizePolicy, QSplitter,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout,
                               QWidget)

from core.errors import InputError, MlsysError

from .plots import TrainingPlotsWidget
from .worker import JOIN_TIMEOUT_MS, TrainingController

PRESETS = ("lenet5", "lenet5-ds", "lenet5-classic", "mlp", "cnn")
CURRENT_DESIGN = "current design"
OPTIMIZER_CHOICES = ("adam", "sgd")
ERROR_STYLE = "color: #c0392b;"
HISTORY_COLUMNS = ("#", "model", "optimizer", "lr", "batch", "epochs", "seed", "status",
                   "train time (s)", "infer ms/batch", "infer µs/image", "test acc (%)",
                   "params", "MACs", "dataset")
FIELD_OF_ERROR = {"lr": "lr", "batch_size": "batch_size", "epochs": "epochs",
                  "max_epochs": "epochs", "seed": "seed", "threads": "threads",
                  "optimizer": "optimizer"}


@dataclass(frozen=True)
class RunReport:
    """Sent by the panel's generator after the run's last core event: the numbers a
    history row needs and, for finished runs, the test confusion matrix."""

    status: str  # finished, converged, stopped, failed
    summary: dict
    confusion: np.ndarray | None


def run_events(network, folder: str, config, should_stop, should_pause):
    """The generator the worker runs (worker thread): load data, train, then report."""
    from core.data import load_mnist
    from core.training import Failed, Finished, Stopped, train
    data = load_mnist(folder or None)
    for event in train(network, data, config, should_stop, should_pause):
        yield event
        if isinstance(event, Finished):
            result = event.result
            yield RunReport(result.status, result.summary(),
                            result.model.confusion_matrix(data))
        elif isinstance(event, (Stopped, Failed)):
            # Stop must be quick: no inference timing, only the cheap counts.
            result = event.result
            counts = result.model.counts()
            yield RunReport(result.status, {
                "model": result.model.name, "status": result.status,
                "epochs": [e.as_dict() for e in result.epochs],
                "train_seconds": result.train_seconds, "inference_ms_per_batch": None,
                "inference_ms_per_image": None, "params": counts.get("params"),
                "macs": counts.get("macs"), "dataset": result.dataset}, None)


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainingPanel(QWidget):
    """Train presets or the current design on MNIST, live."""

    sig_run_ended = Signal(str)  # status of the run whose thread has just ended

    def __init__(self, document_provider: Callable[[], object] | None = None, parent=None):
        super().__init__(parent)
        self.setToolTip("Train a network on MNIST and watch loss and accuracy live")
        self.document_provider = document_provider
        self.controller = TrainingController(self)
        self.history: list[dict] = []
        self._pending: dict | None = None  # settings of the run in progress
        self._last_status = ""
        self._planned_steps = 1
        self._build()
        self.controller.sig_event.connect(self.on_event)
        self.controller.sig_batches.connect(self.on_batches)
        self.controller.sig_error.connect(self.on_error)
        self.controller.sig_running.connect(self.on_running)
        self._update_buttons(False)
        self._update_dataset_label()

    # -- layout ------------------------------------------------------------------------
    def _field(self, form: QFormLayout, name: str, label: str, widget: QWidget,
               tip: str) -> None:
        widget.setToolTip(tip)
        error = QLabel()
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        error.setVisible(False)
        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(widget)
        box.addWidget(error)
        form.addRow(label, box)
        self.fields[name] = widget
        self.field_errors[name] = error

    def _build(self) -> None:
        self.fields: dict[str, QWidget] = {}
        self.field_errors: dict[str, QLabel] = {}

        self.model_combo = QComboBox()
        self.model_combo.addItems(list(PRESETS))
        self.model_combo.addItem(CURRENT_DESIGN)
        if self.document_provider is None:
            index = self.model_combo.count() - 1
            self.model_combo.model().item(index).setEnabled(False)
        model_box = QGroupBox("Model")
        model_form = QFormLayout(model_box)
        self._field(model_form, "model", "Network", self.model_combo,
                    "A preset, or the design open in the Design workspace")

        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZER_CHOICES))
        self.lr = QLineEdit()
        self.lr.setPlaceholderText("default (adam 1e-3, sgd 0.05)")
        self.batch_size = QLineEdit("128")
        self.epochs = QLineEdit("2")
        self.until_converged = QCheckBox("until converged (epochs = cap, patience 2)")
        self.seed = QLineEdit("0")
        self.threads = QLineEdit()
        self.threads.setPlaceholderText("auto")
        hyper_box = QGroupBox("Hyper-parameters")
        form = QFormLayout(hyper_box)
        self._field(form, "optimizer", "Optimizer", self.optimizer, "adam or SGD (momentum 0.9)")
        self._field(form, "lr", "Learning rate", self.lr, "Empty: the optimizer's default")
        self._field(form, "batch_size", "Batch size", self.batch_size, "Images per step")
        self._field(form, "epochs", "Epochs", self.epochs,
                    "Epochs to run (the cap when 'until converged')")
        form.addRow("", self.until_converged)
        self._field(form, "seed", "Seed", self.seed, "Seeds weights and shuffling")
        self._field(form, "threads", "CPU threads", self.threads,
                    "Torch threads; empty: automatic (at most 8)")

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("$MLSYS_MNIST_DIR or the bundled sample")
        self.folder.editingFinished.connect(self._update_dataset_label)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.choose_folder)
        self.dataset_label = QLabel()
        self.dataset_label.setWordWrap(True)
        data_box = QGroupBox("Data")
        data_layout = QVBoxLayout(data_box)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse_button)
        data_layout.addLayout(row)
        data_layout.addWidget(self.dataset_label)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.set_paused)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)

        controls = QWidget()
        left = QVBoxLayout(controls)
        left.addWidget(model_box)
        left.addWidget(hyper_box)
        left.addWidget(data_box)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status_label)
        left.addStretch(1)
        controls.setMinimumWidth(300)
        controls.setMaximumWidth(420)

        self.plots = TrainingPlotsWidget()
        self.history_table = QTableWidget(0, len(HISTORY_COLUMNS))
        self.history_table.setHorizontalHeaderLabels(list(HISTORY_COLUMNS))
        self.history_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.history_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.history_table.verticalHeader().setVisible(False)
        self.history_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeToContents)
        self.history_table.horizontalHeader().setStretchLastSection(True)
        self.confusion_table = QTableWidget(10, 10)
        self.confusion_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.confusion_table.setHorizontalHeaderLabels([f"pred {i}" for i in range(10)])
        self.confusion_table.setVerticalHeaderLabels([f"true {i}" for i in range(10)])
        self.confusion_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.confusion_table.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)
        # ten rows must fit the short results pane without a scroll bar
        self.confusion_table.verticalHeader().setMinimumSectionSize(14)
        self.confusion_table.setToolTip("Test-set confusion matrix of the last finished run "
                                        "(row: true digit, column: predicted; colour: share "
                                        "of the row)")
        self.results_tabs = QTabWidget()
        self.results_tabs.addTab(self.history_table, "Run history")
        self.results_tabs.addTab(self.confusion_table, "Confusion matrix")

        right = QSplitter(Qt.Vertical)
        right.addWidget(self.plots)
        right.addWidget(self.results_tabs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        self.results_tabs.setMinimumHeight(300)  # the 10×10 matrix fits without scrolling
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(controls)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    # -- inputs ------------------------------------------------------------------------
    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "MNIST folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self._update_dataset_label()

    @Slot()
    def _update_dataset_label(self) -> None:
        folder = self.folder.text().strip()
        env = os.environ.get("MLSYS_MNIST_DIR", "").strip()
        if folder:
            text = f"Dataset: MNIST files in {folder} (checked when training starts)"
        elif env:
            text = f"Dataset: $MLSYS_MNIST_DIR = {env}"
        else:
            text = "Dataset: the bundled sample (3,000 train / 1,000 test images)"
        self.dataset_label.setText(text)

    def _clear_errors(self) -> None:
        for label in self.field_errors.values():
            label.clear()
            label.setVisible(False)

    def show_field_error(self, name: str, message: str) -> None:
        label = self.field_errors[name]
        label.setText(message)
        label.setVisible(True)

    @staticmethod
    def _whole(text: str, name: str):
        text = text.strip().replace(",", "").replace("_", "")
        try:
            return int(text)
        except ValueError:
            raise InputError(f"{name} {text!r} is not a whole number") from None

    def read_config(self):
        """A TrainConfig from the fields, or None with each problem shown beside its field."""
        from core.training import TrainConfig  # numpy only at import; torch stays lazy
        self._clear_errors()
        values, ok = {}, True
        parsers = {
            "batch_size": lambda t: self._whole(t, "batch size"),
            "epochs": lambda t: self._whole(t, "epochs"),
            "seed": lambda t: self._whole(t, "seed"),
            "threads": lambda t: None if not t.strip() else self._whole(t, "threads"),
        }
        for name, parse in parsers.items():
            try:
                values[name] = parse(self.fields[name].text())
            except InputError as exc:
                self.show_field_error(name, str(exc))
                ok = False
        text = self.lr.text().strip()
        if text:
            try:
                values["lr"] = float(text)
            except ValueError:
                self.show_field_error("lr", f"learning rate {text!r} is not a number "
                                            f"(e.g. 0.001 or 1e-3)")
                ok = False
        else:
            values["lr"] = None
        if not ok:
            return None
        epochs = values.pop("epochs")
        until = self.until_converged.isChecked()
        try:
            return TrainConfig(optimizer=self.optimizer.currentText(), until_converged=until,
                               epochs=epochs if not until else 1,
                               max_epochs=epochs if until else 30, **values)
        except MlsysError as exc:
            message = str(exc)
            key = message.split(" ", 1)[0]
            self.show_field_error(FIELD_OF_ERROR.get(key, "epochs"), message)
            return None

    def _network(self):
        from core.presets import load_preset
        name = self.model_combo.currentText()
        if name != CURRENT_DESIGN:
            return load_preset(name)
        network = self.document_provider() if self.document_provider else None
        if network is None:
            raise InputError("there is no current design to train: open or draw one in the "
                             "Design workspace")
        return network.copy()  # the worker must never see edits made while it trains

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
            network = self._network()
        except MlsysError as exc:
            self.show_field_error("model", str(exc))
            self.set_status(str(exc), error=True)
            return False
        folder = self.folder.text().strip()
        self._pending = {"model": self.model_combo.currentText(), "config": config}
        self._last_status = ""
        self._planned_steps = 1
        self.plots.reset()
        self.progress.setRange(0, 0)  # busy until Started tells the step count
        self.progress.setFormat("loading data…")
        self.set_status(f"Starting {network.name}…")

        def make_events(should_stop, should_pause):
            return run_events(network, folder, config, should_stop, should_pause)
        started = self.controller.start(make_events)
        if started:
            self._update_buttons(True)
        return started

    @Slot()
    def stop(self) -> None:
        if self.controller.is_running():
            self.set_status("Stopping…")
        self.controller.stop()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        self.controller.pause(paused)
        self.pause_button.setText("Resume" if paused else "Pause")

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
        """Stop the run and join its thread (the main window calls this when closing)."""
        self.plots.timer.stop()
        return self.controller.shutdown(timeout_ms)

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    def _update_buttons(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        for widget in (self.model_combo, self.optimizer, self.lr, self.batch_size, self.epochs,
                       self.until_converged, self.seed, self.threads, self.folder,
                       self.browse_button):
            widget.setEnabled(not running)
        if not running and self.pause_button.isChecked():
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    # -- events from the worker (GUI thread) ---------------------------------------------
    @Slot(object)
    def on_batches(self, events) -> None:
        if not events:
            return
        self.plots.add_batches(events)
        e = events[-1]
        done = (e.epoch - 1) * e.steps_per_epoch + e.step
        total = max(self._planned_steps, done)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        eta = e.elapsed / done * (total - done) if done else 0.0
        bound = "≤ " if self._pending and self._pending["config"].until_converged else ""
        self.progress.setFormat(f"%p%  epoch {e.epoch}  ETA {bound}{format_seconds(eta)}")
        if not self.pause_button.isChecked():
            self.set_status(f"Epoch {e.epoch}, step {e.step}/{e.steps_per_epoch}: loss "
                            f"{e.loss:.4f}, {e.images_per_sec:,.0f} images/s")

    @Slot(object)
    def on_event(self, event) -> None:
        kind = type(event).__name__
        if kind == "Started":
            self._planned_steps = event.steps_per_epoch * event.epochs
            self.plots.reset(event.steps_per_epoch)
            self.progress.setRange(0, self._planned_steps)
            self.progress.setValue(0)
            self.progress.setFormat("%p%")
            self.dataset_label.setText(f"Dataset: {event.dataset}")
            self.set_status(f"Training {event.model} ({event.params:,} parameters) on "
                            f"{event.device}, {event.threads} thread(s)…")
        elif kind == "EpochEvent":
            self.plots.add_epoch(event)
            self.set_status(f"Epoch {event.epoch}: test accuracy {100 * event.test_acc:.2f} %"
                            f", test loss {event.test_loss:.4f} ({event.seconds:.1f} s)")
        elif kind == "Paused":
            self.set_status(f"Paused at epoch {event.epoch}, step {event.step}.")
        elif kind == "Resumed":
            self.set_status(f"Resumed after {event.paused_seconds:.1f} s.")
        elif kind in ("Finished", "Stopped", "Failed"):
            result = event.result
            self._last_status = result.status
            if kind == "Failed":
                self.set_status(f"Training failed: {event.message}", error=True)
            elif kind == "Stopped":
                self.set_status(f"Stopped at epoch {event.epoch}, step {event.step}.")
            else:
                self.set_status(f"Done: {result.message or result.status}; measuring "
                                f"inference time…")
        elif isinstance(event, RunReport):
            self.add_history_row(event)
            if event.confusion is not None:
                self.show_confusion(event.confusion)
            if event.status in ("finished", "converged"):
                acc = event.summary["epochs"][-1]["test_acc"] if event.summary["epochs"] else 0
                self.set_status(f"Done: test accuracy {100 * acc:.2f} %.")

    @Slot(str)
    def on_error(self, message: str) -> None:
        self._last_status = "error"
        self.set_status(f"Training could not run: {message}", error=True)

    @Slot(bool)
    def on_running(self, running: bool) -> None:
        self._update_buttons(running)
        if not running:
            self.progress.setRange(0, max(1, self.progress.maximum()))
            if self._last_status in ("finished", "converged"):
                self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(f"%p%  {self._last_status or 'ended'}")
            self.plots.refresh()
            self.sig_run_ended.emit(self._last_status or "ended")

    # -- results -----------------------------------------------------------------------
    def add_history_row(self, report: RunReport) -> None:
        s, pending = report.summary, self._pending or {}
        config = pending.get("config")
        epochs = s.get("epochs") or []
        per_batch, per_image = s.get("inference_ms_per_batch"), s.get("inference_ms_per_image")
        row = {
            "#": len(self.history) + 1, "model": s.get("model", pending.get("model", "")),
            "optimizer": config.optimizer if config else "",
            "lr": f"{config.learning_rate:g}" if config else "",
            "batch": config.batch_size if config else "",
            "epochs": f"{len(epochs)}/{config.epoch_limit}" if config else len(epochs),
            "seed": config.seed if config else "", "status": report.status,
            "train time (s)": f"{s.get('train_seconds', 0):.2f}",
            "infer ms/batch": "—" if per_batch is None else f"{per_batch:.3f}",
            "infer µs/image": "—" if per_image is None else f"{1000 * per_image:.2f}",
            "test acc (%)": f"{100 * epochs[-1]['test_acc']:.2f}" if epochs else "—",
            "params": "—" if s.get("params") is None else f"{s['params']:,}",
            "MACs": "—" if s.get("macs") is None else f"{s['macs']:,}",
            "dataset": s.get("dataset", ""),
        }
        self.history.append({"settings": config.as_dict() if config else {}, "row": row,
                             "summary": s})
        r = self.history_table.rowCount()
        self.history_table.insertRow(r)
        for c, column in enumerate(HISTORY_COLUMNS):
            item = QTableWidgetItem(str(row[column]))
            if column not in ("model", "optimizer", "status", "dataset"):
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.history_table.setItem(r, c, item)
        self.history_table.scrollToBottom()

    def show_confusion(self, matrix: np.ndarray) -> None:
        matrix = np.asarray(matrix)
        rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
        share = matrix / rows
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                item = QTableWidgetItem(str(int(matrix[i, j])))
                item.setTextAlignment(Qt.AlignCenter)
                v = float(share[i, j])
                # diagonal in blue, errors in red; white is 0
                base = (31, 119, 180) if i == j else (214, 39, 40)
                alpha = v if i == j else min(1.0, 4 * v)
                color = QColor(*(int(255 - (255 - b) * alpha) for b in base))
                item.setBackground(color)
                item.setForeground(QColor("white") if alpha > 0.6 else QColor("black"))
                item.setToolTip(f"true {i}, predicted {j}: {int(matrix[i, j])} "
                                f"({100 * v:.1f} % of true {i})")
                self.confusion_table.setItem(i, j, item)
        self.confusion_matrix = matrix
