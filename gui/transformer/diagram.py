"""The block diagram: encoder (left) and decoder (right) blocks in rows, every ledger edge a
curve labelled with its bits and drawn thicker as it carries more; hover an edge for its
formula, click it to select it (the panel shows the formula and the table row)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsPathItem, QGraphicsScene,
                               QGraphicsView)

from core.transformer.ledger import KIND_D_MODEL, KIND_FFN, KIND_SCORES, KIND_VOCAB, Ledger

KIND_COLORS = {KIND_D_MODEL: "#1c7ed6", KIND_SCORES: "#e03131", KIND_FFN: "#2f9e44",
               KIND_VOCAB: "#9c36b5"}
BOX_W, BOX_H, COL_W, ROW_H, COLUMN_GAP, MAX_ROWS = 104, 26, 118, 52, 110, 14
MIN_PEN, MAX_PEN = 1.0, 10.0
ROLE_TEXT = {"add_norm": "add & norm", "weighted_sum": "weighted sum", "up": "FFN up",
             "down": "FFN down", "act": "ReLU", "embed": "embedding", "pos": "+ positions",
             "scores": "QKᵀ/√d_k", "generator": "projection", "mask": "causal mask"}


def bits_text(bits: float) -> str:
    """Compact bits, e.g. 524,288 → '524 kb' (SI prefixes, b = bit)."""
    for limit, unit in ((1e18, "Eb"), (1e15, "Pb"), (1e12, "Tb"), (1e9, "Gb"), (1e6, "Mb"),
                        (1e3, "kb")):
        if bits >= limit:
            value = bits / limit
            return f"{value:.3g} {unit}"
    return f"{int(bits)} b"


def side_of(block: str) -> str:
    return "enc" if block.startswith(("src", "enc")) else "dec"


def stage_of(block: str) -> str:
    """The sub-layer a block belongs to: ``src``, ``enc0.attn``, ``dec0.cross``, ``output``…"""
    return block.rsplit(".", 1)[0]


def layout_blocks(ledger: Ledger) -> dict[str, tuple[int, int, int, int]]:
    """Block → (column, row, slot in the row, blocks in the row). Each sub-layer stacks its
    blocks by their longest chain of producers inside it (Q, K, V side by side); sub-layers
    fill a column top to bottom up to MAX_ROWS rows, the encoder and decoder never share one."""
    producers: dict[str, list[str]] = {}
    for e in ledger.edges:
        producers.setdefault(e.dst, []).append(e.src)
    depth: dict[str, int] = {}
    stages: dict[str, list[str]] = {}
    for block in ledger.blocks:
        name, stage = block.name, stage_of(block.name)
        inside = [p for p in producers.get(name, []) if stage_of(p) == stage]
        depth[name] = 1 + max(depth[p] for p in inside) if inside else 0
        stages.setdefault(stage, []).append(name)
    rows: dict[str, tuple[int, int]] = {}
    column, used, side = 0, 0, None
    for stage, names in stages.items():
        height = 1 + max(depth[n] for n in names)
        stage_side = side_of(names[0])
        if side is not None and (stage_side != side or used + height > MAX_ROWS):
            column, used = column + 1, 0
        side = stage_side
        for n in names:
            rows[n] = (column, used + depth[n])
        used += height
    placed: dict[str, tuple[int, int, int, int]] = {}
    members: dict[tuple[int, int], list[str]] = {}
    for block in ledger.blocks:
        members.setdefault(rows[block.name], []).append(block.name)
    for (column, row), names in members.items():
        for slot, n in enumerate(names):
            placed[n] = (column, row, slot, len(names))
    return placed


class EdgeItem(QGraphicsPathItem):
    def __init__(self, index: int, path: QPainterPath, color: QColor, width: float, tip: str,
                 on_click):
        super().__init__(path)
        self.index, self.color, self.width, self.on_click = index, color, width, on_click
        self.setPen(self._pen(False))
        self.setToolTip(tip)
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.ItemIsSelectable, False)
        self.setZValue(1)

    def _pen(self, bright: bool) -> QPen:
        color = QColor(self.color)
        color.setAlpha(255 if bright else 150)
        pen = QPen(color, self.width + (2 if bright else 0))
        pen.setCapStyle(Qt.RoundCap)
        return pen

    def shape(self) -> QPainterPath:  # easier to hover a thin edge
        from PySide6.QtGui import QPainterPathStroker
        stroker = QPainterPathStroker()
        stroker.setWidth(max(8.0, self.width + 4))
        return stroker.createStroke(self.path())

    def set_highlight(self, on: bool) -> None:
        self.setPen(self._pen(on))
        self.setZValue(3 if on else 1)

    def hoverEnterEvent(self, event):
        self.set_highlight(True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event):
        self.set_highlight(self.index == getattr(self.scene(), "selected_edge", None))
        super().hoverLeaveEvent(event)

    def mousePressEvent(self, event):
        self.on_click(self.index)
        event.accept()


class BlockDiagram(QGraphicsView):
    """Shows one ledger; ``edge_clicked(index)`` when an edge is clicked."""

    edge_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scene_ = QGraphicsScene(self)
        self.scene_.selected_edge = None
        self.setScene(self.scene_)
        self.setRenderHint(QPainter.Antialiasing)
        self.setBackgroundBrush(QColor("white"))   # colours chosen for white, any theme
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setToolTip("")
        self.edges: list[EdgeItem] = []
        self.show_labels = True
        self.ledger: Ledger | None = None

    # -- building ---------------------------------------------------------------------------
    def set_ledger(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.scene_.clear()
        self.scene_.selected_edge = None
        self.edges = []
        places = layout_blocks(ledger)
        boxes = {name: self._box_rect(place) for name, place in places.items()}
        self._draw_layers(ledger, boxes, places)
        top = max(e.bits.value for e in ledger.edges) if ledger.edges else 1
        for index, edge in enumerate(ledger.edges):
            self._draw_edge(index, edge, boxes, places, top)
        for block in ledger.blocks:
            self._draw_box(block, boxes[block.name])
        self._draw_legend()
        self.scene_.setSceneRect(self.scene_.itemsBoundingRect().adjusted(-20, -20, 20, 20))
        self.fit()

    @staticmethod
    def _box_rect(place) -> QRectF:
        column, row, slot, count = place
        x = column * (3 * COL_W + COLUMN_GAP) + (slot + (3 - count) / 2) * COL_W
        return QRectF(x, row * ROW_H, BOX_W, BOX_H)

    def _draw_layers(self, ledger: Ledger, boxes, places) -> None:
        layers: dict[tuple[str, int], QRectF] = {}
        for block in ledger.blocks:
            rect, key = boxes[block.name], (block.layer, places[block.name][0])
            layers[key] = layers[key].united(rect) if key in layers else QRectF(rect)
        names = {"embed": "embeddings", "output": "output"}
        for (layer, _), rect in layers.items():
            if layer == "embed":
                continue
            area = rect.adjusted(-60, -22, 12, 12)
            item = self.scene_.addRect(area, QPen(QColor("#adb5bd"), 1, Qt.DashLine),
                                       QBrush(QColor(241, 243, 245, 120)))
            item.setZValue(-2)
            title = names.get(layer, layer.replace("enc", "encoder ").replace(
                "dec", "decoder ").replace("_norm", " final norm"))
            text = self.scene_.addSimpleText(title)
            text.setBrush(QColor("#495057"))
            text.setPos(area.left() + 4, area.top() + 2)
            text.setZValue(-1)

    def _draw_box(self, block, rect: QRectF) -> None:
        item = self.scene_.addRect(rect, QPen(QColor("#343a40"), 1), QBrush(QColor("#fff9db")))
        item.setZValue(4)
        item.setToolTip(f"{block.name} (layer {block.layer})")
        text = self.scene_.addSimpleText(ROLE_TEXT.get(block.role, block.role))
        font = QFont()
        font.setPointSizeF(8.5)
        text.setFont(font)
        br = text.boundingRect()
        text.setPos(rect.center().x() - br.width() / 2, rect.center().y() - br.height() / 2)
        text.setZValue(5)
        text.setToolTip(item.toolTip())

    def _draw_edge(self, index, edge, boxes, places, top_bits) -> None:
        a, b = boxes[edge.src], boxes[edge.dst]
        start, end = QPointF(a.center().x(), a.bottom()), QPointF(b.center().x(), b.top())
        (col_a, row_a, _, _), (col_b, row_b, _, _) = places[edge.src], places[edge.dst]
        skip = row_b - row_a
        path = QPainterPath(start)
        if skip > 1 and col_a == col_b:
            # a residual path: bow out to the left of both boxes
            left = min(a.left(), b.left()) - 28 - 6 * (skip % 3)
            path.cubicTo(QPointF(left, start.y() + 30), QPointF(left, end.y() - 30), end)
            c2 = QPointF(left, end.y() - 30)
        else:
            c2 = QPointF(end.x(), end.y() - ROW_H / 2)
            path.cubicTo(QPointF(start.x(), start.y() + ROW_H / 2), c2, end)
        width = MIN_PEN + (MAX_PEN - MIN_PEN) * edge.bits.value / top_bits
        color = QColor(KIND_COLORS[edge.kind])
        tip = (f"<b>{edge.src} → {edge.dst}</b><br>shape per sample "
               f"{'×'.join(map(str, edge.shape))} ({edge.kind})<br>{edge.formula} bits")
        item = EdgeItem(index, path, color, width, tip, self._clicked)
        self.scene_.addItem(item)
        self.edges.append(item)
        self._draw_arrow(end, c2, color)
        if self.show_labels:
            label = self.scene_.addSimpleText(bits_text(edge.bits.value))
            font = QFont()
            font.setPointSizeF(7)
            label.setFont(font)
            label.setBrush(color.darker(130))
            mid = path.pointAtPercent(0.55)
            label.setPos(mid.x() + 3, mid.y() - 6)
            label.setZValue(2)
            label.setToolTip(tip)

    def _draw_arrow(self, tip: QPointF, before: QPointF, color: QColor) -> None:
        angle = math.atan2(tip.y() - before.y(), tip.x() - before.x())
        size = 6
        points = [tip, QPointF(tip.x() - size * math.cos(angle - 0.4),
                               tip.y() - size * math.sin(angle - 0.4)),
                  QPointF(tip.x() - size * math.cos(angle + 0.4),
                          tip.y() - size * math.sin(angle + 0.4))]
        arrow = self.scene_.addPolygon(QPolygonF(points), QPen(color), QBrush(color))
        arrow.setZValue(2)

    def _draw_legend(self) -> None:
        rect = self.scene_.itemsBoundingRect()
        x, y = rect.left(), rect.top() - 44
        for i, (kind, color) in enumerate(KIND_COLORS.items()):
            line = self.scene_.addLine(x + i * 175, y, x + i * 175 + 24, y,
                                       QPen(QColor(color), 4))
            line.setZValue(2)
            text = self.scene_.addSimpleText(f"grows with {kind}")
            text.setPos(x + i * 175 + 30, y - 8)
        note = self.scene_.addSimpleText("thickness ∝ bits; hover an edge for its formula, "
                                         "click to select it")
        note.setBrush(QColor("#495057"))
        note.setPos(x, y + 10)

    # -- interaction ---------------------------------------------------------------------------
    def _clicked(self, index: int) -> None:
        self.select_edge(index)
        self.edge_clicked.emit(index)

    def select_edge(self, index: int | None) -> None:
        old = self.scene_.selected_edge
        self.scene_.selected_edge = index
        if old is not None and old < len(self.edges):
            self.edges[old].set_highlight(False)
        if index is not None and index < len(self.edges):
            self.edges[index].set_highlight(True)
            self.ensureVisible(self.edges[index], 40, 40)

    def fit(self) -> None:
        rect = self.scene_.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.KeepAspectRatio)
        # Never shrink text below legibility: past that, scroll instead.
        if self.transform().m11() < 0.45:
            self.resetTransform()
            self.scale(0.45, 0.45)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.fit()

    def wheelEvent(self, event):
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        self.scale(factor, factor)

    def export_image(self, path: str) -> None:
        """The whole scene as PNG or SVG (by suffix); OSError naming the file on failure."""
        from gui.widgets.files import render_to_file
        rect = self.scene_.sceneRect()
        render_to_file(path, rect.size().toSize(),
                       lambda painter, target: self.scene_.render(painter, target, rect),
                       "MLSys Studio transformer block diagram")
