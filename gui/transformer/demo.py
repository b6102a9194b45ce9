"""The training demo tab: train a small encoder-decoder to reverse (or copy) digit sequences
in a worker thread (gui.widgets.worker's JobController, given by the panel), with live loss
and token accuracy."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from core.common.errors import MlsysError

from gui.widgets.field import add_field_row

# key, label, default, minimum, maximum, tooltip
DEMO_FIELDS = (
    ("length", "sequence length", 10, 2, 64, "Digits per sequence (source and target)"),
    ("d_model", "d_model", 64, 8, 512, "Embedding size of the small model trained here"),
    ("heads", "heads", 4, 1, 16, "Attention heads (must divide d_model)"),
    ("ffn", "FFN width", 128, 8, 2048, "Hidden width of the feed-forward blocks"),
    ("layers", "layers", 1, 1, 4, "Encoder layers = decoder layers (pre-norm)"),
    ("batch", "batch", 64, 1, 1024, "Sequences per step"),
    ("steps", "max steps", 1500, 1, 100_000, "Stop after this many steps at the latest"),
    ("threads", "CPU threads", 1, 1, 64, "torch threads for the run"),
)


class DemoTab(QWidget):
    message = Signal(str)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.batch_acc: list[float] = []
        self.eval_steps: list[int] = []
        self.eval_acc: list[float] = []
        self.last_done = None
        self._build()
        controller.sig_batches.connect(self._on_batches)
        controller.sig_event.connect(self._on_event)
        controller.sig_error.connect(self._on_error)
        controller.sig_running.connect(self._on_running)

    def _build(self) -> None:
        form = QFormLayout()
        form.setVerticalSpacing(3)
        self.task = QComboBox()
        self.task.addItems(["reverse", "copy"])
        self.task.setToolTip("Reverse or copy a sequence of random digits")
        add_field_row(form, "task", self.task)
        self.spins: dict[str, QSpinBox] = {}
        for key, label, default, low, high, tip in DEMO_FIELDS:
            spin = QSpinBox()
            spin.setRange(low, high)
            spin.setValue(default)
            spin.setToolTip(tip)
            self.spins[key] = spin
            add_field_row(form, label, spin)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(0.0001, 0.1)
        self.lr.setSingleStep(0.0005)
        self.lr.setValue(0.002)
        self.lr.setToolTip("Adam learning rate")
        add_field_row(form, "learning rate", self.lr)
        self.target = QDoubleSpinBox()
        self.target.setRange(0.5, 1.0)
        self.target.setDecimals(3)
        self.target.setValue(0.99)
        self.target.setToolTip("Stop once greedy decoding of held-out sequences reaches this "
                               "token accuracy")
        add_field_row(form, "target accuracy", self.target)
        self.start_button = QPushButton("Train")
        self.start_button.setToolTip("Train from scratch on fresh random sequences (CPU)")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        export = QPushButton("Export plots…")
        export.setToolTip("Save the loss and accuracy plots as PNG or SVG")
        export.clicked.connect(lambda: self.export_plots())
        self.status = QLabel("Trains the module of this lab (pre-norm, fp32) with teacher "
                             "forcing; accuracy is measured by greedy decoding of 500 held-out "
                             "sequences.")
        self.status.setWordWrap(True)
        self.example = QLabel()
        self.example.setTextInteractionFlags(Qt.TextSelectableByMouse)
        left = QVBoxLayout()
        left.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(export)
        left.addLayout(buttons)
        left.addWidget(self.status)
        left.addWidget(self.example)
        left.addStretch(1)
        holder = QWidget()
        holder.setLayout(left)
        holder.setMaximumWidth(330)

        self.plot_area = QWidget()
        plots = QVBoxLayout(self.plot_area)
        plots.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = self._plot("loss (cross-entropy)", "loss")
        self.acc_plot = self._plot("token accuracy", "accuracy")
        self.acc_plot.setYRange(0, 1)
        self.acc_plot.plotItem.legend.setOffset((-8, -8))   # bottom right, clear of the rise
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#1c7ed6", width=1.5), name="batch")
        self.batch_curve = self.acc_plot.plot(pen=pg.mkPen("#adb5bd", width=1),
                                              name="batch (teacher forcing)")
        self.eval_curve = self.acc_plot.plot(pen=pg.mkPen("#2f9e44", width=2), symbol="o",
                                             symbolSize=5, symbolBrush="#2f9e44",
                                             name="held-out (greedy decoding)")
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(holder)
        layout.addWidget(self.plot_area, 1)

    @staticmethod
    def _plot(title: str, left: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setTitle(title, color="#212529", size="10pt")
        plot.setLabel("left", left)
        plot.setLabel("bottom", "step")
        plot.showGrid(x=True, y=True, alpha=0.25)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).enableAutoSIPrefix(False)
        plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        return plot

    # -- running ---------------------------------------------------------------------------
    def settings(self):
        from core.transformer.demo import DemoSettings
        values = {key: spin.value() for key, spin in self.spins.items()}
        return DemoSettings(task=self.task.currentText(), lr=self.lr.value(),
                            target_accuracy=self.target.value(), **values)

    def start(self) -> bool:
        if self.controller.is_running():
            return False
        try:
            settings = self.settings()
        except MlsysError as exc:
            self.status.setText(f"<span style='color:#d63031'>{exc}</span>")
            return False
        for series in (self.steps, self.losses, self.batch_acc, self.eval_steps, self.eval_acc):
            series.clear()
        self.last_done = None
        self._redraw()

        def events(should_stop, should_pause):
            from core.transformer.demo import train_demo
            return train_demo(settings, should_stop, should_pause)
        self.status.setText("Training…")
        return self.controller.start(events)

    def stop(self) -> None:
        self.controller.stop()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        return self.controller.shutdown(timeout_ms)

    def _on_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _on_batches(self, batches) -> None:
        for event in batches:
            if type(event).__name__ != "BatchEvent" or not hasattr(event, "token_accuracy"):
                return  # another workspace's run shares the controller
            self.steps.append(event.step)
            self.losses.append(event.loss)
            self.batch_acc.append(event.token_accuracy)
        if batches:
            last = batches[-1]
            self.status.setText(f"step {last.step:,} of at most {last.steps:,}: loss "
                                f"{last.loss:.4f}, batch token accuracy "
                                f"{last.token_accuracy:.1%} ({last.elapsed:.1f} s)")
        self._redraw()

    def _on_event(self, event) -> None:
        from core.transformer.demo import DemoDone, EvalEvent
        if isinstance(event, EvalEvent):
            self.eval_steps.append(event.step)
            self.eval_acc.append(event.token_accuracy)
            src, expected, decoded = event.example
            self.example.setText(f"<tt>source&nbsp;&nbsp;{src}<br>expected {expected}<br>"
                                 f"decoded&nbsp;{decoded}</tt>")
            self._redraw()
        elif isinstance(event, DemoDone):
            self.last_done = event
            why = "stopped" if event.stopped else "done"
            self.status.setText(f"{why} after {event.step:,} steps, {event.elapsed:.1f} s: "
                                f"held-out token accuracy {event.token_accuracy:.2%}, whole "
                                f"sequences {event.sequence_accuracy:.1%}")

    def _on_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#d63031'>{message}</span>")

    def _redraw(self) -> None:
        self.loss_curve.setData(self.steps, self.losses)
        self.batch_curve.setData(self.steps, self.batch_acc)
        self.eval_curve.setData(self.eval_steps, self.eval_acc)

    def export_plots(self, path: str | None = None) -> str | None:
        from gui.widgets.files import export_widget
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(
                self, "Export demo plots", str(Path.home() / "transformer_demo.png"),
                "PNG image (*.png);;SVG image (*.svg)")
            if not path:
                return None
            if not path.lower().endswith((".png", ".svg")):
                path += ".svg" if "SVG" in chosen else ".png"
        try:
            export_widget(self.plot_area, path, "MLSys Studio transformer demo")
        except OSError as exc:
            self.message.emit(str(exc))
            return None
        self.message.emit(f"Wrote {path}")
        return path
