"""Live training plots: loss and accuracy per epoch (train solid, test dashed) and the
per-batch loss with an exponential moving average.

Data arrive in preallocated numpy buffers (grown by doubling); a QTimer pushes them to the
curves with ``setData`` at most ``REFRESH_HZ`` times a second and only when something
changed, so a fast model costs the GUI thread little (DESIGN convention 5).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

REFRESH_HZ = 10
SMOOTHING = 0.9  # EMA weight of the past for the smoothed batch loss
TRAIN_COLOR = (31, 119, 180)
TEST_COLOR = (214, 39, 40)
ACC_TRAIN_COLOR = (44, 160, 44)
ACC_TEST_COLOR = (255, 127, 14)


class SeriesBuffer:
    """x/y float64 arrays with spare capacity; ``view()`` gives the filled part."""

    def __init__(self, capacity: int = 256):
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.concatenate([self.x, np.empty(len(self.x))])
            self.y = np.concatenate([self.y, np.empty(len(self.y))])
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1

    def clear(self) -> None:
        self.n = 0

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]


def _plot(title: str, y_label: str, legend_offset=(-10, 10)) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.25)
    # negative offsets anchor the legend to the right / bottom edge
    plot.addLegend(offset=legend_offset, labelTextColor="k", brush=(255, 255, 255, 200))
    plot.setMinimumHeight(150)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen("k")
        plot.getAxis(axis).setTextPen("k")
    return plot


class TrainingPlotsWidget(QWidget):
    """Three live plots over one run; ``reset`` before a run, ``add_batches`` /
    ``add_epoch`` as events arrive."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.steps_per_epoch = 1
        self.x_mode = "epochs"
        self.train_loss = SeriesBuffer(64)
        self.test_loss = SeriesBuffer(64)
        self.train_acc = SeriesBuffer(64)
        self.test_acc = SeriesBuffer(64)
        self.batch_loss = SeriesBuffer(4096)
        self.batch_smooth = SeriesBuffer(4096)
        self._ema: float | None = None
        self._dirty = False
        self.redraws = 0  # how many times the timer pushed data (tests check the rate)

        self.x_axis = QComboBox()
        self.x_axis.addItems(["epochs", "steps"])
        self.x_axis.setToolTip("What the x-axis counts: epochs (fractional for batches) or "
                               "optimizer steps")
        self.x_axis.currentTextChanged.connect(self.set_x_mode)

        self.loss_plot = _plot("Loss per epoch", "cross-entropy")
        self.acc_plot = _plot("Accuracy per epoch", "accuracy (%)", (-10, -10))
        self.batch_plot = _plot("Loss per batch", "cross-entropy")
        self.batch_plot.setClipToView(True)
        self.batch_plot.setDownsampling(auto=True, mode="peak")
        dashed = Qt.DashLine
        self.curve_train_loss = self.loss_plot.plot(
            name="train", pen=pg.mkPen(TRAIN_COLOR, width=2), symbol="o", symbolSize=5,
            symbolBrush=TRAIN_COLOR)
        self.curve_test_loss = self.loss_plot.plot(
            name="test", pen=pg.mkPen(TEST_COLOR, width=2, style=dashed), symbol="s",
            symbolSize=5, symbolBrush=TEST_COLOR)
        self.curve_train_acc = self.acc_plot.plot(
            name="train", pen=pg.mkPen(ACC_TRAIN_COLOR, width=2), symbol="o", symbolSize=5,
            symbolBrush=ACC_TRAIN_COLOR)
        self.curve_test_acc = self.acc_plot.plot(
            name="test", pen=pg.mkPen(ACC_TEST_COLOR, width=2, style=dashed), symbol="s",
            symbolSize=5, symbolBrush=ACC_TEST_COLOR)
        self.curve_batch = self.batch_plot.plot(name="batch",
                                                pen=pg.mkPen((150, 170, 200), width=1))
        self.curve_batch_smooth = self.batch_plot.plot(
            name=f"smoothed (EMA {SMOOTHING})", pen=pg.mkPen(TRAIN_COLOR, width=2))

        top = QHBoxLayout()
        top.addWidget(QLabel("x-axis:"))
        top.addWidget(self.x_axis)
        top.addStretch(1)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        plots.addWidget(self.batch_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(plots, 1)
        self._update_axis_labels()

        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- data --------------------------------------------------------------------------
    def reset(self, steps_per_epoch: int = 1) -> None:
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        for buf in (self.train_loss, self.test_loss, self.train_acc, self.test_acc,
                    self.batch_loss, self.batch_smooth):
            buf.clear()
        self._ema = None
        self._dirty = True

    def add_batches(self, events) -> None:
        for e in events:
            x = (e.epoch - 1) * e.steps_per_epoch + e.step
            self.batch_loss.append(x, e.loss)
            self._ema = e.loss if self._ema is None else \
                SMOOTHING * self._ema + (1 - SMOOTHING) * e.loss
            self.batch_smooth.append(x, self._ema)
        self._dirty = True

    def add_epoch(self, e) -> None:
        x = e.epoch * self.steps_per_epoch  # epoch points sit at their last step
        self.train_loss.append(x, e.train_loss)
        self.test_loss.append(x, e.test_loss)
        self.train_acc.append(x, 100 * e.train_acc)
        self.test_acc.append(x, 100 * e.test_acc)
        self._dirty = True

    # -- drawing -----------------------------------------------------------------------
    @Slot(str)
    def set_x_mode(self, mode: str) -> None:
        self.x_mode = mode
        self._update_axis_labels()
        self._dirty = True
        self.refresh()

    def _update_axis_labels(self) -> None:
        for plot in (self.loss_plot, self.acc_plot, self.batch_plot):
            plot.setLabel("bottom", "epoch" if self.x_mode == "epochs" else "step")

    def _scaled(self, buf: SeriesBuffer):
        x, y = buf.view()
        return (x / self.steps_per_epoch if self.x_mode == "epochs" else x), y

    @Slot()
    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        for curve, buf in ((self.curve_train_loss, self.train_loss),
                           (self.curve_test_loss, self.test_loss),
                           (self.curve_train_acc, self.train_acc),
                           (self.curve_test_acc, self.test_acc),
                           (self.curve_batch, self.batch_loss),
                           (self.curve_batch_smooth, self.batch_smooth)):
            curve.setData(*self._scaled(buf))
