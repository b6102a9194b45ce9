"""All dataflows (and the systolic mode) on the same layer: bar charts of memory accesses per
operand and of energy by level, the table behind them, and their CSV/Markdown/LaTeX/PNG export
(the "textbook nests" view); and, by default, the mapper's best mapping within each dataflow
beside its textbook nest (gui.dataflow.mapped_comparison), whose verdict compares best against best."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QSplitter, QStackedWidget, QTableWidget, QTableWidgetItem,
                               QToolButton, QVBoxLayout, QWidget)

from core.dataflow import (DATAFLOW_NAMES, DATAFLOWS, LEVEL_NAMES, LEVELS, EnergyCosts,
                           energy_breakdown)
from core.common.tables import Table, render

from gui.widgets.files import save_image, write_atomic
from gui.widgets.plots import plain_axes
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format
from gui.dataflow.mapped_comparison import MappedComparisonView

OPERAND_SERIES = (("input reads", "#1c7ed6"), ("weight reads", "#2f9e44"),
                  ("psum reads", "#ae3ec9"), ("output writes", "#e8590c"))
LEVEL_COLORS = {"rf": "#74c0fc", "inter_pe": "#63e6be", "buffer": "#ffd43b", "dram": "#e8590c",
                "mac": "#868e96"}


@dataclass(frozen=True)
class ComparisonRow:
    """One bar group: a dataflow (or the systolic mode) with its counts, or why it cannot run."""

    key: str
    label: str
    name: str
    reads: tuple[int, int, int] | None     # input, weight, psum reads from memory
    writes: int | None
    buffer: int | None
    macs: int | None
    energy: dict[str, float] | None        # per level
    best: bool = False
    note: str = ""

    @property
    def feasible(self) -> bool:
        return self.reads is not None

    @property
    def memory_total(self) -> int | None:
        return None if self.reads is None else sum(self.reads) + self.writes

    @property
    def energy_total(self) -> float | None:
        return None if self.energy is None else float(sum(self.energy.values()))


def comparison_rows(ranking, systolic=None, costs: EnergyCosts | None = None) -> list[ComparisonRow]:
    """Rows in the fixed order ws, is, os, rs, then the systolic mode."""
    by_key = {r.dataflow: r for r in ranking.ranked}
    rows = []
    for df in DATAFLOWS:
        r = by_key.get(df)
        if r is None:
            rows.append(ComparisonRow(df, f"{df} (n/a)", DATAFLOW_NAMES[df], None, None, None, None, None,
                                      note=ranking.infeasible.get(df, "")))
            continue
        c = r.counts
        rows.append(ComparisonRow(
            df, df, DATAFLOW_NAMES[df],
            (c.memory_reads["input"], c.memory_reads["weight"], c.memory_reads["output"]),
            c.memory_writes["output"], sum(c.buffer.values()), c.macs, dict(r.energy.energy),
            best=df == ranking.best,
            note=f"{r.policy} policy; tiles " + ", ".join(f"{d} {t}" for d, t in r.nest.tiles().items())))
    if systolic is not None:
        s = systolic
        sram = s.sram_ifmap_reads + s.sram_filter_reads + s.sram_ofmap_writes
        dram = s.dram_ifmap_reads + s.dram_filter_reads + s.dram_ofmap_writes
        energy = energy_breakdown({"buffer": sram, "dram": dram, "mac": s.macs}, costs)
        rows.append(ComparisonRow(
            "systolic", f"SA {s.dataflow} {s.rows}×{s.cols}", f"systolic array ({s.dataflow}, SCALE-Sim)",
            (s.dram_ifmap_reads, s.dram_filter_reads, 0), s.dram_ofmap_writes, sram, s.macs,
            dict(energy.energy),
            note=(f"{s.rounding} output size {s.ofmap_h}×{s.ofmap_w}, no padding; DRAM is an estimate "
                  f"(64 KB SRAMs), buffer = SRAM accesses; no RF/inter-PE terms")))
    return rows


def comparison_table(rows: list[ComparisonRow], title: str = "") -> Table:
    headers = ["dataflow", "name", "input reads", "weight reads", "psum reads", "output writes",
               "memory total", "buffer accesses", "MACs", "energy", "best", "note"]
    table = Table(headers, title=title, numeric={2, 3, 4, 5, 6, 7, 8, 9})
    for r in rows:
        reads = r.reads or (None, None, None)
        energy = None if r.energy_total is None else round(r.energy_total, 2)
        table.rows.append([r.key, r.name, *reads, r.writes, r.memory_total, r.buffer, r.macs, energy,
                           "yes" if r.best else "", r.note])
    return table


class ComparisonWidget(QWidget):
    """A choice of figures: the mapper's best per dataflow (``mapped``, the default) or the
    textbook nests (two bar charts, one bar group per dataflow, the table and export buttons)."""

    sig_message = Signal(str)
    MODES = (("mapped", "mapper's best per dataflow"), ("textbook", "textbook nests"))

    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg
        self.rows: list[ComparisonRow] = []
        self.title = ""
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.explanation.setToolTip("Which dataflow minimises memory accesses for these sizes, and "
                                    "which ones the buffers cannot run (and why)")
        self.access_plot = pg.PlotWidget()
        self.access_plot.setTitle("Memory (DRAM) accesses per operand")
        self.access_plot.setLabel("left", "elements")
        self.access_plot.showGrid(y=True, alpha=0.3)
        self.access_plot.setMouseEnabled(x=False, y=False)
        self.access_plot.setToolTip("Elements moved between memory and the buffers, per operand, for "
                                    "every dataflow on this layer (n/a: the buffers are too small for it)")
        self.energy_plot = pg.PlotWidget()
        self.energy_plot.setTitle("Energy by level (units of one MAC)")
        self.energy_plot.showGrid(y=True, alpha=0.3)
        self.energy_plot.setMouseEnabled(x=False, y=False)
        self.energy_plot.setToolTip("Accesses × cost per access at each level of the hierarchy, stacked "
                                    "(Eyeriss's costs: DRAM 200, buffer 6, inter-PE 2, RF 1, MAC 1)")
        self.energy_plot.setLabel("left", "energy")
        for plot in (self.access_plot, self.energy_plot):
            plain_axes(plot)
            plot.getAxis("left").setWidth(72)  # room for 7-digit labels from the first paint
        self.access_legend = self.access_plot.addLegend(offset=(-6, 6))
        self.energy_legend = self.energy_plot.addLegend(offset=(-6, 6))
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setToolTip("The numbers behind the charts; export them with Table…")
        self.btn_table = QToolButton()
        self.btn_table.setText("Export table…")
        self.btn_table.setToolTip("Save this table as CSV, Markdown or LaTeX (the format follows the "
                                  "file name's extension)")
        self.btn_table.clicked.connect(self.export_table)
        self.btn_png = QToolButton()
        self.btn_png.setText("Export PNG…")
        self.btn_png.setToolTip("Save the charts and the table as a PNG image")
        self.btn_png.clicked.connect(self.export_png)
        self.status = QLabel()
        self.status.setToolTip("Result of the last export")
        charts = QSplitter(Qt.Horizontal)
        charts.addWidget(self.access_plot)
        charts.addWidget(self.energy_plot)
        body = QSplitter(Qt.Vertical)
        body.addWidget(charts)
        body.addWidget(self.table)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.btn_table)
        bar.addWidget(self.btn_png)
        self.textbook_page = QWidget()
        textbook = QVBoxLayout(self.textbook_page)
        textbook.setContentsMargins(0, 0, 0, 0)
        textbook.addWidget(self.explanation)
        textbook.addWidget(body, 1)
        textbook.addLayout(bar)
        self.mapped = MappedComparisonView()
        self.mapped.sig_message.connect(self.sig_message)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.mapped)
        self.pages.addWidget(self.textbook_page)
        self.mode_box = QComboBox()
        for key, text in self.MODES:
            self.mode_box.addItem(text, key)
        self.mode_box.setToolTip("Compare the dataflows by the mapper's best mapping within each (best "
                                 "against best, the default) or by their hand-count textbook nests")
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        top = QHBoxLayout()
        top.addWidget(QLabel("compare"))
        top.addWidget(self.mode_box)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        self.access_bars = []
        self.energy_bars = []

    # -- data -------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.mode_box.currentData()

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentIndex(self.mode_box.findData(mode))

    def _mode_changed(self, index: int) -> None:
        self.pages.setCurrentIndex(index)  # showing the mapped view starts its search if due

    def set_data(self, ranking, systolic=None, title: str = "", costs=None) -> None:
        self.ranking, self.title, self.costs = ranking, title, costs
        self.explanation.setText(ranking.explanation())
        self.set_systolic(systolic)

    def set_systolic(self, systolic) -> None:
        self.systolic = systolic
        self.rows = comparison_rows(self.ranking, systolic, getattr(self, "costs", None))
        self._fill_table()
        self._draw()

    @property
    def groups(self) -> list[str]:
        """The x-axis labels: one bar group per dataflow (then the systolic mode)."""
        return [r.label for r in self.rows]

    def table_model(self) -> Table:
        return comparison_table(self.rows, self.title)

    def _fill_table(self) -> None:
        table = self.table_model()
        self.table.clear()
        self.table.setColumnCount(len(table.headers))
        self.table.setRowCount(len(table.rows))
        self.table.setHorizontalHeaderLabels(table.headers)
        for r, row in enumerate(table.rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(table.cell(value, c) if value is not None else "—")
                if c in table.numeric:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if c == len(row) - 1:
                    item.setToolTip(str(value))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(len(table.headers) - 1, QHeaderView.Stretch)

    def _draw(self) -> None:
        import pyqtgraph as pg
        for plot, legend in ((self.access_plot, self.access_legend), (self.energy_plot, self.energy_legend)):
            plot.clear()
            legend.clear()
        xs = list(range(len(self.rows)))
        width = 0.8 / len(OPERAND_SERIES)
        self.access_bars = []
        for k, (name, color) in enumerate(OPERAND_SERIES):
            heights = [(r.reads[k] if k < 3 else r.writes) if r.feasible else 0 for r in self.rows]
            offset = (k - (len(OPERAND_SERIES) - 1) / 2) * width
            item = pg.BarGraphItem(x=[x + offset for x in xs], height=heights, width=width * 0.95,
                                   brush=color, pen=pg.mkPen(color), name=name)
            self.access_plot.addItem(item)
            self.access_bars.append(item)
        self.energy_bars = []
        bottom = [0.0] * len(self.rows)
        for level in LEVELS:
            heights = [r.energy[level] if r.feasible else 0.0 for r in self.rows]
            if not any(heights):
                continue
            item = pg.BarGraphItem(x=xs, y0=list(bottom), height=heights, width=0.6,
                                   brush=LEVEL_COLORS[level], pen=pg.mkPen("#495057"),
                                   name=LEVEL_NAMES[level])
            self.energy_plot.addItem(item)
            self.energy_bars.append(item)
            bottom = [b + h for b, h in zip(bottom, heights)]
        ticks = [[(x, r.label + (" ★" if r.best else "")) for x, r in zip(xs, self.rows)]]
        top_access = max([max(r.reads + (r.writes,)) for r in self.rows if r.feasible] or [1])
        for plot, top in ((self.access_plot, top_access), (self.energy_plot, max(bottom or [1.0]))):
            plot.getAxis("bottom").setTicks(ticks)
            plot.setXRange(-0.6, len(self.rows) - 0.4, padding=0)
            plot.setYRange(0, max(1.0, float(top)) * 1.25, padding=0)  # room for the legend

    # -- export -----------------------------------------------------------------------------
    def export_table(self) -> str | None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export dataflow comparison",
                                                   str(Path.home() / "dataflow_comparison.csv"), TABLE_FILTER)
        if not path:
            return None
        path, fmt = table_path_and_format(path, chosen)
        try:
            write_atomic(path, render(self.table_model(), fmt))
        except OSError as exc:
            self._say(f"Cannot write {path}: {exc.strerror or exc}", error=True)
            return None
        self._say(f"Wrote {path}")
        return str(path)

    def export_png(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison as PNG",
                                              str(Path.home() / "dataflow_comparison.png"), "PNG (*.png)")
        if not path:
            return None
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            save_image(self.grab(), path)
        except OSError as exc:
            self._say(f"Cannot write {path}: {exc.strerror or exc}", error=True)
            return None
        self._say(f"Wrote {path}")
        return path

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #d63031;" if error else "")
        self.sig_message.emit(text)
