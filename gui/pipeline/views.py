"""The Pipeline workspace's views, each drawing cycle i from i alone: the MLP drawing
(neurons and connections at work light up), the Gantt chart (operations on their units,
aggregated for big schedules) and the utilisation bars."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.pipeline import KINDS

from gui.pipeline.frames import SHOWN_NEURONS, FrameState, ScheduleFrames, shown

KIND_COLORS = ("#1c7ed6", "#2f9e44", "#e8590c")   # multiply, add, nonlinear
KIND_LABELS = ("multiply", "add", "nonlinear")
IDLE = QColor("#ced4da")
VISIBLE = 0.12  # the faintest shade of a Gantt bin where anything ran (a lone σ still shows)


class MlpDrawingWidget(QWidget):
    """Layers as columns of circles; a circle stands for a group of neurons when the layer
    is wider than the drawing allows (the column's label says so)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.widths: tuple[int, ...] = ()
        self.state: FrameState | None = None
        self.setMinimumSize(240, 150)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setToolTip("The MLP: a column per layer of neurons (inputs on the left). Circles "
                        "and connections light up in the colour of the operation running on "
                        "them at the current cycle (blue multiply, green add, orange "
                        "nonlinear); a wide layer is drawn as 12 groups of neurons.")

    def set_widths(self, widths) -> None:
        self.widths = tuple(widths)
        self.state = None
        self.update()

    def render_frame(self, state: FrameState | None) -> None:
        self.state = state
        self.update()

    def _positions(self):
        w, h = self.width(), self.height()
        columns = len(self.widths)
        margin_x, top, bottom = 40, 8, 36
        xs = [margin_x + (w - 2 * margin_x) * (k / max(columns - 1, 1)) for k in range(columns)]
        out = []
        for x, width in zip(xs, self.widths):
            count = shown(width)
            gap = (h - top - bottom) / max(count, 1)
            out.append([QPointF(x, top + gap * (i + 0.5)) for i in range(count)])
        return out, min(12.0, max(3.0, (h - top - bottom) / (2.6 * SHOWN_NEURONS)))

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        if not self.widths:
            return
        points, radius = self._positions()
        state = self.state
        idle_pen = QPen(QColor("#dee2e6"), 0.6)
        for k in range(len(self.widths) - 1):
            lit = state.edges[k] if state is not None else None
            for i, a in enumerate(points[k]):
                for j, b in enumerate(points[k + 1]):
                    if lit is not None and lit[i, j]:
                        continue
                    painter.setPen(idle_pen)
                    painter.drawLine(a, b)
            if lit is not None and lit.any():
                painter.setPen(QPen(QColor(KIND_COLORS[0]), 2.0))
                for i, j in zip(*np.nonzero(lit)):
                    painter.drawLine(points[k][i], points[k + 1][j])
        for k, column in enumerate(points):
            kinds = state.neurons[k] if state is not None else None
            for i, p in enumerate(column):
                code = int(kinds[i]) if kinds is not None else -1
                color = QColor(KIND_COLORS[code]) if code >= 0 else IDLE
                painter.setPen(QPen(QColor("#495057"), 1.0))
                painter.setBrush(color)
                painter.drawEllipse(p, radius, radius)
        painter.setPen(self.palette().text().color())
        font = QFont(painter.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        painter.setFont(font)
        for k, column in enumerate(points):
            width = self.widths[k]
            text = f"{width:,}" if width <= len(column) else f"{width:,}\n({len(column)} groups)"
            x = column[0].x()
            painter.drawText(QRectF(x - 45, self.height() - 32, 90, 30),
                             Qt.AlignHCenter | Qt.AlignTop, text)


class GanttWidget(QWidget):
    """Units (or unit groups) on the y axis, cycles on x. Small schedules get one bar per
    operation coloured by kind; big ones an image of each group's busy fraction per bin,
    in the kind's colour (white = idle). A vertical line marks the current cycle."""

    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg
        from PySide6.QtWidgets import QVBoxLayout
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setLabel("bottom", "cycle")
        for name in ("bottom", "left"):
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        self.plot.getViewBox().invertY(True)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.setToolTip("Gantt chart: every operation on its unit from its start to its end "
                             "cycle (blue multiply, green add, orange nonlinear). Large "
                             "schedules show each unit group's busy fraction instead (darker = "
                             "more units busy; any activity shows at least faintly). Drag or "
                             "wheel to zoom the cycle axis.")
        self.cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#c92a2a", width=2))
        self.plot.addItem(self.cursor)
        self.cursor.setZValue(10)
        self.mode = ""
        self.unit_ticks: list[tuple[int, str]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.items = []

    def set_frames(self, frames: ScheduleFrames | None) -> None:
        import pyqtgraph as pg
        for item in self.items:
            self.plot.removeItem(item)
        self.items = []
        if frames is None:
            self.mode = ""
            return
        if frames.detailed:
            self.mode = "detailed"
            rows, ticks = frames.unit_rows()
            s = frames.schedule
            for code, color in enumerate(KIND_COLORS):
                pick = s.kind == code
                if not pick.any():
                    continue
                bar = pg.BarGraphItem(x0=s.start[pick], width=(s.end - s.start)[pick],
                                      y=rows[pick], height=0.8, brush=color,
                                      pen=pg.mkPen("#343a40", width=0.3))
                self.plot.addItem(bar)
                self.items.append(bar)
            self.unit_ticks = ticks
            self._label_rows()
            top = len(ticks)
        else:
            self.mode = "aggregated"
            fraction, per_bin = frames.binned_fraction()
            groups = fraction.shape[0]
            rgb = np.empty((groups, fraction.shape[1], 3), dtype=np.float64)
            layers = frames.layer_count
            for g in range(groups):
                color = np.array(pg.mkColor(KIND_COLORS[g // layers]).getRgb()[:3], float)
                f = np.clip(fraction[g], 0, 1)
                f = np.where(f > 0, VISIBLE + (1 - VISIBLE) * f, 0.0)[:, None]
                rgb[g] = 255 * (1 - f) + color[None, :] * f
            image = pg.ImageItem(rgb.astype(np.uint8), axisOrder="row-major")
            image.setRect(QRectF(0, -0.5, fraction.shape[1] * per_bin, groups))
            self.plot.addItem(image)
            self.items.append(image)
            labels = frames.group_labels()
            self.unit_ticks = [(g, labels[g]) for g in range(groups)]
            self._label_rows()
            top = groups
        self.plot.setLimits(xMin=-1, xMax=frames.span + 1)
        self.plot.setXRange(0, max(frames.span, 1), padding=0.01)
        self.plot.setYRange(-0.6, top - 0.4, padding=0)

    def _label_rows(self) -> None:
        """Label as many rows as fit (about 16 px a label); the others keep a tick mark."""
        ticks = getattr(self, "unit_ticks", [])
        rows_px = max(1, self.plot.height() - 45)  # less the cycle axis
        room = max(1, int(rows_px // 16))
        step = max(1, -(-len(ticks) // room))
        self.plot.getAxis("left").setTicks([ticks[::step], [(y, "") for y, _ in ticks]])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._label_rows()

    def render_frame(self, cycle: int) -> None:
        self.cursor.setPos(cycle + 0.5)


class UtilisationWidget(QWidget):
    """Per unit kind: the whole run's utilisation and the fraction busy at this cycle."""

    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg
        from PySide6.QtWidgets import QVBoxLayout
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setTitle("Utilisation (%)")
        self.plot.setMouseEnabled(x=False, y=False)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").setTicks([[(i, t) for i, t in enumerate(("mul", "add", "σ"))]])
        self.plot.setYRange(0, 105, padding=0)
        self.plot.setXRange(-0.6, len(KINDS) - 0.4, padding=0)
        self.plot.setToolTip("Light bars: busy unit-cycles / (units × cycles) over the whole "
                             "run. Dark bars: the share of the units busy at the current cycle.")
        self.overall = pg.BarGraphItem(x=np.arange(len(KINDS)) - 0.18, height=[0] * 3, width=0.34,
                                       brushes=[pg.mkBrush(QColor(c).lighter(160))
                                                for c in KIND_COLORS])
        self.now = pg.BarGraphItem(x=np.arange(len(KINDS)) + 0.18, height=[0] * 3, width=0.34,
                                   brushes=KIND_COLORS)
        self.plot.addItem(self.overall)
        self.plot.addItem(self.now)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.units = dict.fromkeys(KINDS, 0)
        self.values_now: list[float] = [0.0] * 3

    def set_result(self, units: dict[str, int], utilisation: dict[str, float]) -> None:
        self.units = dict(units)
        self.overall.setOpts(height=[100 * utilisation[k] for k in KINDS])

    def render_frame(self, busy: dict[str, int]) -> None:
        self.values_now = [100 * busy[k] / self.units[k] if self.units[k] else 0.0
                           for k in KINDS]
        self.now.setOpts(height=self.values_now)
