"""Live training plots: loss and accuracy per epoch (train solid, test dashed) and the
per-batch loss with an exponential moving average; earlier runs overlaid in their own
colours (train solid, test dashed); hovering a plot shows the nearest point's values.

Data arrive in preallocated numpy buffers (grown by doubling); a QTimer pushes them to the
curves with ``setData`` at most ``REFRESH_HZ`` times a second and only when something
changed, so a fast model costs the GUI thread little (DESIGN convention 5).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.widgets.files import export_widget
from gui.widgets.plots import plain_axes

REFRESH_HZ = 5  # each repaint costs the GUI thread ~10-20 ms (and the trainer the GIL)
SMOOTHING = 0.9  # EMA weight of the past for the smoothed batch loss
TRAIN_COLOR = (31, 119, 180)
TEST_COLOR = (214, 39, 40)
ACC_TRAIN_COLOR = (44, 160, 44)
ACC_TEST_COLOR = (255, 127, 14)
# overlaid runs: one colour each (train solid, test dashed), distinct from the live colours
OVERLAY_COLORS = ((148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
                  (188, 189, 34), (23, 190, 207), (0, 0, 128), (128, 0, 0))
HOVER_RADIUS_PX = 20


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


def ema(values: np.ndarray, weight: float = SMOOTHING) -> np.ndarray:
    """Exponential moving average, the same smoothing the live curve uses."""
    out = np.empty(len(values))
    acc = None
    for i, v in enumerate(values):
        acc = v if acc is None else weight * acc + (1 - weight) * v
        out[i] = acc
    return out


class HoverReadout:
    """Shows the data point nearest the mouse (within HOVER_RADIUS_PX) of any named curve of
    a plot: a marker on it and its curve, x and y in a text label."""

    def __init__(self, plot: pg.PlotWidget, x_name):
        self.plot = plot
        self.x_name = x_name  # callable: the x-axis's current name ("epoch" / "step")
        self.text = ""
        self.marker = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k", width=1.5), brush=None)
        self.label = pg.TextItem(color="k", fill=(255, 255, 220, 230), anchor=(0, 1))
        for item in (self.marker, self.label):
            item.setZValue(100)
            item.setVisible(False)
            plot.addItem(item, ignoreBounds=True)
        plot.scene().sigMouseMoved.connect(self.on_mouse_moved)

    def nearest(self, x: float, y: float):
        """(curve name, x, y) of the closest point within the radius, in pixels, or None."""
        view = self.plot.getViewBox()
        px, py = view.viewPixelSize()
        best, found = HOVER_RADIUS_PX ** 2, None
        for curve in self.plot.listDataItems():
            name = curve.name()
            if not name or not curve.isVisible() or curve.xData is None or \
                    len(curve.xData) == 0:
                continue
            d2 = ((curve.xData - x) / px) ** 2 + ((curve.yData - y) / py) ** 2
            i = int(np.argmin(d2))
            if d2[i] <= best:
                best, found = float(d2[i]), (name, float(curve.xData[i]),
                                             float(curve.yData[i]))
        return found

    def show_at(self, x: float, y: float) -> str:
        """Show the point nearest (x, y) in data coordinates; returns the text ('' if none)."""
        hit = self.nearest(x, y)
        if hit is None:
            self.hide()
            return ""
        name, hx, hy = hit
        self.text = f"{name}\n{self.x_name()} {hx:.4g}\n{self.plot.getAxis('left').labelText}" \
                    f" {hy:.4g}"
        self.marker.setData([hx], [hy])
        self.label.setText(self.text)
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        # keep the label inside the plot: left of points in the right half, below points
        # in the upper half
        self.label.setAnchor((1 if hx > (x0 + x1) / 2 else 0, 0 if hy > (y0 + y1) / 2 else 1))
        self.label.setPos(hx, hy)
        self.marker.setVisible(True)
        self.label.setVisible(True)
        return self.text

    def hide(self) -> None:
        self.text = ""
        self.marker.setVisible(False)
        self.label.setVisible(False)

    def on_mouse_moved(self, scene_pos) -> None:
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos):
            self.hide()
            return
        point = view.mapSceneToView(scene_pos)
        self.show_at(point.x(), point.y())


def styled_plot(title: str, y_label: str = "", legend_offset=(-10, 10),
                legend: bool = True) -> pg.PlotWidget:
    """A white plot with black axes and a light grid, as every training plot looks."""
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="k", size="10pt")
    if y_label:
        plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plain_axes(plot)  # "cross-entropy (x0.001)", "epoch (x0.001)" otherwise
    if legend:  # negative offsets anchor the legend to the right / bottom edge
        plot.addLegend(offset=legend_offset, labelTextColor="k", brush=(255, 255, 255, 200))
    plot.setMinimumHeight(150)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen("k")
        plot.getAxis(axis).setTextPen("k")
    return plot


def legend_below(plot: pg.PlotWidget) -> pg.LegendItem:
    """A one-row legend under the x-axis, outside the data: inside the plot, the batch
    curve (which starts high on the left and, early in a run, fills the whole box) ran
    under the legend. Curves given a name join it as they do a plot's own legend."""
    item = plot.getPlotItem()
    legend = pg.LegendItem(colCount=2, labelTextColor="k", frame=False, horSpacing=14)
    item.legend = legend  # PlotItem.addItem puts named curves here
    item.layout.addItem(legend, 4, 0, 1, 3)  # the full width: it must not widen the plot
    item.layout.setRowStretchFactor(4, 0)
    return legend


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
        self._restyle = False  # push every curve at the next refresh (reset, x-axis mode)
        self._pushed: dict[int, int] = {}  # id(curve) -> points it was last given
        self.redraws = 0  # how many times the timer pushed data (tests check the rate)

        self.x_axis = QComboBox()
        self.x_axis.addItems(["epochs", "steps"])
        self.x_axis.setToolTip("What the x-axis counts: epochs (fractional for batches) or "
                               "optimizer steps")
        self.x_axis.currentTextChanged.connect(self.set_x_mode)

        self.loss_plot = styled_plot("Loss per epoch", "cross-entropy")
        self.acc_plot = styled_plot("Accuracy per epoch", "accuracy (%)", (-10, -10))
        self.batch_plot = styled_plot("Loss per batch", "cross-entropy", legend=False)
        self.batch_legend = legend_below(self.batch_plot)
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

        self.overlays: list = []  # RunRecords drawn beside the live run
        self._overlay_curves: list = []
        self.hovers = [HoverReadout(plot, self.x_label)
                       for plot in (self.loss_plot, self.acc_plot, self.batch_plot)]

        top = QHBoxLayout()
        top.addWidget(QLabel("x-axis:"))
        top.addWidget(self.x_axis)
        top.addStretch(1)
        self.plot_area = QWidget()  # what "Export plots" writes
        plots = QHBoxLayout(self.plot_area)
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        plots.addWidget(self.batch_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot_area, 1)
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
        self._dirty = self._restyle = True

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
        self._draw_overlays()
        self._dirty = self._restyle = True
        self.refresh()

    def x_label(self) -> str:
        return "epoch" if self.x_mode == "epochs" else "step"

    def _update_axis_labels(self) -> None:
        for plot in (self.loss_plot, self.acc_plot, self.batch_plot):
            plot.setLabel("bottom", self.x_label())

    def _x(self, steps: np.ndarray, steps_per_epoch: int) -> np.ndarray:
        return steps / steps_per_epoch if self.x_mode == "epochs" else steps

    def _scaled(self, buf: SeriesBuffer):
        x, y = buf.view()
        return self._x(x, self.steps_per_epoch), y

    # -- overlays ----------------------------------------------------------------------
    def set_overlays(self, records: list) -> None:
        """Draw these earlier runs (core.training.run_history.RunRecord) beside the live one."""
        self.overlays = list(records)
        self._draw_overlays()

    def _draw_overlays(self) -> None:
        for plot, curve in self._overlay_curves:
            plot.removeItem(curve)
        self._overlay_curves = []
        for i, record in enumerate(self.overlays):
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            self._overlay_run(record, color)

    def _overlay_run(self, record, color) -> None:
        solid = pg.mkPen(color, width=1.5)
        dashed = pg.mkPen(color, width=1.5, style=Qt.DashLine)
        spe = max(1, record.steps_per_epoch)
        series = ((self.loss_plot, "train_loss", 1, solid, "train"),
                  (self.loss_plot, "test_loss", 1, dashed, "test"),
                  (self.acc_plot, "train_acc", 100, solid, "train"),
                  (self.acc_plot, "test_acc", 100, dashed, "test"))
        for plot, key, scale, pen, split in series:
            x, y = record.epoch_series(key)
            self._add_overlay(plot, self._x(x, spe), scale * y, pen,
                              f"{record.label} {split}", symbol="t", symbolSize=6,
                              symbolBrush=color, symbolPen=color)
        if len(record.batch_losses):
            self._add_overlay(self.batch_plot, self._x(record.batch_steps, spe),
                              ema(record.batch_losses), solid, f"{record.label} smoothed")

    def _add_overlay(self, plot, x, y, pen, name, **style) -> None:
        curve = plot.plot(x, y, pen=pen, name=name, **style)
        curve.setZValue(-1)  # under the live run
        self._overlay_curves.append((plot, curve))

    @Slot()
    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        # Only curves whose data grew are pushed, so between epochs just the batch plot
        # repaints: a repaint costs the GUI thread milliseconds (and the trainer the GIL).
        for curve, buf in ((self.curve_train_loss, self.train_loss),
                           (self.curve_test_loss, self.test_loss),
                           (self.curve_train_acc, self.train_acc),
                           (self.curve_test_acc, self.test_acc),
                           (self.curve_batch, self.batch_loss),
                           (self.curve_batch_smooth, self.batch_smooth)):
            if self._restyle or self._pushed.get(id(curve)) != buf.n:
                curve.setData(*self._scaled(buf))
                self._pushed[id(curve)] = buf.n
        self._restyle = False

    # -- export ------------------------------------------------------------------------
    def export_image(self, path: str) -> None:
        """The three plots side by side as PNG (pixels) or SVG (vectors), by suffix.
        Raises OSError naming the file when it cannot be written."""
        self.refresh()
        for hover in self.hovers:
            hover.hide()
        export_widget(self.plot_area, path, "MLSys Studio training plots")
