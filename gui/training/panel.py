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
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QTabWidget, QToolButton, QVBoxLayout,
                               QWidget)

from core.common.errors import InputError, MlsysError
from core.training.run_history import RunRecord

from gui.widgets.field import add_field_row
from gui.training.drawing import DigitClassifier
from gui.training.experiments import ExperimentsView
from gui.training.exports import TrainingExports
from gui.training.gallery import MisclassifiedGallery
from gui.training.history import HistoryTable
from gui.training.past_runs import PastRunsView
from gui.training.plots import TrainingPlotsWidget
from gui.widgets.workspace_layout import lay_out_workspace
from gui.widgets.worker import JOIN_TIMEOUT_MS, JobController

PRESETS = ("lenet5", "lenet5-ds", "lenet5-classic", "mlp", "cnn")
CURRENT_DESIGN = "current design"
OPTIMIZER_CHOICES = ("adam", "sgd")
DEVICE_CHOICES = ("cpu", "cuda")
ERROR_STYLE = "color: #c0392b;"
FIELD_OF_ERROR = {"lr": "lr", "batch_size": "batch_size", "epochs": "epochs",
                  "max_epochs": "epochs", "seed": "seed", "threads": "threads",
                  "optimizer": "optimizer", "device": "device"}


@dataclass(frozen=True)
class RunReport:
    """Sent by the panel's generator after the run's last core event: the numbers a
    history row needs, the trained model and, for finished runs, the test evaluation with
    the test images (for the confusion matrix and the misclassified gallery)."""

    status: str  # finished, converged, stopped, failed
    summary: dict
    model: object = None  # core.training.TrainedModel
    evaluation: object = None  # core.training.Evaluation (finished runs)
    test_images: np.ndarray | None = None  # uint8 N×28×28 (finished runs)


LOADED = "loaded"  # the status of a run opened from a checkpoint


def run_events(network, folder: str, config, should_stop, should_pause,
               tensorboard: str | None = None):
    """The generator the worker runs (worker thread): load data, train, then report. A
    stop asked for while it loads ends it before training starts (no events). With
    ``tensorboard``, the scalars also go to TensorBoard logs under that folder."""
    from core.training.data import load_mnist
    from core.training.trainer import Failed, Finished, Stopped, train
    if should_stop():
        return
    data = load_mnist(folder or None)
    if should_stop():
        return
    events = train(network, data, config, should_stop, should_pause)
    if tensorboard:
        import time

        from core.training.tensorboard_log import TensorBoardRecorder
        events = TensorBoardRecorder(tensorboard, f"{network.name}-"
                                                  f"{time.strftime('%Y%m%d-%H%M%S')}").wrap(events)
    recorder = store_recorder(network.name, config)
    for event in recorder.wrap(events) if recorder is not None else events:
        yield event
        if isinstance(event, Finished):
            result = event.result
            evaluation = result.evaluation or result.model.evaluate(data, "test")
            yield RunReport(result.status, result.summary(), result.model, evaluation,
                            data.test_images)
        elif isinstance(event, (Stopped, Failed)):
            yield RunReport(event.result.status,
                            event.result.summary(time_inference=False), event.result.model)


def open_run_store():
    """The run store ($MLSYS_RUN_STORE or the user's data folder), or None when it cannot
    be opened: runs still train, they are just not kept."""
    from core.training.run_store import RunStore, RunStoreError
    try:
        store = RunStore()
        store.mark_interrupted()
    except RunStoreError:
        return None
    return store


def store_recorder(model: str, config):
    """A recorder of one run into the run store, or None without a store."""
    from core.training.run_store import TrainingRecorder
    store = open_run_store()
    return None if store is None else TrainingRecorder(store, model, config.as_dict())


def warm_up_torch() -> None:
    """Import torch in a daemon thread when the workspace is first shown, so that Start,
    and a Stop right after it, do not wait seconds for the import."""
    import threading

    def load():
        import torch  # noqa: F401 - the import is the point
    threading.Thread(target=load, name="torch-import", daemon=True).start()


def training_subset(data, images: int | None):
    """``data`` with only its first ``images`` training images (all when None)."""
    from core.training.data import MnistData
    if images is None or images >= data.train_size:
        return data
    return MnistData(data.train_images[:images], data.train_labels[:images],
                     data.test_images, data.test_labels, data.source, "custom")


def sweep_events(network, folder: str, request, config, should_stop, should_pause):
    """The worker's generator for a sweep (core.training.sweeps.run_sweep on the request's
    executor; finished points recorded in, and resumed from, the run store). A pause
    starts no new point (inline and pool; the running ones finish); a stop ends the pool's
    workers within a poll."""
    from core.training.data import load_mnist
    from core.training.executors import make_executor
    from core.training.sweeps import run_sweep
    if should_stop():
        return
    data = training_subset(load_mnist(folder or None), request.train_images)
    if should_stop():
        return
    executor = make_executor(request.executor, request.cluster
                             if request.executor == "ray" else None)
    try:
        yield from run_sweep(network, data, request.grid, config, request.repeats, executor,
                             open_run_store(), should_stop=should_stop,
                             should_pause=None if request.executor == "ray" else should_pause)
    finally:
        if hasattr(executor, "close"):
            executor.close()


def download_events(root: str, should_stop, should_pause):
    """The downloader's generator (worker thread): core.training.data.download_steps."""
    from core.training.data import download_steps
    yield from download_steps(root, should_stop)


def auto_threads() -> int:
    """Torch threads for a run started from the window: leave one core to the GUI thread
    (with every core busy, torch's threads wait on a descheduled one; measured with
    benchmarks/bench_training_gui.py on 2 cores)."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class RunResults:
    """What the results tabs need of one run (kept in memory for the session)."""

    model: object  # core.training.TrainedModel
    evaluation: object = None
    test_images: np.ndarray | None = None


class TrainingPanel(QWidget):
    """Train presets or the current design on MNIST, live."""

    sig_run_ended = Signal(str)  # status of the run whose thread has just ended

    def __init__(self, document_provider: Callable[[], object] | None = None, parent=None):
        super().__init__(parent)
        self.setToolTip("Train a network on MNIST and watch loss and accuracy live")
        self.document_provider = document_provider
        self.controller = JobController(self)
        self.downloader = JobController(self)
        self.results: dict[int, RunResults] = {}  # RunRecord.index -> model, evaluation
        self._pending: dict | None = None  # settings of the run in progress
        self._sweep = None  # the SweepRequest running, while a sweep is
        self._last_status = ""
        self._planned_steps = 1
        self._build()
        self.exports = TrainingExports(self)
        self._torch_warmed = False
        self.export_button.setMenu(self.exports.menu)
        self.controller.sig_event.connect(self.on_event)
        self.controller.sig_batches.connect(self.on_batches)
        self.controller.sig_error.connect(self.on_error)
        self.controller.sig_running.connect(self.on_running)
        self.downloader.sig_event.connect(self.on_download_event)
        self.downloader.sig_error.connect(self.on_download_error)
        self.downloader.sig_running.connect(self.on_download_running)
        self._update_buttons(False)
        self._update_dataset_label()

    @property
    def history(self) -> list[RunRecord]:
        return self.history_table.records

    # -- layout ------------------------------------------------------------------------
    def _field(self, form: QFormLayout, name: str, label: str, widget: QWidget,
               tip: str) -> None:
        widget.setToolTip(tip)
        self.fields[name] = widget
        self.field_errors[name] = add_field_row(form, label, widget)

    def _build(self) -> None:
        self.fields: dict[str, QWidget] = {}
        self.field_errors: dict[str, QLabel] = {}
        controls = QWidget()
        left = QVBoxLayout(controls)
        left.addWidget(self._build_model_box())
        left.addWidget(self._build_hyper_box())
        left.addWidget(self._build_data_box())
        left.addLayout(self._build_run_buttons())
        left.addWidget(self.progress)
        left.addWidget(self.status_label)
        left.addStretch(1)
        controls.setMinimumWidth(300)
        controls.setMaximumWidth(420)

        self.plots = TrainingPlotsWidget()
        lay_out_workspace(self, controls, self.plots, self._build_results())

    def _build_model_box(self) -> QGroupBox:
        self.model_combo = QComboBox()
        self.model_combo.addItems(list(PRESETS))
        self.model_combo.addItem(CURRENT_DESIGN)
        if self.document_provider is None:
            index = self.model_combo.count() - 1
            self.model_combo.model().item(index).setEnabled(False)
        box = QGroupBox("Model")
        self._field(QFormLayout(box), "model", "Network", self.model_combo,
                    "A preset, or the design open in the Design workspace")
        self.model_combo.currentTextChanged.connect(lambda _text: self.check_design())
        return box

    def _build_hyper_box(self) -> QGroupBox:
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZER_CHOICES))
        self.lr = QLineEdit()
        self.lr.setPlaceholderText("default (adam 1e-3, sgd 0.05)")
        self.batch_size = QLineEdit("128")
        self.epochs = QLineEdit("2")
        self.until_converged = QCheckBox("until converged (epochs = cap, patience 2)")
        self.seed = QLineEdit("0")
        self.device = QComboBox()
        self.device.addItems(list(DEVICE_CHOICES))
        self.threads = QLineEdit()
        self.threads.setPlaceholderText(f"auto ({auto_threads()})")
        box = QGroupBox("Hyper-parameters")
        form = QFormLayout(box)
        self._field(form, "optimizer", "Optimizer", self.optimizer, "adam or SGD (momentum 0.9)")
        self._field(form, "lr", "Learning rate", self.lr, "Empty: the optimizer's default")
        self._field(form, "batch_size", "Batch size", self.batch_size, "Images per step")
        self._field(form, "epochs", "Epochs", self.epochs,
                    "Epochs to run (the cap when 'until converged')")
        form.addRow("", self.until_converged)
        self._field(form, "seed", "Seed", self.seed, "Seeds weights and shuffling")
        self._field(form, "device", "Device", self.device,
                    "cpu, or cuda when torch sees a GPU (checked when training starts)")
        self._field(form, "threads", "CPU threads", self.threads,
                    "Torch threads; empty: one fewer than the CPU cores (at most 8), so "
                    "the window keeps a core: on a busy core torch's threads wait for "
                    "each other and a run can slow down several-fold")
        return box

    def _build_data_box(self) -> QGroupBox:
        self._build_tensorboard_fields()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("$MLSYS_MNIST_DIR or the bundled sample")
        self.folder.setToolTip("A folder with the four MNIST .gz (or IDX) files, or "
                               "torchvision's MNIST/raw layout under it")
        self.folder.editingFinished.connect(self._update_dataset_label)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.choose_folder)
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Download the full MNIST (about 11 MB) with "
                                        "torchvision's mirrors and checksums")
        self.download_button.clicked.connect(self.toggle_download)
        self.download_progress = QProgressBar()
        self.download_progress.setVisible(False)
        self.dataset_label = QLabel()
        self.dataset_label.setWordWrap(True)
        box = QGroupBox("Data")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.download_button)
        layout.addLayout(row)
        layout.addWidget(self.download_progress)
        layout.addWidget(self.dataset_label)
        board = QHBoxLayout()
        board.addWidget(self.tensorboard_box)
        board.addWidget(self.tensorboard_folder, 1)
        layout.addLayout(board)
        return box

    def _build_tensorboard_fields(self) -> None:
        self.tensorboard_box = QCheckBox("TensorBoard logs in")
        self.tensorboard_box.setToolTip("Also write each training run's loss and accuracy as "
                                        "TensorBoard scalars (open with `tensorboard "
                                        "--logdir FOLDER`)")
        self.tensorboard_folder = QLineEdit(str(Path.home() / "mlsys-studio-tensorboard"))
        self.tensorboard_folder.setToolTip("Each run gets a sub-folder <model>-<time> here")
        self.tensorboard_folder.setEnabled(False)
        self.tensorboard_box.toggled.connect(self.tensorboard_folder.setEnabled)

    def read_tensorboard(self):
        """The TensorBoard folder, None when unticked, False (with the reason in the status
        line) when it cannot be used."""
        if not self.tensorboard_box.isChecked():
            return None
        from core.training.tensorboard_log import tensorboard_missing
        folder = self.tensorboard_folder.text().strip()
        if tensorboard_missing():
            self.set_status("TensorBoard logs need the tensorboard package: `pip install "
                            "tensorboard`, or untick TensorBoard logs.", error=True)
            return False
        if not folder:
            self.set_status("Choose a folder for the TensorBoard logs, or untick them.",
                            error=True)
            return False
        return folder

    def _build_run_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start")
        self.start_button.setShortcut("Ctrl+Return")
        self.start_button.setToolTip("Start training (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.set_paused)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the run (takes effect within a second)")
        self.stop_button.clicked.connect(self.stop)
        self.open_checkpoint_button = QPushButton("Open checkpoint…")
        self.open_checkpoint_button.setToolTip(
            "Load a .pt saved by Export → Checkpoint or `train --save` (weights only, no code "
            "runs), evaluate it on the test set and add it to the run history")
        self.open_checkpoint_button.clicked.connect(lambda: self.open_checkpoint())
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button,
                  self.open_checkpoint_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        # Centred inside the bar: with the default left alignment some styles draw the
        # text beside the groove, over the bar's end.
        self.progress.setAlignment(Qt.AlignCenter)
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        return buttons

    def _show_overlays(self, _records=None) -> None:
        """This session's ticked runs and the ticked runs of the store, on the plots."""
        stored = list(self.past_runs._overlaid.values())
        self.plots.set_overlays(self.history_table.checked_records() + stored)

    def _build_results(self) -> QWidget:
        self.history_table = HistoryTable()
        self.past_runs = PastRunsView()
        self.history_table.sig_overlays.connect(self._show_overlays)
        self.past_runs.sig_overlays.connect(self._show_overlays)
        self.history_table.sig_selected.connect(self.show_run)
        self.confusion_table = QTableWidget(10, 10)
        self.confusion_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.confusion_table.setHorizontalHeaderLabels([f"pred {i}" for i in range(10)])
        self.confusion_table.setVerticalHeaderLabels([f"true {i}" for i in range(10)])
        self.confusion_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.confusion_table.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)
        # ten rows must fit the short results pane without a scroll bar
        self.confusion_table.verticalHeader().setMinimumSectionSize(14)
        self.confusion_table.setToolTip("Test-set confusion matrix of the shown run (row: "
                                        "true digit, column: predicted; colour: share of "
                                        "the row). Click a cell to see those images.")
        self.confusion_matrix = None
        self.confusion_table.cellClicked.connect(self.show_confused)
        self.gallery = MisclassifiedGallery()
        self.classifier = DigitClassifier()
        self.results_tabs = QTabWidget()
        self.results_tabs.addTab(self.history_table, "Run history")
        self.results_tabs.addTab(self.confusion_table, "Confusion matrix")
        self.results_tabs.addTab(self.gallery, "Misclassified")
        self.results_tabs.addTab(self.classifier, "Draw a digit")
        self.experiments = ExperimentsView()
        self.experiments.sig_run.connect(self.start_experiment)
        self.results_tabs.addTab(self.experiments, "Experiments")
        self.results_tabs.addTab(self.past_runs, "Past runs")
        self.results_tabs.currentChanged.connect(
            lambda _i: self.results_tabs.currentWidget() is self.past_runs
            and self.past_runs.refresh())
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        self.export_button.setToolTip("Plots (PNG/SVG), run table, histories (CSV/JSON), "
                                      "checkpoint (.pt) and ONNX of the selected run")
        self.results_tabs.setCornerWidget(self.export_button, Qt.TopRightCorner)
        self.results_tabs.setMinimumHeight(300)  # the 10×10 matrix fits without scrolling
        return self.results_tabs

    # -- checkpoints -------------------------------------------------------------------
    def open_checkpoint(self, path: str | None = None) -> bool:
        """Load a checkpoint, evaluate it on the chosen data's test set and add it to the
        run history (status "loaded"), so its confusion matrix, mistakes and drawing pad
        are there as for a run trained now."""
        if self.controller.is_running():
            self.set_status("Something is training: stop it first.", error=True)
            return False
        if path is None:
            folder = self.folder.text().strip() or str(Path.home())
            path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", folder,
                                                  "Checkpoints (*.pt);;All files (*)")
        if not path:
            return False
        from core.training.data import load_mnist
        from core.training.trainer import load_checkpoint
        try:
            model = load_checkpoint(path)
            data = load_mnist(self.folder.text().strip() or None)
            evaluation = model.evaluate(data, "test")
        except MlsysError as exc:
            self.set_status(f"Cannot open checkpoint: {exc}", error=True)
            return False
        counts = model.counts()
        summary = {"model": model.name, "status": LOADED, "epochs": [], "train_seconds": None,
                   "inference_ms_per_batch": None, "inference_batch_size": None,
                   "inference_ms_per_image": None, "params": counts["params"],
                   "macs": counts["macs"], "dataset": data.description, "checkpoint": path}
        self._pending = None
        self._on_RunReport(RunReport(LOADED, summary, model, evaluation, data.test_images))
        self.set_status(f"Opened {Path(path).name}: test accuracy "
                        f"{100 * evaluation.accuracy:.2f} % on {data.description}.")
        return True

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

    def _read_numbers(self) -> dict | None:
        """The numeric fields parsed, or None with each problem shown beside its field."""
        values, ok = {}, True
        parsers = {
            "batch_size": lambda t: self._whole(t, "batch size"),
            "epochs": lambda t: self._whole(t, "epochs"),
            "seed": lambda t: self._whole(t, "seed"),
            "threads": lambda t: auto_threads() if not t.strip() else self._whole(t,
                                                                                "threads"),
        }
        for name, parse in parsers.items():
            try:
                values[name] = parse(self.fields[name].text())
            except InputError as exc:
                self.show_field_error(name, str(exc))
                ok = False
        text = self.lr.text().strip()
        values["lr"] = None
        if text:
            try:
                values["lr"] = float(text)
            except ValueError:
                self.show_field_error("lr", f"learning rate {text!r} is not a number "
                                            f"(e.g. 0.001 or 1e-3)")
                ok = False
        return values if ok else None

    def read_config(self):
        """A TrainConfig from the fields, or None with each problem shown beside its field."""
        from core.training.trainer import TrainConfig  # numpy only at import; torch stays lazy
        self._clear_errors()
        values = self._read_numbers()
        if values is None:
            return None
        epochs = values.pop("epochs")
        until = self.until_converged.isChecked()
        try:
            return TrainConfig(optimizer=self.optimizer.currentText(), until_converged=until,
                               epochs=epochs if not until else 1,
                               max_epochs=epochs if until else 30,
                               device=self.device.currentText(), **values)
        except MlsysError as exc:
            message = str(exc)
            key = message.split(" ", 1)[0]
            self.show_field_error(FIELD_OF_ERROR.get(key, "epochs"), message)
            return None

    def _network(self):
        from core.graph.presets import load_preset
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
        tensorboard = self.read_tensorboard()
        if tensorboard is False:
            return False
        folder = self.folder.text().strip()
        self._pending = {"model": self.model_combo.currentText(), "config": config,
                         "steps_per_epoch": 1, "epochs_done": [], "epoch": 1}
        self._last_status = ""
        self._planned_steps = 1
        self.plots.reset()
        self.progress.setRange(0, 0)  # busy until Started tells the step count
        self.progress.setFormat("loading data…")
        self.set_status(f"Starting {network.name}…")

        def make_events(should_stop, should_pause):
            return run_events(network, folder, config, should_stop, should_pause, tensorboard)
        started = self.controller.start(make_events)
        if started:
            self._update_buttons(True)
            self._show_running_row()
        return started

    def _show_running_row(self, state: str = "running") -> None:
        """The run in progress in the history: its settings, "running · epoch k/N" and
        the epochs done so far (test accuracy of the last one)."""
        pending = self._pending
        if pending is None or "epochs_done" not in pending:
            return
        settings = pending["config"].as_dict()
        planned = settings.get("max_epochs") if settings.get("until_converged") \
            else settings.get("epochs")
        status = f"{state} · epoch {pending['epoch']}/{planned}"
        self.history_table.show_running(RunRecord(
            len(self.history) + 1, pending["model"], status, settings,
            {"epochs": list(pending["epochs_done"])}))

    @Slot(object)
    def start_experiment(self, request) -> bool:
        """Run ``request`` (gui.training.experiments.SweepRequest) on the chosen model with
        the settings on the left."""
        from core.training.sweeps import make_tasks
        if self.controller.is_running():
            self.experiments.set_status("Something is training: stop it first.", error=True)
            return False
        config = self.read_config()
        if config is None:
            self.experiments.set_status("Fix the highlighted fields on the left.", error=True)
            return False
        try:
            network = self._network()
            # shape errors and the size limit now, before any training
            runs = len(make_tasks(network, request.grid, config, request.repeats))
            if request.executor == "ray":
                from core.training.executors import ray_missing
                if ray_missing():
                    raise MlsysError("the Ray executor needs Ray: install with "
                                     "`pip install -e \".[cluster]\"`")
        except MlsysError as exc:
            self.experiments.set_status(str(exc), error=True)
            return False
        folder = self.folder.text().strip()
        self._pending = None  # sweep runs are tabulated in the Experiments tab
        self._last_status = ""
        self.experiments.start(request.grid, runs)
        self.progress.setRange(0, 0)
        self.progress.setFormat("loading data…")
        self.set_status(f"Sweep of {network.name}: {runs} runs on {request.executor}…")

        def make_events(should_stop, should_pause):
            return sweep_events(network, folder, request, config, should_stop, should_pause)
        self._sweep = request
        started = self.controller.start(make_events)
        if started:
            self._update_buttons(True)
        else:
            self._sweep = None
        return started

    @Slot()
    def stop(self) -> None:
        if self.controller.is_running():
            self.set_status("Stopping…")
            if not self._last_status:  # still loading: it ends before training starts
                self._last_status = "stopped"
        self.controller.stop()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        """Pause or resume; while paused the bar says so instead of an ETA (the trainer's
        clock leaves paused time out, so the ETA resumes where it stood)."""
        self.controller.pause(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if getattr(self, "_sweep", None) is not None:
            self._sweep_pause_asked(paused)
        if paused:
            self._running_format = self.progress.format()
            self.progress.setFormat("%p%  paused")
        elif getattr(self, "_running_format", None):
            self.progress.setFormat(self._running_format)

    def _sweep_pause_asked(self, paused: bool) -> None:
        """What a sweep does on Pause: the points training finish, no new one starts
        (SweepPaused says when it is held); on Resume it goes on."""
        if paused:
            self.experiments.set_status("Pausing: the points training now finish, no new "
                                        "one starts…")
        else:
            self.experiments.set_status("Resumed: new points start again…")

    def design_problem(self) -> str | None:
        """Why "current design" cannot train, said as soon as it is chosen (or the tab is
        shown) rather than at Start; None for a preset or a design that can."""
        if self.model_combo.currentText() != CURRENT_DESIGN:
            return None
        network = self.document_provider() if self.document_provider else None
        if network is None:
            return "there is no current design: open or draw one in the Design workspace"
        from core.graph.analysis import analyze
        from core.training.data import input_layout
        try:
            errors = analyze(network).errors
        except MlsysError as exc:
            return f"the current design cannot be analysed: {exc}"
        if errors:
            name, error = next(iter(errors.items()))
            return (f"the current design has {len(errors)} layer error"
                    f"{'s' * (len(errors) != 1)} (first, {name}: {error}); fix it in Design")
        inputs = network.input_names()
        if len(inputs) != 1:
            return f"the current design has {len(inputs)} Input layers; training takes one"
        try:
            input_layout(network.nodes[inputs[0]].params.get("shape", ()), network.name)
        except MlsysError as exc:
            return str(exc)
        return None

    def check_design(self) -> None:
        problem = self.design_problem()
        if problem:
            self.show_field_error("model", f"Cannot train: {problem}")
        elif "model" in self.field_errors:
            self.field_errors["model"].clear()
            self.field_errors["model"].setVisible(False)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.check_design()
        if not self._torch_warmed:
            self._torch_warmed = True
            warm_up_torch()

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
        """Stop the run and any download and join their threads (the main window calls
        this when closing)."""
        self.plots.timer.stop()
        self.exports.cleanup()
        downloads = self.downloader.shutdown(timeout_ms)
        return self.controller.shutdown(timeout_ms) and downloads

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    def _update_buttons(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.experiments.set_running(running)
        ray_sweep = running and getattr(self, "_sweep", None) is not None \
            and self._sweep.executor == "ray"
        self.pause_button.setEnabled(running and not ray_sweep)
        self.pause_button.setToolTip("A Ray sweep cannot pause: its points are all submitted "
                                     "at once (Stop ends it; a rerun resumes it)"
                                     if ray_sweep else
                                     "Pause (a sweep: the running points finish, no new one "
                                     "starts); press again to resume")
        self.stop_button.setEnabled(running)
        for widget in (self.model_combo, self.optimizer, self.lr, self.batch_size, self.epochs,
                       self.until_converged, self.seed, self.device, self.threads, self.folder,
                       self.browse_button, self.open_checkpoint_button, self.tensorboard_box):
            widget.setEnabled(not running)
        if not running and self.pause_button.isChecked():
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    # -- download ----------------------------------------------------------------------
    def default_download_dir(self) -> str:
        from PySide6.QtCore import QStandardPaths
        base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)
        return str(Path(base or Path.home() / ".mlsys-studio") / "mnist")

    @Slot()
    def toggle_download(self) -> None:
        if self.downloader.is_running():
            self.downloader.stop()
            self.set_status("Cancelling the download…")
            return
        root = QFileDialog.getExistingDirectory(
            self, "Download MNIST into", self.folder.text().strip() or
            self.default_download_dir())
        if root:
            self.download(root)

    def download(self, root: str) -> bool:
        """Download MNIST into ``root`` in a worker thread (progress below the folder)."""
        try:
            Path(root).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.set_status(f"Cannot create {root}: {exc.strerror or exc}", error=True)
            return False
        self._download_root = root

        def make_events(should_stop, should_pause):
            return download_events(root, should_stop, should_pause)
        return self.downloader.start(make_events)

    @Slot(object)
    def on_download_event(self, item) -> None:
        if type(item).__name__ == "DownloadProgress":
            bar = self.download_progress
            total = item.files * 1000
            within = item.done_bytes / item.total_bytes if item.total_bytes else 0.0
            bar.setRange(0, total)
            bar.setValue(min(total, int(1000 * (item.files_done + within))))
            size = f" ({item.done_bytes / 1e6:.1f} MB)" if item.done_bytes else ""
            bar.setFormat(f"%p%  {item.message}{size}")
        else:  # the loaded MnistData
            self.folder.setText(self._download_root)
            self.dataset_label.setText(f"Dataset: {item.description}")
            self.set_status(f"Downloaded MNIST into {self._download_root}.")

    @Slot(str)
    def on_download_error(self, message: str) -> None:
        self.set_status(message, error=True)

    @Slot(bool)
    def on_download_running(self, running: bool) -> None:
        self.download_progress.setVisible(running)
        self.download_button.setText("Cancel download" if running else "Download…")
        if running:
            self.download_progress.setRange(0, 0)
            self.set_status("Downloading MNIST…")

    # -- events from the worker (GUI thread) ---------------------------------------------
    @Slot(object)
    def on_batches(self, events) -> None:
        if not events:
            return
        self.plots.add_batches(events)
        e = events[-1]
        if self._pending is not None and self._pending.get("epoch") != e.epoch \
                and "epochs_done" in self._pending:
            self._pending["epoch"] = e.epoch
            self._show_running_row()
        done = (e.epoch - 1) * e.steps_per_epoch + e.step
        total = max(self._planned_steps, done)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        eta = e.elapsed / done * (total - done) if done else 0.0
        bound = "≤ " if self._pending and self._pending["config"].until_converged else ""
        text = f"%p%  epoch {e.epoch}  ETA {bound}{format_seconds(eta)}"
        if self.pause_button.isChecked():  # events queued before the pause took effect
            self._running_format = text
        else:
            self.progress.setFormat(text)
        if not self.pause_button.isChecked():
            self.set_status(f"Epoch {e.epoch}, step {e.step}/{e.steps_per_epoch}: loss "
                            f"{e.loss:.4f}, {e.images_per_sec:,.0f} images/s")

    @Slot(object)
    def on_event(self, event) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_Started(self, event) -> None:  # noqa: N802 - named after the event class
        self._planned_steps = event.steps_per_epoch * event.epochs
        if self._pending is not None:
            self._pending["steps_per_epoch"] = event.steps_per_epoch
        self.plots.reset(event.steps_per_epoch)
        self.progress.setRange(0, self._planned_steps)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.dataset_label.setText(f"Dataset: {event.dataset}")
        self.set_status(f"Training {event.model} ({event.params:,} parameters) on "
                        f"{event.device}, {event.threads} thread(s)…")

    def _on_EpochEvent(self, event) -> None:  # noqa: N802
        self.plots.add_epoch(event)
        if self._pending is not None and "epochs_done" in self._pending:
            self._pending["epochs_done"].append(event.as_dict())
            self._show_running_row()
        self.set_status(f"Epoch {event.epoch}: test accuracy {100 * event.test_acc:.2f} %, "
                        f"test loss {event.test_loss:.4f} ({event.seconds:.1f} s)")

    def _on_Paused(self, event) -> None:  # noqa: N802
        self.set_status(f"Paused at epoch {event.epoch}, step {event.step}.")
        self._show_running_row("paused")

    def _on_Resumed(self, event) -> None:  # noqa: N802
        self.set_status(f"Resumed after {event.paused_seconds:.1f} s.")
        self._show_running_row()

    def _on_Finished(self, event) -> None:  # noqa: N802
        self._last_status = event.result.status
        self.set_status(f"Done: {event.result.message or event.result.status}; measuring "
                        f"inference time…")

    def _on_Stopped(self, event) -> None:  # noqa: N802
        self._last_status = event.result.status
        self.set_status(f"Stopped at epoch {event.epoch}, step {event.step}.")

    def _on_Failed(self, event) -> None:  # noqa: N802
        self._last_status = event.result.status
        self.set_status(f"Training failed: {event.message}", error=True)

    def _on_SweepStarted(self, event) -> None:  # noqa: N802
        self._sweep_from_store = event.from_store
        self.progress.setRange(0, event.runs)
        self.progress.setValue(0)
        self.progress.setFormat("%v of %m runs")
        self.experiments.set_status(f"Sweep {event.sweep_id}: {event.runs} runs on "
                                    f"{event.executor} ({event.workers} worker"
                                    f"{'s' if event.workers != 1 else ''})"
                                    + (f", {event.from_store} from the run store"
                                       if event.from_store else "") + "…")

    def _on_PointRetry(self, event) -> None:  # noqa: N802
        self.experiments.set_status(f"Run {event.index} ({event.label}, seed {event.seed}) "
                                    f"failed: {event.message}; retrying…")

    def _on_PointDone(self, event) -> None:  # noqa: N802
        self.progress.setValue(event.done)
        self.experiments.update(event.row, event.aggregates, event.epochs)
        if event.row.status == "failed":
            self.experiments.set_status(f"Run {event.row.label}, seed {event.row.seed} "
                                        f"failed: {event.row.message}", error=True)

    def _on_SweepPaused(self, event) -> None:  # noqa: N802
        self.experiments.set_status(f"Sweep paused after {event.done} of {event.total} "
                                    f"points: press Resume to go on.")
        self.set_status(f"Sweep paused after {event.done} of {event.total} points.")

    def _on_SweepResumed(self, event) -> None:  # noqa: N802
        self.experiments.set_status(f"Sweep resumed after {event.done} of {event.total} "
                                    f"points…")
        self.set_status(f"Sweep resumed ({event.done} of {event.total} points done).")

    def _on_SweepDone(self, event) -> None:  # noqa: N802
        self._last_status = event.status
        self.experiments.finish(event.status, getattr(self, "_sweep_from_store", 0))
        self.set_status(f"Sweep {event.status}: see the Experiments tab.")

    def _on_RunReport(self, report: RunReport) -> None:  # noqa: N802
        record = self.add_history_row(report)
        self.results[record.index] = RunResults(report.model, report.evaluation,
                                                report.test_images)
        if report.evaluation is not None or self.classifier.model() is None:
            self.show_run(record.index)
        if report.status in ("finished", "converged"):
            acc = record.test_acc or 0.0
            self.set_status(f"Done: test accuracy {100 * acc:.2f} %.")

    @Slot(str)
    def on_error(self, message: str) -> None:
        self._last_status = "error"
        self.set_status(f"Training could not run: {message}", error=True)

    @Slot(bool)
    def on_running(self, running: bool) -> None:
        self._update_buttons(running)
        if not running:
            self._sweep = None
            self.history_table.clear_running()  # a run that left no report (an error)
            self.progress.setRange(0, max(1, self.progress.maximum()))
            if self._last_status in ("finished", "converged"):
                self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(f"%p%  {self._last_status or 'ended'}")
            self.plots.refresh()
            self.sig_run_ended.emit(self._last_status or "ended")

    # -- results -----------------------------------------------------------------------
    def add_history_row(self, report: RunReport) -> RunRecord:
        s, pending = report.summary, self._pending or {}
        config = pending.get("config")
        shapes = report.model.io_shapes() if report.model is not None else ("", "")
        steps, losses = (self.plots.batch_loss.view() if report.status != LOADED
                         else (np.zeros(0), np.zeros(0)))
        record = RunRecord(len(self.history) + 1, s.get("model", pending.get("model", "")),
                           report.status, config.as_dict() if config else {}, s,
                           shapes[0], shapes[1], pending.get("steps_per_epoch", 1),
                           steps.copy(), losses.copy())
        self.history_table.add_record(record)
        return record

    def selected_run(self) -> tuple[RunRecord, RunResults] | None:
        """The run selected in the history table, else the latest one with a model."""
        record = self.history_table.selected_record()
        if record is None:
            kept = [r for r in self.history if r.index in self.results]
            record = kept[-1] if kept else None
        return None if record is None else (record, self.results[record.index])

    @Slot(int)
    def show_run(self, index: int) -> None:
        """Show run ``index`` in the results tabs: its confusion matrix and misclassified
        images (when it was evaluated) and its model on the drawing pad."""
        results = self.results.get(index)
        if results is None:
            return
        self.classifier.set_model(results.model)
        evaluation = results.evaluation
        if evaluation is None:
            self.gallery.clear()
            self.confusion_table.clearContents()
            self.confusion_matrix = None
            return
        self.show_confusion(evaluation.confusion_matrix())
        self.gallery.set_results(results.test_images, evaluation.labels,
                                 evaluation.predictions, evaluation.probabilities)

    @Slot(int, int)
    def show_confused(self, true_digit: int, predicted: int) -> None:
        """A confusion-matrix cell was clicked: show those test images (off the diagonal)."""
        if self.confusion_matrix is None or true_digit == predicted:
            return
        self.gallery.filter_to(true_digit, predicted)
        self.results_tabs.setCurrentWidget(self.gallery)

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
