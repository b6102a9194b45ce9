"""The Profiling plots: latency (median with its inter-quartile range) and throughput
against batch size, filled live, with a log x option; and the roofline (log-log), the
measured layers as points under the machine's roofs, where hovering shows a layer's
figures and clicking selects it.

Both save as PNG (pixels) or SVG (vectors) with ``export_image``.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from gui.widgets.files import export_widget

LATENCY_COLOR = (31, 119, 180)
THROUGHPUT_COLOR = (44, 160, 44)
PREDICTED_COLOR = (127, 127, 127)
ROOF_COLOR = (214, 39, 40)
GROUP_COLORS = {"GEMM": (31, 119, 180), "conv": (255, 127, 14), "attention": (148, 103, 189),
                "normalisation": (44, 160, 44), "elementwise": (140, 86, 75),
                "pooling": (227, 119, 194), "other": (127, 127, 127)}
HOVER_RADIUS_PX = 14


class DecadeAxis(pg.AxisItem):
    """A log axis that labels only the powers of ten (pyqtgraph also labels the minor
    ticks between them, which then overlap)."""

    def logTickStrings(self, values, scale, spacing):
        return [decade_text(v) if abs(v - round(v)) < 1e-9 else "" for v in values]


def decade_text(exponent: float) -> str:
    """10**exponent as '0.01', '1', '1000' or '1e9'."""
    e = int(round(exponent))
    return f"{10.0 ** e:g}" if -3 <= e <= 4 else f"1e{e}"


def styled_plot(title: str, x_label: str, y_label: str, log_axes: bool = False
                ) -> pg.PlotWidget:
    """A white plot with black axes, a light grid and plain (un-prefixed) numbers."""
    axes = {"bottom": DecadeAxis("bottom"), "left": DecadeAxis("left")} if log_axes else {}
    plot = pg.PlotWidget(background="w", axisItems=axes)
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMinimumHeight(140)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen("k")
        plot.getAxis(axis).setTextPen("k")
        plot.getAxis(axis).enableAutoSIPrefix(False)
    return plot


class BatchPlots(QWidget):
    """Latency and throughput against batch size, side by side."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.latency = styled_plot("Latency per batch (median, IQR bars)", "batch", "ms")
        self.throughput = styled_plot("Throughput", "batch", "items / s")
        self.latency.addLegend(offset=(10, 10), labelTextColor="k",
                               brush=(255, 255, 255, 200))
        self.latency_curve = self.latency.plot([], [], pen=pg.mkPen(LATENCY_COLOR, width=2),
                                               symbol="o", symbolSize=7,
                                               symbolBrush=LATENCY_COLOR, name="measured")
        self.iqr_bars = self.latency.plot([], [], pen=pg.mkPen(LATENCY_COLOR, width=1),
                                          connect="pairs")
        self.predicted_curve = self.latency.plot(
            [], [], pen=pg.mkPen(PREDICTED_COLOR, width=1.5, style=pg.QtCore.Qt.DashLine),
            name="roofline prediction")
        self.throughput_curve = self.throughput.plot(
            [], [], pen=pg.mkPen(THROUGHPUT_COLOR, width=2), symbol="o", symbolSize=7,
            symbolBrush=THROUGHPUT_COLOR)
        for plot in (self.latency, self.throughput):
            plot.setToolTip("One point per batch size, added as each is measured")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.latency)
        layout.addWidget(self.throughput)
        self.rows: list = []
        self.log_x = False

    def reset(self) -> None:
        self.rows = []
        self._redraw()

    def add_batch(self, row) -> None:
        self.rows.append(row)
        self._redraw()

    def set_log_x(self, log: bool) -> None:
        self.log_x = log
        for plot in (self.latency, self.throughput):
            plot.setLogMode(x=log, y=False)
            plot.enableAutoRange()
        self._set_batch_ticks()

    def _set_batch_ticks(self) -> None:
        """On a log axis, label the measured batch sizes themselves."""
        ticks = [[(math.log10(r.batch), str(r.batch)) for r in self.rows]] \
            if self.log_x and self.rows else None
        for plot in (self.latency, self.throughput):
            plot.getAxis("bottom").setTicks(ticks)

    def _redraw(self) -> None:
        rows = sorted(self.rows, key=lambda r: r.batch)
        xs = [float(r.batch) for r in rows]
        self.latency_curve.setData(xs, [r.latency_ms for r in rows])
        bars_x, bars_y = [], []
        for r in rows:
            q1, q3 = r.timing.quartiles_ms
            bars_x += [float(r.batch)] * 2
            bars_y += [q1, q3]
        self.iqr_bars.setData(bars_x, bars_y)
        predicted = [r for r in rows if r.predicted_ms is not None]
        self.predicted_curve.setData([float(r.batch) for r in predicted],
                                     [r.predicted_ms for r in predicted])
        self.throughput_curve.setData(xs, [r.throughput_per_s for r in rows])
        self._set_batch_ticks()

    def export_image(self, path: str) -> None:
        export_widget(self, path, "MLSys Studio latency and throughput")


class RooflinePlot(QWidget):
    """Attained FLOP/s of each layer against its arithmetic intensity, under the roofs
    min(peak, bandwidth × intensity); log-log. ``sig_selected(name)`` on a click."""

    sig_selected = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = styled_plot("Roofline (measured layers)", "arithmetic intensity (FLOP/byte)",
                                "attained FLOP/s", log_axes=True)
        self.plot.setLogMode(x=True, y=True)
        self.plot.addLegend(offset=(-10, -10), labelTextColor="k",
                            brush=(255, 255, 255, 200))
        self.roof = self.plot.plot([], [], pen=pg.mkPen(ROOF_COLOR, width=2), name="roofline")
        self.points = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k", width=0.5))
        self.plot.addItem(self.points)
        self.highlight = pg.ScatterPlotItem(size=16, pen=pg.mkPen("k", width=2), brush=None)
        self.highlight.setZValue(50)
        self.plot.addItem(self.highlight)
        self.ridge = pg.InfiniteLine(angle=90, pen=pg.mkPen(ROOF_COLOR, width=1,
                                                            style=pg.QtCore.Qt.DotLine))
        self.ridge.setVisible(False)
        self.plot.addItem(self.ridge, ignoreBounds=True)
        self.label = pg.TextItem(color="k", fill=(255, 255, 220, 235), anchor=(0, 1))
        self.label.setZValue(100)
        self.label.setVisible(False)
        self.plot.addItem(self.label, ignoreBounds=True)
        self._legend_groups: set[str] = set()
        self.layers: list = []  # the plotted LayerProfiles, in point order
        self.hover_text = ""
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.plot.setToolTip("Hover a point for its layer's figures; click to select its row")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def reset(self) -> None:
        self.layers = []
        self.points.setData([], [])
        self.highlight.setData([], [])
        self.roof.setData([], [])
        self.ridge.setVisible(False)
        self.hide_label()

    def set_profile(self, layers, peaks) -> None:
        """Plot the layers with arithmetic and a measured time under ``peaks``'s roofs."""
        self.layers = [l for l in layers if l.cost.flops and l.measured_ms]
        spots = []
        for l in self.layers:
            color = GROUP_COLORS.get(l.cost.group, GROUP_COLORS["other"])
            spots.append({"pos": (math.log10(l.cost.intensity), math.log10(l.attained_flops)),
                          "brush": pg.mkBrush(color), "data": l.name})
            if l.cost.group not in self._legend_groups:  # one legend entry per group
                self._legend_groups.add(l.cost.group)
                self.plot.plotItem.legend.addItem(
                    pg.ScatterPlotItem(brush=pg.mkBrush(color), size=9), l.cost.group)
        self.points.setData(spots)
        if peaks is None:
            return
        intensities = [l.cost.intensity for l in self.layers] or [peaks.ridge]
        low = min(min(intensities), peaks.ridge) / 4
        high = max(max(intensities), peaks.ridge) * 4
        self.roof.setData([low, peaks.ridge, high],
                          [peaks.bandwidth * low, peaks.peak_flops, peaks.peak_flops])
        self.ridge.setValue(math.log10(peaks.ridge))
        self.ridge.setVisible(True)
        self.peaks = peaks
        self.plot.enableAutoRange()

    # -- hover and click ----------------------------------------------------------------
    def nearest(self, x: float, y: float):
        """The plotted layer nearest (x, y) in view coordinates (log10 units) within the
        hover radius in pixels, or None."""
        view = self.plot.getViewBox()
        px, py = view.viewPixelSize()
        best, found = HOVER_RADIUS_PX ** 2, None
        for spot, layer in zip(self.points.points(), self.layers):
            pos = spot.pos()
            d2 = ((pos.x() - x) / px) ** 2 + ((pos.y() - y) / py) ** 2
            if d2 <= best:
                best, found = d2, layer
        return found

    def layer_text(self, l) -> str:
        c = l.cost
        lines = [f"{c.name} ({c.type})", f"intensity {c.intensity:,.3g} FLOP/B",
                 f"attained {l.attained_flops / 1e9:,.3g} GFLOP/s",
                 f"measured {l.measured_ms:,.3g} ms"]
        if l.predicted_ms is not None:
            lines.append(f"predicted {l.predicted_ms:,.3g} ms ({l.error:+.0%})")
        return "\n".join(lines)

    def show_at(self, x: float, y: float) -> str:
        layer = self.nearest(x, y)
        if layer is None:
            self.hide_label()
            return ""
        self.hover_text = self.layer_text(layer)
        self.label.setText(self.hover_text)
        lx, ly = math.log10(layer.cost.intensity), math.log10(layer.attained_flops)
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        self.label.setAnchor((1 if lx > (x0 + x1) / 2 else 0, 0 if ly > (y0 + y1) / 2 else 1))
        self.label.setPos(lx, ly)
        self.label.setVisible(True)
        return self.hover_text

    def hide_label(self) -> None:
        self.hover_text = ""
        self.label.setVisible(False)

    def select(self, name: str) -> None:
        """Ring the point of layer ``name`` (none if it is not plotted)."""
        for spot, layer in zip(self.points.points(), self.layers):
            if layer.name == name:
                self.highlight.setData([spot.pos().x()], [spot.pos().y()])
                return
        self.highlight.setData([], [])

    def click_at(self, x: float, y: float) -> str | None:
        layer = self.nearest(x, y)
        if layer is not None:
            self.select(layer.name)
            self.sig_selected.emit(layer.name)
        return None if layer is None else layer.name

    def _view_point(self, scene_pos):
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos):
            return None
        return view.mapSceneToView(scene_pos)

    def _on_mouse_moved(self, scene_pos) -> None:
        point = self._view_point(scene_pos)
        if point is None:
            self.hide_label()
        else:
            self.show_at(point.x(), point.y())

    def _on_mouse_clicked(self, event) -> None:
        point = self._view_point(event.scenePos())
        if point is not None:
            self.click_at(point.x(), point.y())

    def export_image(self, path: str) -> None:
        self.hide_label()
        export_widget(self, path, "MLSys Studio roofline")
