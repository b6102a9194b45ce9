"""Every architecture on the same MLP: cycles (one sample and the whole stream), speed-up
and utilisation as bar charts and tables, exported as CSV/Markdown/LaTeX and PNG/SVG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFileDialog, QHBoxLayout,
                               QLabel, QSplitter, QTableWidget, QToolButton, QVBoxLayout, QWidget)

from core.common.tables import Table, render
from core.pipeline import KINDS
from core.pipeline.report import layers_table, summary_table

from gui.pipeline.views import KIND_COLORS
from gui.widgets.files import export_widget
from gui.widgets.table_view import fill_table
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format

CYCLE_COLORS = ("#74c0fc", "#1864ab")  # one sample, whole stream


class ComparisonWidget(QWidget):
    sig_message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg
        self.results = []
        self.cycles_plot = pg.PlotWidget()
        self.cycles_plot.setBackground("w")
        self.cycles_plot.setTitle("Cycles")
        self.cycles_plot.setMouseEnabled(x=False, y=False)
        self.cycles_plot.setToolTip("Latency of one sample and total cycles of the stream for "
                                    "every architecture on this MLP and these latencies")
        self.util_plot = pg.PlotWidget()
        self.util_plot.setBackground("w")
        self.util_plot.setTitle("Utilisation (%)")
        self.util_plot.setMouseEnabled(x=False, y=False)
        self.util_plot.setToolTip("busy unit-cycles / (units × cycles) over the stream, per "
                                  "unit kind (blue multipliers, green adders, orange nonlinear)")
        for plot in (self.cycles_plot, self.util_plot):
            for axis in ("left", "bottom"):
                plot.getAxis(axis).enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(64)
            plot.showGrid(y=True, alpha=0.3)
        self.caption = QLabel(
            f"Cycles: <span style='color:{CYCLE_COLORS[0]}'>■</span> one sample "
            f"<span style='color:{CYCLE_COLORS[1]}'>■</span> the whole stream &nbsp;&nbsp; "
            f"Utilisation: <span style='color:{KIND_COLORS[0]}'>■</span> multipliers "
            f"<span style='color:{KIND_COLORS[1]}'>■</span> adders "
            f"<span style='color:{KIND_COLORS[2]}'>■</span> nonlinear units")
        self.caption.setToolTip("Colours of the bars")
        self.log_box = QCheckBox("log scale")
        self.log_box.setChecked(True)
        self.log_box.setToolTip("Cycles on a logarithmic axis (the architectures differ by "
                                "orders of magnitude on wide layers)")
        self.log_box.toggled.connect(self._draw)
        self.summary = QTableWidget()
        self.layers = QTableWidget()
        for table, tip in ((self.summary, "One row per architecture: latency, initiation "
                                          "interval, total, throughput, speed-up over "
                                          "per-neuron units, utilisation and unit counts"),
                           (self.layers, "Cycles of each layer with its formula")):
            table.setEditTriggers(QAbstractItemView.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            table.setAlternatingRowColors(True)
            table.setToolTip(tip)
        self.status = QLabel()
        self.status.setToolTip("Result of the last export")
        self.btn_table = QToolButton()
        self.btn_table.setText("Export tables…")
        self.btn_table.setToolTip("Save the summary and per-layer tables as CSV, Markdown or "
                                  "LaTeX (by the file's extension)")
        self.btn_table.clicked.connect(lambda: self.export_tables())
        self.btn_image = QToolButton()
        self.btn_image.setText("Export charts…")
        self.btn_image.setToolTip("Save the two charts as PNG or SVG (by the file's extension)")
        self.btn_image.clicked.connect(lambda: self.export_charts())
        charts = QSplitter(Qt.Horizontal)
        charts.addWidget(self.cycles_plot)
        charts.addWidget(self.util_plot)
        self.charts = charts
        tables = QSplitter(Qt.Vertical)
        tables.addWidget(self.summary)
        tables.addWidget(self.layers)
        body = QSplitter(Qt.Vertical)
        body.addWidget(charts)
        body.addWidget(tables)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        bar = QHBoxLayout()
        bar.addWidget(self.log_box)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.btn_table)
        bar.addWidget(self.btn_image)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(body, 1)
        layout.addLayout(bar)

    def set_results(self, results) -> None:
        self.results = list(results)
        fill_table(self.summary, self.summary_model(), missing="", tip_every_cell=True)
        fill_table(self.layers, self.layers_model(), missing="", tip_every_cell=True)
        self._draw()

    def summary_model(self) -> Table:
        return summary_table(self.results, "Architectures compared (speed-up over the first)")

    def layers_model(self) -> Table:
        return layers_table(self.results, "Cycles per layer (one sample) and stream totals")

    def _draw(self) -> None:
        import pyqtgraph as pg
        for plot in (self.cycles_plot, self.util_plot):
            plot.clear()
        if not self.results:
            return
        xs = np.arange(len(self.results), dtype=float)
        log = self.log_box.isChecked()
        values = [(r.latency.value, r.total.value) for r in self.results]
        scale = (lambda v: math.log10(v)) if log else float
        for k, color in enumerate(CYCLE_COLORS):
            heights = [scale(v[k]) for v in values]
            self.cycles_plot.addItem(pg.BarGraphItem(x=xs + (k - 0.5) * 0.38, height=heights,
                                                     width=0.36, brush=color))
        top = max(scale(v[1]) for v in values)
        left = self.cycles_plot.getAxis("left")
        if log:
            ticks = [(p, f"{10 ** p:,}") for p in range(0, int(math.ceil(top)) + 1)]
            left.setTicks([ticks])
            left.setLabel("cycles (log scale)")
        else:
            left.setTicks(None)
            left.setLabel("cycles")
        self.cycles_plot.setYRange(0, max(top * 1.08, 1.0), padding=0)
        for k, color in enumerate(KIND_COLORS):
            heights = [100 * r.utilization[KINDS[k]] for r in self.results]
            self.util_plot.addItem(pg.BarGraphItem(x=xs + (k - 1) * 0.27, height=heights,
                                                   width=0.25, brush=color))
        self.util_plot.setYRange(0, 105, padding=0)
        ticks = [[(x, r.arch) for x, r in zip(xs, self.results)]]
        for plot in (self.cycles_plot, self.util_plot):
            plot.getAxis("bottom").setTicks(ticks)
            plot.setXRange(-0.7, len(self.results) - 0.3, padding=0)

    # -- export ---------------------------------------------------------------------------
    def export_tables(self, path: str | None = None, chosen: str = "") -> str | None:
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(
                self, "Export pipeline comparison", str(Path.home() / "pipeline_comparison.csv"),
                TABLE_FILTER)
            if not path:
                return None
        path, fmt = table_path_and_format(path, chosen)
        text = render(self.summary_model(), fmt) + "\n" + render(self.layers_model(), fmt)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            return self._say(f"Cannot write {path}: {exc.strerror or exc}", error=True)
        return self._say(f"Wrote {path}", result=str(path))

    def export_charts(self, path: str | None = None) -> str | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export comparison charts", str(Path.home() / "pipeline_comparison.png"),
                "PNG (*.png);;SVG (*.svg)")
            if not path:
                return None
        try:
            save_widget_image(self.charts, path)
        except OSError as exc:
            return self._say(str(exc), error=True)
        return self._say(f"Wrote {path}", result=path)

    def _say(self, text: str, error: bool = False, result=None):
        self.status.setText(text)
        self.status.setStyleSheet("color: #d63031;" if error else "")
        self.sig_message.emit(text)
        return result


def save_widget_image(widget: QWidget, path: str) -> None:
    """A widget as PNG or SVG by the path's suffix; no suffix means PNG. Raises OSError
    naming the file when it cannot be written."""
    if not path.lower().endswith((".svg", ".png")):
        path += ".png"
    export_widget(widget, path, "MLSys Studio pipeline")
