"""Custom-painted views of one animation frame: operand grids with reuse heat, buffers,
the loop nest with the current iteration, and the per-operand counters.

Each view keeps only what ``show_state`` gave it and paints from that: drawing a frame
never depends on the frames shown before it.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QSizePolicy, QTableWidget,
                               QTableWidgetItem, QTextEdit, QToolTip, QVBoxLayout, QWidget)

from core.dataflow import OPERANDS

READ_COLOR = "#1c7ed6"
WRITE_COLOR = "#e8590c"
ALLOC_COLOR = "#2f9e44"
KIND_COLORS = {"read": READ_COLOR, "write": WRITE_COLOR, "alloc": ALLOC_COLOR}
UNTOUCHED = (226, 230, 236, 255)
HEAT_LOW, HEAT_HIGH = np.array([225, 215, 250]), np.array([62, 31, 132])
OPERAND_TITLES = {"input": "input feature map", "weight": "filters", "output": "output map"}
BUFFER_TITLES = {"input": "input buffer", "weight": "weight buffer", "output": "output (psum) buffer"}


def _heat_lut() -> np.ndarray:
    t = np.linspace(0.0, 1.0, 255)[:, None] ** 0.8
    rgb = (HEAT_LOW * (1 - t) + HEAT_HIGH * t).round().astype(np.uint8)
    lut = np.empty((256, 4), dtype=np.uint8)
    lut[0] = UNTOUCHED
    lut[1:, :3] = rgb
    lut[1:, 3] = 255
    return lut


HEAT_LUT = _heat_lut()


def _rgba(name: str) -> tuple[int, int, int, int]:
    c = QColor(name)
    return c.red(), c.green(), c.blue(), 255


def numpy_to_qimage(rgba: np.ndarray) -> QImage:
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w = rgba.shape[:2]
    return QImage(rgba.tobytes(), w, h, 4 * w, QImage.Format_RGBA8888).copy()


def fixed_font(point_size: float | None = None) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    if point_size:
        font.setPointSizeF(point_size)
    return font


class OperandGridWidget(QWidget):
    """An operand drawn as a mosaic of planes; shade = memory transfers of each element so
    far (its reuse: fewer is better), outline = accessed in the current step."""

    MAX_OUTLINES = 4000
    MAX_NUMBERS = 2500

    def __init__(self, operand: str, parent=None):
        super().__init__(parent)
        self.operand = operand
        self.layout_ = None
        self.heat = None
        self.heat_max = 1
        self.accesses: dict[str, np.ndarray] = {}
        self.resident = None
        self.note = ""
        self._image = None
        self._outlined = True
        self._markers = {}
        self.setMinimumSize(160, 120)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setToolTip(f"The {OPERAND_TITLES[operand]}. Shade: times each element moved between "
                        "memory and its buffer so far (number in the cell when there is room) — "
                        "pale means well reused. Outline: accessed in the current step "
                        "(blue read from memory, orange written back, green fresh partial sum). "
                        "Dashed: held in the buffer now. Hover a cell for its coordinates.")

    def set_layout(self, layout, heat_max: int, note: str = "") -> None:
        self.layout_ = layout
        self.heat_max = max(1, int(heat_max))
        self.note = note
        self.heat = None
        self._image = None
        self.update()

    def show_state(self, heat: np.ndarray, accesses: dict[str, np.ndarray], resident=None) -> None:
        """``resident``: addresses held in the operand's buffer now (None when unknown)."""
        self.heat = heat
        self.accesses = accesses
        self.resident = resident
        self._image = None  # rebuilt lazily at paint time: hidden views cost nothing
        self.update()

    # -- geometry ---------------------------------------------------------------------------
    def _grid_rect(self) -> tuple[QRectF, float]:
        lay = self.layout_
        area = QRectF(self.rect()).adjusted(4, 36, -4, -4)
        rows, cols = lay.image_shape
        cell = max(0.5, min(area.width() / cols, area.height() / rows))
        return QRectF(area.left(), area.top(), cell * cols, cell * rows), cell

    def _build_image(self, cell: float) -> QImage:
        lay = self.layout_
        heat = self.heat if self.heat is not None else np.zeros(lay.size, dtype=np.int64)
        level = np.where(heat > 0, 1 + np.minimum(254, (heat * 254) // self.heat_max), 0)
        colors = HEAT_LUT[level]
        n_access = sum(len(v) for v in self.accesses.values())
        self._outlined = cell >= 4 and n_access <= self.MAX_OUTLINES
        if not self._outlined:  # too many or too small to outline: tint the cells instead
            for kind in ("read", "alloc", "write"):
                addr = self.accesses.get(kind)
                if addr is not None and len(addr):
                    colors[addr] = _rgba(KIND_COLORS[kind])
        self._markers = {} if self._outlined else {
            kind: self._plane_boxes(addr) for kind, addr in self.accesses.items() if len(addr)}
        return numpy_to_qimage(lay.to_image(colors, 0))

    def _plane_boxes(self, addr: np.ndarray, limit: int = 1024) -> np.ndarray:
        """(y0, x0, y1, x1) cell bounds of the accessed cells of each plane (at most ``limit`` planes)."""
        lay = self.layout_
        addr = np.sort(np.asarray(addr, dtype=np.int64))
        planes = addr // (lay.h * lay.w)
        starts = np.concatenate([[0], np.nonzero(np.diff(planes))[0] + 1])[:limit]
        ys, xs = lay.cells(addr)
        return np.stack([np.minimum.reduceat(ys, starts), np.minimum.reduceat(xs, starts),
                         np.maximum.reduceat(ys, starts), np.maximum.reduceat(xs, starts)], axis=1)

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        text_color = self.palette().color(QPalette.WindowText)
        p.setPen(text_color)
        title_font = QFont(self.font())
        title_font.setBold(True)
        p.setFont(title_font)
        p.drawText(QRectF(4, 2, self.width() - 8, 16), Qt.AlignLeft | Qt.AlignVCenter,
                   OPERAND_TITLES[self.operand].capitalize())
        if self.layout_ is None:
            p.end()
            return
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() - 1.5))
        p.setFont(small)
        caption = self.layout_.shape_text + (f" · {self.note}" if self.note else "")
        p.drawText(QRectF(4, 18, self.width() - 8, 16), Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(caption, Qt.ElideRight, self.width() - 8))
        target, cell = self._grid_rect()
        if self._image is None:
            self._image = self._build_image(cell)
        # Below two pixels a cell, nearest-neighbour scaling drops whole rows of cells at random.
        p.setRenderHint(QPainter.SmoothPixmapTransform, cell < 2)
        p.drawImage(target, self._image)
        self._draw_plane_borders(p, target, cell)
        if self._outlined:
            self._draw_resident(p, target, cell)
            self._draw_outlines(p, target, cell)
        else:
            self._draw_markers(p, target, cell)
        self._draw_numbers(p, target, cell)
        p.end()

    def _draw_plane_borders(self, p: QPainter, target: QRectF, cell: float) -> None:
        lay = self.layout_
        if cell < 3 or lay.planes > 2000:
            return
        grid_pen = QPen(QColor(255, 255, 255, 170))
        grid_pen.setWidthF(1.0)
        inner = cell >= 7 and lay.planes * (lay.h + lay.w) <= 6000
        border = QPen(QColor(120, 125, 135))
        border.setWidthF(1.0)
        for plane in range(lay.planes):
            y0, x0 = lay.plane_origin(plane)
            rect = QRectF(target.left() + x0 * cell, target.top() + y0 * cell, lay.w * cell, lay.h * cell)
            if inner:
                p.setPen(grid_pen)
                for r in range(1, lay.h):
                    y = rect.top() + r * cell
                    p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
                for c in range(1, lay.w):
                    x = rect.left() + c * cell
                    p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            p.setPen(border)
            p.drawRect(rect)

    def _draw_outlines(self, p: QPainter, target: QRectF, cell: float) -> None:
        lay = self.layout_
        width = max(1.5, min(3.0, cell / 6))
        p.setBrush(Qt.NoBrush)
        for kind in ("read", "alloc", "write"):
            addr = self.accesses.get(kind)
            if addr is None or not len(addr):
                continue
            pen = QPen(QColor(KIND_COLORS[kind]))
            pen.setWidthF(width)
            pen.setJoinStyle(Qt.MiterJoin)
            p.setPen(pen)
            ys, xs = lay.cells(addr)
            inset = width / 2 + (width + 1 if kind == "write" else 0)  # a write nests inside a read
            p.drawRects([QRectF(target.left() + x * cell + inset, target.top() + y * cell + inset,
                                cell - 2 * inset, cell - 2 * inset) for y, x in zip(ys.tolist(), xs.tolist())])

    def _draw_resident(self, p: QPainter, target: QRectF, cell: float) -> None:
        """Dashed frame: the element sits in the buffer (reused from there without memory traffic)."""
        if self.resident is None or cell < 6:
            return
        addr = self.resident[self.resident >= 0]
        if not len(addr) or len(addr) > self.MAX_OUTLINES:
            return
        pen = QPen(QColor(40, 40, 60))
        pen.setWidthF(1.2)
        pen.setStyle(Qt.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.NoBrush)
        ys, xs = self.layout_.cells(addr)
        inset = 2.0
        p.drawRects([QRectF(target.left() + x * cell + inset, target.top() + y * cell + inset,
                            cell - 2 * inset, cell - 2 * inset) for y, x in zip(ys.tolist(), xs.tolist())])

    def _draw_markers(self, p: QPainter, target: QRectF, cell: float) -> None:
        """Cells too small to outline: frame the accessed part of each plane, at least 7 px wide."""
        p.setBrush(Qt.NoBrush)
        for kind in ("read", "alloc", "write"):
            boxes = self._markers.get(kind)
            if boxes is None or not len(boxes):
                continue
            pen = QPen(QColor(KIND_COLORS[kind]))
            pen.setWidthF(2.0)
            p.setPen(pen)
            grow = 2.5 if kind == "write" else 0.0  # a write frame sits outside a read frame
            rects = []
            for y0, x0, y1, x1 in boxes.tolist():
                rect = QRectF(target.left() + x0 * cell, target.top() + y0 * cell,
                              (x1 - x0 + 1) * cell, (y1 - y0 + 1) * cell)
                pad_x = max(1.0, (7 - rect.width()) / 2) + grow
                pad_y = max(1.0, (7 - rect.height()) / 2) + grow
                rects.append(rect.adjusted(-pad_x, -pad_y, pad_x, pad_y))
            p.drawRects(rects)

    def _draw_numbers(self, p: QPainter, target: QRectF, cell: float) -> None:
        lay = self.layout_
        if self.heat is None or cell < 15 or lay.size > self.MAX_NUMBERS:
            return
        touched = np.nonzero(self.heat)[0]
        if not len(touched):
            return
        font = QFont(self.font())
        font.setPointSizeF(max(6.0, min(10.0, cell * 0.36)))
        p.setFont(font)
        ys, xs = lay.cells(touched)
        dark, light = QColor(40, 30, 70), QColor(255, 255, 255)
        for a, y, x in zip(touched.tolist(), ys.tolist(), xs.tolist()):
            value = int(self.heat[a])
            p.setPen(light if value * 2 > self.heat_max else dark)
            p.drawText(QRectF(target.left() + x * cell, target.top() + y * cell, cell, cell),
                       Qt.AlignCenter, str(value))

    # -- hover ------------------------------------------------------------------------------
    def address_at(self, pos) -> int | None:
        if self.layout_ is None:
            return None
        lay = self.layout_
        target, cell = self._grid_rect()
        x, y = int((pos.x() - target.left()) // cell), int((pos.y() - target.top()) // cell)
        if x < 0 or y < 0:
            return None
        py, r = divmod(y, lay.h + 1)
        px, c = divmod(x, lay.w + 1)
        if r >= lay.h or c >= lay.w or px >= lay.columns:
            return None
        plane = py * lay.columns + px
        if plane >= lay.planes:
            return None
        return (plane * lay.h + r) * lay.w + c

    def describe(self, address: int) -> str:
        lay = self.layout_
        plane, rest = divmod(address, lay.h * lay.w)
        r, c = divmod(rest, lay.w)
        count = int(self.heat[address]) if self.heat is not None else 0
        now = [k for k, v in self.accesses.items() if len(v) and np.any(v == address)]
        text = (f"{OPERAND_TITLES[self.operand]} {lay.plane_names[plane]}, row {r}, col {c} "
                f"(address {address}): {count} memory transfer{'s' * (count != 1)} so far")
        return text + (f"; this step: {', '.join(now)}" if now else "")

    def mouseMoveEvent(self, event) -> None:
        address = self.address_at(event.position())
        if address is not None:
            QToolTip.showText(event.globalPosition().toPoint(), self.describe(address), self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)


class BufferWidget(QWidget):
    """A buffer's slots: which element each holds, which were filled or written this step."""

    MAX_SLOTS = 1024

    def __init__(self, operand: str, parent=None):
        super().__init__(parent)
        self.operand = operand
        self.capacity = 0
        self.slots = None
        self.fresh: dict[str, np.ndarray] = {}
        self.moved: dict[str, int] = {}
        self.setMinimumHeight(54)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.setToolTip(f"The {BUFFER_TITLES[operand]}: one box per element of capacity, with the "
                        "address of the element it holds. Blue: filled from memory in this step; "
                        "green: fresh partial sum; orange border: written back to memory; pale: "
                        "still resident (reused). Large or tile-coarsened buffers show a fill bar.")

    def show_state(self, capacity: int, slots, accesses: dict[str, np.ndarray], moved: dict[str, int]) -> None:
        self.capacity, self.slots, self.fresh, self.moved = capacity, slots, accesses, moved
        self.update()

    def _columns(self, n: int, width: float, height: float) -> tuple[int, float]:
        best = (max(1, n), 1.0)
        for cols in range(1, n + 1):
            rows = -(-n // cols)
            cell = min(width / cols, height / rows, 34.0)
            if cell > best[1]:
                best = (cols, cell)
        return best

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        fg = self.palette().color(QPalette.WindowText)
        p.setPen(fg)
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        moved = ", ".join(f"{v:,} {k}" for k, v in self.moved.items() if v)
        size = f"{self.capacity:,} element{'s' * (self.capacity != 1)}"
        p.drawText(QRectF(4, 0, self.width() - 8, 16), Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(
                       f"{BUFFER_TITLES[self.operand].capitalize()} ({size})" + (f" · now: {moved}" if moved else ""),
                       Qt.ElideRight, self.width() - 8))
        area = QRectF(self.rect()).adjusted(4, 18, -4, -2)
        slots = self.slots
        if slots is None or len(slots) > self.MAX_SLOTS:
            self._draw_bar(p, area, slots)
        else:
            self._draw_slots(p, area, slots)
        p.end()

    def _draw_bar(self, p: QPainter, area: QRectF, slots) -> None:
        bar = QRectF(area.left(), area.top() + 2, area.width(), min(18.0, area.height() - 4))
        p.setPen(QColor(120, 125, 135))
        p.setBrush(QColor(*UNTOUCHED))
        p.drawRect(bar)
        if slots is not None:
            used = int((slots >= 0).sum())
            label = f"{used:,} of {len(slots):,} slots hold data"
        else:
            loaded = sum(self.moved.get(k, 0) for k in ("read", "alloc"))
            used = min(self.capacity, loaded)
            label = "this step: " + coarse_fill_text(loaded, self.capacity)
        frac = used / max(1, self.capacity)
        filled_now = self.moved.get("read") or self.moved.get("alloc")
        p.setBrush(QColor(READ_COLOR if filled_now else "#b9a9e6"))
        p.drawRect(QRectF(bar.left(), bar.top(), bar.width() * min(1.0, frac), bar.height()))
        p.setPen(QColor(30, 30, 30))
        label = p.fontMetrics().elidedText(label, Qt.ElideRight, int(bar.width()) - 6)
        p.drawText(bar, Qt.AlignCenter, label)

    def _draw_slots(self, p: QPainter, area: QRectF, slots: np.ndarray) -> None:
        n = len(slots)
        cols, cell = self._columns(n, area.width(), area.height())
        fill_sets = {k: set(v.tolist()) for k, v in self.fresh.items() if len(v) <= 4096}
        font = QFont(self.font())
        font.setPointSizeF(max(6.0, min(9.0, cell * 0.3)))
        p.setFont(font)
        for s in range(n):
            r, c = divmod(s, cols)
            rect = QRectF(area.left() + c * cell + 1, area.top() + r * cell + 1, cell - 2, cell - 2)
            addr = int(slots[s])
            if addr < 0:
                pen = QPen(QColor(150, 150, 150))
                pen.setStyle(Qt.DashLine)
                p.setPen(pen)
                p.setBrush(QColor(250, 250, 250))
                p.drawRect(rect)
                continue
            fill = QColor(214, 204, 245)
            if addr in fill_sets.get("read", ()):
                fill = QColor(READ_COLOR)
            elif addr in fill_sets.get("alloc", ()):
                fill = QColor(ALLOC_COLOR)
            pen = QPen(QColor(WRITE_COLOR) if addr in fill_sets.get("write", ()) else QColor(110, 110, 130))
            pen.setWidthF(2.5 if addr in fill_sets.get("write", ()) else 1.0)
            p.setPen(pen)
            p.setBrush(fill)
            p.drawRect(rect)
            if cell >= 20:
                p.setPen(QColor(255, 255, 255) if fill.lightness() < 140 else QColor(40, 30, 70))
                p.drawText(rect, Qt.AlignCenter, str(addr))


class LoopNestView(QTextEdit):
    """The dataflow's loop nest as code; the lines that move data in this step are highlighted
    and each loop shows its current index."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QTextEdit.NoWrap)
        font = fixed_font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        self.setFont(font)
        self.setToolTip("The loop nest of the chosen dataflow. Each loop shows its current index; "
                        "highlighted lines move data in this step (blue: a buffer filled from memory, "
                        "orange: written back); the MAC line runs every step.")
        self.lines = ()
        self.html_text = ""

    def set_nest(self, nest, level: int) -> None:
        self.lines = nest.lines
        self.loops = nest.loops
        self.level = level

    def show_state(self, loop_index: tuple[int, ...], active: frozenset[int]) -> None:
        dark = self.palette().color(QPalette.Base).lightness() < 128
        note_color = "#b197fc" if dark else "#7048e8"
        out, loop_no = [], 0
        for i, line in enumerate(self.lines):
            text = html.escape("  " * line.depth + line.text)
            note = ""
            if line.kind == "loop":
                loop = self.loops[loop_no]
                if loop_no < len(loop_index):
                    idx = loop_index[loop_no]
                    value = idx * loop.tile
                    var = loop.dim + ("" if loop.tile == 1 else "0")
                    note = f"   ◀ {var} = {value}  ({idx + 1} of {loop.count})"
                else:
                    note = "   ◀ all iterations inside this step (tile-coarsened)"
                loop_no += 1
            style = ""
            if i in active:
                color = {"load": "#d0e4fb", "store": "#fde2cf", "compute": "#e6e6e6"}.get(line.kind, "")
                style = f"background-color:{color};color:#111;" if color else ""  # readable in dark themes
                if line.kind in ("load", "store"):
                    style += "font-weight:bold;"
            note_html = f"<span style='color:{note_color}'>{html.escape(note)}</span>" if note else ""
            out.append(f"<span style='{style}'>{text}</span>{note_html}")
        self.html_text = "<pre style='margin:0'>" + "\n".join(out) + "</pre>"
        bar = self.horizontalScrollBar().value(), self.verticalScrollBar().value()
        self.setHtml(self.html_text)
        self.horizontalScrollBar().setValue(bar[0])
        self.verticalScrollBar().setValue(bar[1])


def compact(n: int, below: int = 100_000) -> str:
    """Thousands separators below ``below``, then 3 significant digits with k/M/G/T (exact in
    tooltips)."""
    if abs(n) < below:
        return f"{n:,}"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:,}"


class CountersWidget(QWidget):
    """Per-operand memory and buffer counters at this frame, against the layer's totals."""

    COLUMNS = ("memory\nreads", "memory\nwrites", "fresh\npsums", "buffer\naccesses")
    KEYS = ("reads", "writes", "allocs", "buffer")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = QTableWidget(3, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setVerticalHeaderLabels(["input", "weight", "output (psum)"])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        self.table.setToolTip(
            "So far / layer total. Memory reads: elements brought from memory into the buffer "
            "(for the output: partial sums read back). Memory writes: outputs written back. Fresh "
            "psums: partial sums started at zero (no memory read). Buffer accesses: compute-side "
            "reads and writes of the buffers (row-stationary: the global buffer, spread over the "
            "steps in proportion to their MACs).")
        for r in range(3):
            for c in range(len(self.COLUMNS)):
                item = QTableWidgetItem("")
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setToolTip("MACs done so far and the energy spent so far (units of one MAC; "
                                "Eyeriss's costs: DRAM 200, buffer 6, inter-PE 2, RF 1, MAC 1)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        self.totals = None
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        self.table.setFixedHeight(header.sizeHint().height() + 3 * 24 + 2 * self.table.frameWidth())
        self.summary.setMinimumHeight(2 * self.summary.fontMetrics().lineSpacing())

    def set_totals(self, totals: dict[str, dict[str, int]], macs: int, energy: float) -> None:
        self.totals, self.total_macs, self.total_energy = totals, macs, energy

    def show_state(self, state, n_frames: int) -> None:
        for r, op in enumerate(OPERANDS):
            for c, key in enumerate(self.KEYS):
                now = state.counters[op][key]
                total = self.totals[op][key] if self.totals else now
                item = self.table.item(r, c)
                if key == "allocs" and op != "output":
                    item.setText("—")  # only partial sums start from zero
                    continue
                item.setText(self._cell_text(c, now, total))
                item.setToolTip(f"{now:,} of {total:,}")
        self.summary.setText(
            f"<b>step {state.frame + 1:,} of {n_frames:,}</b> · MACs {state.macs:,} / {self.total_macs:,}"
            f" · energy so far {state.energy:,.0f} / {self.total_energy:,.0f}")
        self._fit_summary()

    def _cell_text(self, column: int, now: int, total: int) -> str:
        """"now / total", in shorter forms until it fits its column (never elided: the exact
        figures are in the tooltip)."""
        room = self.table.columnWidth(column) - 10  # the cell's margins
        metrics = self.table.fontMetrics()
        text = ""
        for below in (100_000, 1_000):
            text = f"{compact(now, below)} / {compact(total, below)}"
            if metrics.horizontalAdvance(text) <= room:
                return text
        return text

    def _fit_summary(self) -> None:
        """Reserve the wrapped caption's height (a layout gives a word-wrapped label one
        line and squeezes it up over the table at 1280x720); it never shrinks below two
        lines, so the caption does not make the layout jump from step to step."""
        needed = max(2 * self.summary.fontMetrics().lineSpacing(),
                     self.summary.heightForWidth(max(1, self.summary.width())))
        if needed != self.summary.minimumHeight():
            self.summary.setMinimumHeight(needed)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_summary()

    def text(self) -> str:
        """The table as plain text (for tests and copying)."""
        rows = []
        for r in range(3):
            rows.append("\t".join(self.table.item(r, c).text() for c in range(len(self.COLUMNS))))
        return "\n".join(rows)


def coarse_fill_text(loaded: int, capacity: int) -> str:
    """What a tile-coarsened step put through a buffer: more than it holds means it was
    refilled within the step (4,704 into a 200-element buffer is not "4,704 filled")."""
    if not loaded:
        return "no fill"
    noun = "element" if loaded == 1 else "elements"
    if loaded <= capacity:
        return f"{loaded:,} {noun} filled"
    return f"{loaded:,} {noun} in, ≈{-(-loaded // max(1, capacity)):,} fills"
