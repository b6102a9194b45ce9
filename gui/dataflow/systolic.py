"""The systolic-array mode: SCALE-Sim's figures for the layer, the R×C array cycle by cycle
(which PE multiplies which operands), utilisation over time, and SCALE-Sim's conventions."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (QComboBox, QFormLayout, QLabel, QSizePolicy, QSpinBox, QSplitter,
                               QTextBrowser, QVBoxLayout, QWidget)

from core.dataflow import (SCALESIM_CONVENTIONS, SYSTOLIC_DATAFLOWS, simulate_systolic,
                           systolic_timeline)
from core.dataflow.layer import require_int
from core.common.errors import InputError

from gui.widgets.field import ERROR_STYLE, add_field_row
from gui.widgets.player import PlayerWidget
from gui.dataflow.frames import SystolicFrames
from gui.dataflow.views import numpy_to_qimage

IDLE = (226, 230, 236)
STREAMS = {  # (enters from the left, enters from the top, stays in the PE)
    "os": ("ifmap → (pixel r)", "filters ↓ (filter c)", "each PE accumulates one output"),
    "ws": ("ifmap → (pixels stream)", "partial sums ↓", "filters preloaded: PE (r, c) holds window r of filter c"),
    "is": ("filters → (filters stream)", "partial sums ↓", "ifmap preloaded: PE (r, c) holds window r of pixel c"),
}


class SystolicArrayWidget(QWidget):
    """The R×C PEs at one cycle: idle grey; busy coloured by the output it accumulates (so the
    skewed wavefront is visible), with its operands' addresses when the cells are large."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = None
        self.dataflow = "os"
        self.reason = ""
        self.setMinimumSize(200, 160)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setToolTip("The systolic array at the current cycle. Grey: idle PE. Colour: busy, one "
                        "colour per output being accumulated. In large cells: i = ifmap address, "
                        "w = filter element (f·Win + k), o = output (pixel·F + filter).")

    def show_state(self, state: dict | None, dataflow: str, reason: str = "") -> None:
        self.state, self.dataflow, self.reason = state, dataflow, reason
        self.update()

    @staticmethod
    def colors(busy: np.ndarray, ofmap: np.ndarray) -> np.ndarray:
        hue = (ofmap.astype(np.float64) * 0.61803398875) % 1.0
        # A cheap HSV → RGB at fixed saturation/value, vectorised.
        h6 = hue * 6
        x = 1 - np.abs(h6 % 2 - 1)
        sector = h6.astype(int) % 6
        c = np.ones_like(hue)
        table = [(c, x, 0 * c), (x, c, 0 * c), (0 * c, c, x), (0 * c, x, c), (x, 0 * c, c), (c, 0 * c, x)]
        rgb = np.zeros(busy.shape + (3,))
        for s, (r, g, b) in enumerate(table):
            m = sector == s
            rgb[m] = np.stack([r[m], g[m], b[m]], axis=-1)
        rgb = 70 + rgb * 150  # value 0.86, saturation ~0.68
        out = np.empty(busy.shape + (4,), dtype=np.uint8)
        out[..., :3] = np.where(busy[..., None], rgb, IDLE).astype(np.uint8)
        out[..., 3] = 255
        return out

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        fg = self.palette().color(QPalette.WindowText)
        p.setPen(fg)
        if self.state is None:
            p.drawText(QRectF(self.rect()).adjusted(20, 20, -20, -20), Qt.AlignCenter | Qt.TextWordWrap,
                       self.reason or "No animation for these sizes.")
            p.end()
            return
        busy = self.state["busy"]
        rows, cols = busy.shape
        left_label, top_label, stays = STREAMS[self.dataflow]
        area = QRectF(self.rect()).adjusted(22, 34, -6, -6)
        cell = max(0.5, min(area.width() / cols, area.height() / rows))
        target = QRectF(area.left(), area.top(), cell * cols, cell * rows)
        p.drawImage(target, numpy_to_qimage(self.colors(busy, self.state["ofmap"])))
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() - 1))
        p.setFont(small)
        p.drawText(QRectF(0, 0, self.width(), 16), Qt.AlignLeft | Qt.AlignVCenter,
                   f"  {rows}×{cols} PEs · cycle {self.state['cycle']:,} · fold {self.state['fold'] + 1} · "
                   f"{int(busy.sum())} busy · {stays}")
        p.drawText(QRectF(target.left(), 17, target.width(), 16), Qt.AlignLeft | Qt.AlignVCenter, top_label)
        p.save()
        p.translate(14, target.top() + target.height() / 2)
        p.rotate(-90)
        p.drawText(QRectF(-target.height() / 2, -8, target.height(), 16), Qt.AlignCenter, left_label)
        p.restore()
        if cell >= 6:
            p.setPen(QColor(255, 255, 255, 200))
            for r in range(1, rows):
                p.drawLine(target.left(), target.top() + r * cell, target.right(), target.top() + r * cell)
            for c in range(1, cols):
                p.drawLine(target.left() + c * cell, target.top(), target.left() + c * cell, target.bottom())
        p.setPen(QColor(120, 125, 135))
        p.drawRect(target)
        if cell >= 40 and rows * cols <= 400:
            font = QFont(self.font())
            font.setPointSizeF(max(6.0, min(9.0, cell / 7)))
            p.setFont(font)
            p.setPen(QColor(20, 20, 30))
            ifmap, filt, ofmap = self.state["ifmap"], self.state["filter"], self.state["ofmap"]
            for r, c in zip(*np.nonzero(busy)):
                text = f"i{ifmap[r, c]}\nw{filt[r, c]}\no{ofmap[r, c]}"
                p.drawText(QRectF(target.left() + c * cell, target.top() + r * cell, cell, cell),
                           Qt.AlignCenter, text)
        p.end()


class SystolicPanel(QWidget):
    """Array size, dataflow and rounding; figures, array animation and utilisation plot."""

    sig_changed = Signal()  # the systolic result changed (the comparison shows it)

    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg
        self.layer = None
        self.result = None
        self.timeline = None
        self.frames = None
        self.fields: dict[str, QSpinBox] = {}
        self.errors: dict[str, QLabel] = {}
        form_holder = QWidget()
        form = QFormLayout(form_holder)
        form.setContentsMargins(0, 0, 0, 0)
        self._spin(form, "array rows", "rows", 8, "R: PE rows of the systolic array (SCALE-Sim's ArrayHeight)")
        self._spin(form, "array columns", "columns", 8, "C: PE columns of the systolic array (ArrayWidth)")
        array_note = QLabel("This tab's own array (SCALE-Sim's default 8×8), not the rs PE "
                            "array of the form (Eyeriss's 12×14).")
        array_note.setWordWrap(True)
        array_note.setStyleSheet("color: gray;")
        array_note.setToolTip("Two different machines: a SCALE-Sim systolic array here, "
                              "Eyeriss's spatial array for the row-stationary dataflow")
        form.addRow(array_note)
        self.dataflow = QComboBox()
        for df in SYSTOLIC_DATAFLOWS:
            self.dataflow.addItem({"os": "os — output-stationary", "ws": "ws — weight-stationary",
                                   "is": "is — input-stationary"}[df], df)
        self.dataflow.setToolTip("Which operand stays in the array (SCALE-Sim's os / ws / is)")
        self.dataflow.currentIndexChanged.connect(self.recompute)
        form.addRow("dataflow", self.dataflow)
        self.rounding = QComboBox()
        self.rounding.addItem("ceil (SCALE-Sim)", "ceil")
        self.rounding.addItem("floor (PyTorch)", "floor")
        self.rounding.setToolTip("Output size: SCALE-Sim rounds (H − K)/S up and lets a last window run "
                                 "past the edge; PyTorch floors. They differ only when the stride does "
                                 "not tile the input.")
        self.rounding.currentIndexChanged.connect(self.recompute)
        form.addRow("output size", self.rounding)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.hide()
        form.addRow(self.message)
        self.figures = QTextBrowser()
        self.figures.setToolTip("SCALE-Sim's figures for this layer and array, with the formulas")
        conventions = QTextBrowser()
        conventions.setHtml("<b>SCALE-Sim's conventions</b><ul>" + "".join(
            f"<li>{html.escape(c)}</li>" for c in SCALESIM_CONVENTIONS) + "</ul>")
        conventions.setToolTip("How SCALE-Sim 3.0 counts, and where it differs from PyTorch")
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(form_holder)
        ll.addWidget(self.figures, 1)
        ll.addWidget(conventions, 1)
        self.array_view = SystolicArrayWidget()
        self.util_plot = pg.PlotWidget()
        self.util_plot.setLabel("left", "busy PEs", units="%")
        self.util_plot.setLabel("bottom", "cycle")
        self.util_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.util_plot.showGrid(x=True, y=True, alpha=0.3)
        self.util_plot.setYRange(0, 105, padding=0)
        self.util_plot.setMouseEnabled(y=False)
        self.util_plot.setToolTip("Utilisation per cycle (busy PEs / all PEs); dashed lines: fold starts; "
                                  "the vertical line follows the animation")
        self.util_curve = self.util_plot.plot([], [], pen=pg.mkPen("#1c7ed6", width=1.5))
        self.util_curve.setDownsampling(auto=True, method="peak")
        self.util_curve.setClipToView(True)
        self.cursor = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#e8590c", width=2))
        self.util_plot.addItem(self.cursor)
        self.fold_lines = []
        self.player = PlayerWidget(unit="cycle", marker_name="fold", zero_based=True)
        self.player.sig_frame.connect(self.render_frame)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.array_view)
        right.addWidget(self.util_plot)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        right_holder = QWidget()
        rl = QVBoxLayout(right_holder)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(right, 1)
        rl.addWidget(self.player)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right_holder)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)

    def _spin(self, form: QFormLayout, key: str, label: str, value: int, tip: str) -> None:
        box = QSpinBox()
        box.setRange(0, 4096)  # 0 is accepted by the box so that its message can be shown
        box.setValue(value)
        box.setKeyboardTracking(False)
        box.setToolTip(tip)
        box.valueChanged.connect(self.recompute)
        self.fields[key], self.errors[key] = box, add_field_row(form, label, box)

    # -- computing --------------------------------------------------------------------------
    def set_layer(self, layer) -> None:
        self.layer = layer
        self.recompute()

    def settings(self) -> tuple[int, int, str, str]:
        return (self.fields["array rows"].value(), self.fields["array columns"].value(),
                self.dataflow.currentData(), self.rounding.currentData())

    def recompute(self, *_args) -> bool:
        if self.layer is None:
            return False
        rows, cols, dataflow, rounding = self.settings()
        ok = True
        for key, value in (("array rows", rows), ("array columns", cols)):
            try:
                require_int(key, value, 1)
                self.errors[key].hide()
            except InputError as exc:
                self.errors[key].setText(str(exc))
                self.errors[key].show()
                ok = False
        if not ok:
            return False
        try:
            result = simulate_systolic(self.layer, rows, cols, dataflow, rounding=rounding)
        except InputError as exc:
            self.message.setText(str(exc))
            self.message.show()
            return False
        self.result = result
        self.message.hide()
        self.figures.setHtml(self._figures_html(result))
        reason = ""
        try:
            self.timeline = systolic_timeline(self.layer, rows, cols, dataflow, rounding)
        except InputError as exc:
            self.timeline = None
            reason = f"No animation: {exc}. SCALE-Sim's figures (left) still hold."
        self._load_timeline(dataflow, reason)
        self.sig_changed.emit()
        return True

    def _figures_html(self, r) -> str:
        lines = "<br>".join(html.escape(line) for line in r.explain().splitlines())
        return (f"<b>SCALE-Sim figures</b> ({r.dataflow}, {r.rows}×{r.cols})<br>{lines}<br>"
                f"DRAM estimate: ifmap {r.dram_ifmap_reads:,}, filter {r.dram_filter_reads:,}, "
                f"ofmap writes {r.dram_ofmap_writes:,} (64 KB SRAMs)")

    def _load_timeline(self, dataflow: str, reason: str = "") -> None:
        import pyqtgraph as pg
        for line in self.fold_lines:
            self.util_plot.removeItem(line)
        self.fold_lines = []
        if self.timeline is None:
            self.frames = None
            self.util_curve.setData([], [])
            self.array_view.show_state(None, dataflow, reason)
            self.player.set_frame_count(0)
            self.player.set_markers([])
            return
        self.frames = SystolicFrames(self.timeline)
        util = 100 * self.timeline.utilization
        self.util_curve.setData(np.arange(len(util)), util)
        if len(self.timeline.fold_starts) <= 200:
            for start in self.timeline.fold_starts[1:]:
                line = pg.InfiniteLine(float(start), angle=90, pen=pg.mkPen("#868e96", style=Qt.DashLine))
                self.util_plot.addItem(line)
                self.fold_lines.append(line)
        self.util_plot.setXRange(0, max(1, len(util) - 1), padding=0.01)
        self.player.set_markers(self.timeline.fold_starts.tolist())
        self.player.set_frame_count(self.frames.n_frames)

    def render_frame(self, i: int) -> None:
        if self.frames is None:
            return
        state = self.frames.frame(i)
        self.current_state = state
        self.array_view.show_state(state, self.timeline.dataflow)
        self.cursor.setValue(i)
