"""The mapping editor: the storage levels as stacked boxes (outermost on top), each listing its
loops outermost first, so the stack reads as the loop nest. A loop is dragged by its grip (a
plain mouse press–move–release the row grabs, so it works with any real mouse and in tests)
to another place in its level or to another level; its factor is a spin box that steps
through the divisors of the dimension; its unrolling a combo. Each bounded level shows how
full its buffer is per operand, red with the validation message when the tile overflows.

The widget only shows a mapping and reports what the user asked for (signals); the
document applies the edit, so every change is one undoable command.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QApplication, QComboBox, QFrame, QHBoxLayout, QLabel, QScrollArea,
                               QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from core.dataflow.layer import OPERANDS

DIM_TITLES = {"n": "batch", "f": "filters", "c": "channels", "y": "output rows",
              "x": "output columns", "r": "kernel rows", "s": "kernel columns"}
SPATIAL_ITEMS = (("temporal", None), ("∥ PE rows", "rows"), ("∥ PE cols", "cols"))
LEVEL_TIPS = {
    "memory": "Off-chip memory: holds every operand whole. Its loops step the tiles the buffer holds.",
    "buffer": "The global buffer (input / weight / output buffers). Its loops step the tiles the "
              "level below holds; its spatial loops fan out over the PE array.",
    "registers": "Each PE's registers. Its loops run inside one PE.",
}
SPATIAL_LEVEL = "buffer"  # the level whose loops may fan out over the PE array
OK_COLOR, OVER_COLOR, EMPTY_COLOR = QColor("#4dabf7"), QColor("#e03131"), QColor("#e9ecef")


def divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


class DivisorSpinBox(QSpinBox):
    """A factor: the arrows step through the divisors of the dimension's extent (typing any
    whole number stays possible; a non-divisor makes the product invalid, which is shown)."""

    def __init__(self, extent: int, parent=None):
        super().__init__(parent)
        self.set_extent(extent)
        self.setKeyboardTracking(False)
        self.setAccelerated(False)

    def set_extent(self, extent: int) -> None:
        self.extent = max(1, int(extent))
        self.steps = divisors(self.extent)
        self.setRange(1, max(self.extent, self.value()))

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if steps > 0:
            bigger = [d for d in self.steps if d > value]
            target = bigger[min(steps, len(bigger)) - 1] if bigger else value
        else:
            smaller = [d for d in self.steps if d < value]
            target = smaller[-min(-steps, len(smaller))] if smaller else value
        self.setValue(target)


class LoopRowWidget(QFrame):
    """One loop: grip, dimension, factor, unrolling. Press and drag the row to move it."""

    def __init__(self, editor: "MappingEditorWidget", level: int, index: int, loop, extent: int):
        super().__init__()
        self.editor, self.level, self.index, self.loop = editor, level, index, loop
        self.setFrameShape(QFrame.StyledPanel)
        self.setAutoFillBackground(True)
        self.setCursor(Qt.OpenHandCursor)
        self.setToolTip(f"Loop over {DIM_TITLES.get(loop.dim, loop.dim)}: drag it (by the grip "
                        "or the name) to reorder it in its level or move it to another level; "
                        "double-click to edit its factor")
        grip = QLabel("⠿")
        grip.setToolTip("Drag to move this loop")
        self.name = QLabel(f"<b>{loop.dim}</b> {DIM_TITLES.get(loop.dim, '')}")
        self.name.setMinimumWidth(60)
        for label in (grip, self.name):  # the row, not the (rich-text) label, takes the press
            label.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.factor = DivisorSpinBox(extent)
        self.factor.setPrefix("× ")
        self.factor.setValue(loop.factor)
        self.factor.setToolTip(f"Factor of {loop.dim} at this level (the arrows step through the "
                               f"divisors of {extent}); the memory level's {loop.dim} loop takes "
                               "the remainder so the product stays the extent")
        self.factor.valueChanged.connect(self._factor_changed)
        self.spatial = QComboBox()
        for text, data in SPATIAL_ITEMS:
            self.spatial.addItem(text, data)
        self.spatial.setCurrentIndex(max(0, self.spatial.findData(loop.spatial)))
        self.spatial.setToolTip("Temporal: one iteration after the other. ∥ PE rows / cols: the "
                                "iterations run at once, unrolled over that axis of the PE array")
        self.spatial.currentIndexChanged.connect(self._spatial_changed)
        if editor.boxes_names and editor.boxes_names[level] != SPATIAL_LEVEL and loop.spatial is None:
            self.spatial.setEnabled(False)  # only the buffer fans out over the PE array
            self.spatial.setToolTip("Only the global buffer's loops can be unrolled over the PE array")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 1, 4, 1)
        row.setSpacing(6)
        row.addWidget(grip)
        row.addWidget(self.name, 1)
        row.addWidget(self.factor)
        row.addWidget(self.spatial)
        self._press: QPoint | None = None
        self._dragging = False

    def show_loop(self, loop, extent: int) -> None:
        """Show new values in place (the widgets survive, so an edit keeps its focus)."""
        self.loop = loop
        for box in (self.factor, self.spatial):
            box.blockSignals(True)
        self.factor.set_extent(extent)
        self.factor.setValue(loop.factor)
        self.spatial.setCurrentIndex(max(0, self.spatial.findData(loop.spatial)))
        for box in (self.factor, self.spatial):
            box.blockSignals(False)
        self.set_highlight(False)

    def set_highlight(self, on: bool) -> None:
        self.setBackgroundRole(QPalette.Highlight if on else QPalette.Base)

    def _factor_changed(self, value: int) -> None:
        self.editor.sig_factor.emit(self.level, self.index, int(value))

    def _spatial_changed(self, _index: int) -> None:
        self.editor.sig_spatial.emit(self.level, self.index, self.spatial.currentData())

    # -- dragging --------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self._press = event.globalPosition().toPoint()
            self._dragging = False
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._press is None:
            return super().mouseMoveEvent(event)
        pos = event.globalPosition().toPoint()
        if not self._dragging and (pos - self._press).manhattanLength() >= QApplication.startDragDistance():
            self._dragging = True
            self.setCursor(Qt.ClosedHandCursor)
            self.set_highlight(True)
        if self._dragging:
            self.editor.drag_move(self, pos)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self._press is None:
            return super().mouseReleaseEvent(event)
        dragging, self._press, self._dragging = self._dragging, None, False
        self.setCursor(Qt.OpenHandCursor)
        self.set_highlight(False)
        if dragging:
            self.editor.drag_drop(self, event.globalPosition().toPoint())
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        self.factor.setFocus(Qt.MouseFocusReason)
        self.factor.selectAll()
        event.accept()


class OccupancyBar(QWidget):
    """How much of one operand's buffer the level's tile fills (red when it overflows)."""

    def __init__(self, operand: str, on_double_click=None, parent=None):
        super().__init__(parent)
        self.operand = operand
        self.on_double_click = on_double_click
        self.needed, self.capacity, self.bypassed = None, None, False
        self.setMinimumHeight(16)
        self.setMaximumHeight(18)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    @property
    def overflows(self) -> bool:
        return self.needed is not None and self.capacity is not None and self.needed > self.capacity

    def set_values(self, needed: int | None, capacity: int | None, bypassed: bool = False) -> None:
        self.needed, self.capacity, self.bypassed = needed, capacity, bypassed
        if bypassed:
            tip = f"{self.operand} bypasses this level (served from the level above)"
        elif needed is None:
            tip = f"{self.operand}: not known"
        elif capacity is None:
            tip = f"{self.operand}: {needed:,} elements"
        else:
            tip = (f"{self.operand}: the tile needs {needed:,} of {capacity:,} elements "
                   f"({needed / max(1, capacity):.0%})")
        self.setToolTip(tip + ". Double-click to " + ("store it here again" if bypassed else "bypass this level"))
        self.update()

    def mouseDoubleClickEvent(self, event) -> None:
        if self.on_double_click is not None:
            self.on_double_click(self.operand)
        event.accept()

    def text(self) -> str:
        if self.bypassed:
            return f"{self.operand}: bypassed"
        if self.needed is None:
            return f"{self.operand}: —"
        cap = "∞" if self.capacity is None else f"{self.capacity:,}"
        return f"{self.operand} {self.needed:,} / {cap}"

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.fillRect(rect, EMPTY_COLOR)
        if self.needed is not None and self.capacity:
            share = min(1.0, self.needed / self.capacity)
            p.fillRect(QRectF(rect.left(), rect.top(), rect.width() * share, rect.height()),
                       OVER_COLOR if self.overflows else OK_COLOR)
        p.setPen(QPen(QColor("#868e96")))
        p.drawRect(rect)
        p.setPen(QColor("#ffffff") if self.overflows else QColor("#212529"))
        p.drawText(rect.adjusted(4, 0, -4, 0), Qt.AlignVCenter | Qt.AlignLeft, self.text())
        p.end()


class LevelBoxWidget(QFrame):
    """One storage level: its title, its loops and (bounded levels) its occupancy bars."""

    def __init__(self, editor: "MappingEditorWidget", index: int, name: str):
        super().__init__()
        self.editor, self.index, self.name = editor, index, name
        self.setFrameShape(QFrame.Box)
        self.setToolTip(LEVEL_TIPS.get(name, name))
        self.title = QLabel()
        self.rows: list[LoopRowWidget] = []
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(2)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("no loops — drop one here")
        self.empty.setStyleSheet("color: #868e96;")
        self.bars = {op: OccupancyBar(op, lambda operand: editor.sig_bypass.emit(self.index, operand))
                     for op in OPERANDS}
        bars = QHBoxLayout()
        bars.setSpacing(4)
        for bar in self.bars.values():
            bars.addWidget(bar)
        self.bar_holder = QWidget()
        self.bar_holder.setLayout(bars)
        bars.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c92a2a;")
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        layout.addWidget(self.title)
        layout.addLayout(self.rows_layout)
        layout.addWidget(self.empty)
        layout.addWidget(self.bar_holder)
        layout.addWidget(self.message)
        self.drop_at: int | None = None

    def set_level(self, level, extents: dict[str, int], title: str) -> None:
        self.title.setText(title)
        dims = [loop.dim for loop in level.loops]
        if dims == [row.loop.dim for row in self.rows]:
            for row, loop in zip(self.rows, level.loops):
                row.show_loop(loop, extents.get(loop.dim, loop.factor))
        else:
            for row in self.rows:
                row.setParent(None)
                row.deleteLater()
            self.rows = [LoopRowWidget(self.editor, self.index, i, loop, extents.get(loop.dim, loop.factor))
                         for i, loop in enumerate(level.loops)]
            for row in self.rows:
                self.rows_layout.addWidget(row)
        self.empty.setVisible(not self.rows)

    def set_occupancy(self, occupancy: dict[str, tuple[int | None, int | None]] | None,
                      messages: list[str], bypass=frozenset()) -> None:
        self.bar_holder.setVisible(occupancy is not None)
        for op, bar in self.bars.items():
            needed, capacity = (occupancy or {}).get(op, (None, None))
            bar.set_values(needed, capacity, op in bypass)
        self.message.setText("\n".join(messages))
        self.message.setVisible(bool(messages))

    def drop_index(self, global_pos: QPoint) -> int:
        """Where a loop dropped at ``global_pos`` goes: before the first row whose middle lies
        below the pointer."""
        y = self.mapFromGlobal(global_pos).y()
        for i, row in enumerate(self.rows):
            if y < row.geometry().center().y():
                return i
        return len(self.rows)

    def set_drop_indicator(self, index: int | None) -> None:
        self.drop_at = index
        self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.drop_at is None:
            return
        if self.rows:
            if self.drop_at < len(self.rows):
                y = self.rows[self.drop_at].geometry().top() - 1
            else:
                y = self.rows[-1].geometry().bottom() + 2
        else:
            y = self.empty.geometry().center().y()
        p = QPainter(self)
        pen = QPen(QColor("#1c7ed6"))
        pen.setWidth(3)
        p.setPen(pen)
        p.drawLine(4, y, self.width() - 4, y)
        p.end()


class MappingEditorWidget(QScrollArea):
    """The stacked level boxes of one mapping; edits leave as signals."""

    sig_move = Signal(int, int, int, int)   # src level, src index, dst level, dst index
    sig_factor = Signal(int, int, int)      # level, index, factor
    sig_spatial = Signal(int, int, object)  # level, index, None / "rows" / "cols"
    sig_bypass = Signal(int, str)           # level, operand: toggle its bypass

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.body = QWidget()
        self.stack = QVBoxLayout(self.body)
        self.stack.setContentsMargins(2, 2, 2, 2)
        self.stack.setSpacing(6)
        self.stack.addStretch(1)
        self.setWidget(self.body)
        self.boxes: list[LevelBoxWidget] = []
        self.boxes_names: list[str] = []
        self.ghost = QLabel(self.body)
        self.ghost.setStyleSheet("background: #d0ebff; border: 1px solid #1c7ed6; padding: 1px 4px;")
        self.ghost.hide()
        self.setMinimumWidth(360)

    def set_mapping(self, mapping, extents: dict[str, int], titles: list[str]) -> None:
        names = self.boxes_names = [level.name for level in mapping.levels]
        if names != [box.name for box in self.boxes]:
            for box in self.boxes:
                box.setParent(None)
                box.deleteLater()
            self.boxes = [LevelBoxWidget(self, i, name) for i, name in enumerate(names)]
            for i, box in enumerate(self.boxes):
                self.stack.insertWidget(i, box)
        for box, level, title in zip(self.boxes, mapping.levels, titles):
            box.set_level(level, extents, title)

    def set_occupancy(self, occupancy: dict[str, dict[str, tuple]], messages: dict[str, list[str]],
                      bypass: dict[str, frozenset] | None = None) -> None:
        for box in self.boxes:
            box.set_occupancy(occupancy.get(box.name), messages.get(box.name, []),
                              (bypass or {}).get(box.name, frozenset()))

    def row(self, level: int, index: int) -> LoopRowWidget:
        return self.boxes[level].rows[index]

    # -- dragging ----------------------------------------------------------------------------
    def drop_target(self, global_pos: QPoint) -> tuple[int, int] | None:
        """(level, index) a loop dropped at ``global_pos`` goes to; None outside the editor."""
        if not self.viewport().rect().contains(self.viewport().mapFromGlobal(global_pos)):
            return None
        best, best_dist = None, None
        for box in self.boxes:
            local = box.mapFromGlobal(global_pos)
            dist = 0 if 0 <= local.y() < box.height() else min(abs(local.y()), abs(local.y() - box.height()))
            if best_dist is None or dist < best_dist:
                best, best_dist = box, dist
        if best is None:
            return None
        return best.index, best.drop_index(global_pos)

    def drag_move(self, row: LoopRowWidget, global_pos: QPoint) -> None:
        target = self.drop_target(global_pos)
        for box in self.boxes:
            box.set_drop_indicator(target[1] if target and target[0] == box.index else None)
        self.ghost.setText(f"{row.loop.dim} × {row.loop.factor}")
        self.ghost.adjustSize()
        self.ghost.move(self.body.mapFromGlobal(global_pos) + QPoint(12, -8))
        self.ghost.setVisible(target is not None)
        self.ghost.raise_()
        self.ensureVisible(self.body.mapFromGlobal(global_pos).x(), self.body.mapFromGlobal(global_pos).y(),
                           10, 30)

    def drag_drop(self, row: LoopRowWidget, global_pos: QPoint) -> None:
        target = self.drop_target(global_pos)
        self.ghost.hide()
        for box in self.boxes:
            box.set_drop_indicator(None)
        if target is None:
            return
        level, index = target
        if level == row.level and index in (row.index, row.index + 1):
            return  # dropped where it was
        self.sig_move.emit(row.level, row.index, level, index)
