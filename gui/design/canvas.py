"""The canvas: nodes and edges of the document's Network in a QGraphicsView.

Drop a palette layer on empty space to add it, on a node to append it after that node,
on an edge to insert it there. Drag from a node's output port (bottom dot) to another
node to connect them. Moves, deletes and duplicates go through the document (undoable).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen,
                           QPalette)
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsObject, QGraphicsPathItem,
                               QGraphicsScene, QGraphicsView)

from core.common.explain import shape_text
from core.graph.blocks import RULE, FoldedGraph, fold_figures
from core.graph.layout import layered_positions
from core.graph.report import human_bytes

from gui.design.folds import FoldState
from gui.design.mime import decode_layer_type

NODE_W, NODE_H = 184.0, 62.0
PORT_R = 5.0
OVERVIEW_LOD = 0.35  # below this scale nodes are drawn as coloured blocks, without text
OPENING_SCALE = 0.5  # a small design opens at least this large: named layers, not blocks
SMALL_DESIGN = 40  # nodes; a bigger design opens fitted (its overview)
INSERT_GAP = 34.0  # vertical space between a node and one inserted below it
CATEGORY_COLORS = {
    "Structure": "#7f8c8d", "Convolution": "#2e86de", "Pooling": "#16a085",
    "Linear": "#8e44ad", "Activation": "#e67e22", "Normalization": "#27ae60",
    "Attention": "#c0392b", "Loss": "#d35400",
}
BLOCK_COLOR = "#34495e"  # a folded run of repeated blocks
ERROR_COLOR = QColor("#d63031")
ERROR_BRUSH = QBrush(ERROR_COLOR)
_BRUSHES: dict[str, QBrush] = {}


def _category_brush(category: str) -> QBrush:
    brush = _BRUSHES.get(category)
    if brush is None:
        brush = _BRUSHES[category] = QBrush(QColor(CATEGORY_COLORS.get(category, "#7f8c8d")))
    return brush


class NodeItem(QGraphicsObject):
    """One layer: name, type with key parameters, and its output shape (or its error)."""

    fold = None  # a BlockItem's Fold

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.type_name = ""
        self.category = "Structure"
        self.summary = ""
        self.shape_line = ""
        self.error = ""
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self.edges: list["EdgeItem"] = []

    def boundingRect(self) -> QRectF:
        return QRectF(-NODE_W / 2 - 2, -PORT_R - 2, NODE_W + 4, NODE_H + 2 * PORT_R + 4)

    def body(self) -> QRectF:
        return QRectF(-NODE_W / 2, 0, NODE_W, NODE_H)

    def input_port(self) -> QPointF:
        return self.mapToScene(QPointF(0, 0))

    def output_port(self) -> QPointF:
        return self.mapToScene(QPointF(0, NODE_H))

    def is_on_output_port(self, scene_pos: QPointF) -> bool:
        p = self.mapFromScene(scene_pos)
        return abs(p.x()) <= PORT_R * 2.2 and abs(p.y() - NODE_H) <= PORT_R * 2.2

    def update_from(self, result, network_node) -> None:
        from core.graph.catalog import layer_type
        kind = layer_type(network_node.type)
        self.type_name = network_node.type
        self.category = kind.category
        params = result.params if result is not None else network_node.params
        try:
            self.summary = kind.summary(kind.normalize(self.name, params))
        except Exception:
            self.summary = ""
        self.error = ""
        if result is None:
            self.shape_line = "?"
        elif result.error is not None:
            self.error = result.error.detail
            self.shape_line = ""
        elif result.waiting_on:
            self.shape_line = f"waiting for {result.waiting_on}"
        else:
            self.shape_line = "→ " + shape_text(result.output_shape)
        tip = f"<b>{self.name}</b>: {self.type_name} {self.summary}<br>"
        tip += (f"<span style='color:#d63031'>{self.error}</span>" if self.error
                else self.shape_line)
        tip += "<br><i>" + kind.doc + "</i>"
        self.setToolTip(tip)
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < OVERVIEW_LOD:
            self._paint_overview(painter, widget)
            return
        palette = widget.palette() if widget else QPalette()
        base = palette.color(QPalette.Base)
        text = palette.color(QPalette.Text)
        accent = QColor(CATEGORY_COLORS.get(self.category, "#7f8c8d"))
        painter.setRenderHint(QPainter.Antialiasing)
        fill = QColor(base)
        if self.error:
            fill = QColor(ERROR_COLOR.red(), ERROR_COLOR.green(), ERROR_COLOR.blue(), 40)
        border = ERROR_COLOR if self.error else accent
        pen = QPen(border, 3.0 if self.isSelected() else 1.6)
        if self.isSelected():
            pen.setColor(palette.color(QPalette.Highlight))
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(self.body(), 7, 7)
        _paint_title(painter, accent, text, self.name)
        plain = QFont(painter.font())
        plain.setBold(False)
        plain.setPointSizeF(max(7.0, plain.pointSizeF() - 1))
        painter.setFont(plain)
        painter.drawText(QRectF(-NODE_W / 2 + 12, 22, NODE_W - 18, 16), Qt.AlignLeft,
                         _elide(plain, f"{self.type_name} {self.summary}", NODE_W - 18))
        painter.setPen(ERROR_COLOR if self.error else text)
        painter.drawText(QRectF(-NODE_W / 2 + 12, 39, NODE_W - 18, 18), Qt.AlignLeft,
                         _elide(plain, self.error or self.shape_line, NODE_W - 18))
        painter.setPen(QPen(accent, 1.2))
        painter.setBrush(QBrush(base))
        painter.drawEllipse(QPointF(0, 0), PORT_R, PORT_R)
        painter.setBrush(QBrush(accent))
        painter.drawEllipse(QPointF(0, NODE_H), PORT_R, PORT_R)

    def _paint_overview(self, painter: QPainter, widget) -> None:
        """Zoomed far out, text is unreadable and costly: a block in the category's colour
        (red for an error, outlined when selected). Kept lean: thousands per frame."""
        if self.isSelected():
            palette = widget.palette() if widget else QPalette()
            painter.setPen(QPen(palette.color(QPalette.Highlight), 6))
        else:
            painter.setPen(Qt.NoPen)
        painter.setBrush(ERROR_BRUSH if self.error else _category_brush(self.category))
        painter.drawRect(self.body())

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)


class BlockItem(NodeItem):
    """A closed fold: one node showing ×N and the sums over its members (double-click to
    open it in place)."""

    def __init__(self, fold: Fold):
        super().__init__(fold.id)
        self.fold = fold
        self.category = "Block"
        self.lines = ("", "")

    def update_figures(self, analysis) -> None:
        f = fold_figures(analysis, self.fold)
        self.type_name = f"{len(self.fold.members[0])} layers ×{self.fold.count}"
        # short lines: the node is 184 px wide; the tooltip has every digit
        self.lines = (f"{_compact(f.params.value)} params · {_compact(f.macs.value)} MACs",
                      f"{len(self.fold.members[0])} layers each · "
                      f"{human_bytes(f.weight_bytes.value).split(' (')[0]}")
        first, last = self.fold.members[0], self.fold.members[-1]
        tip = (f"<b>{self.fold.label()}</b>: {self.fold.count} identical blocks of "
               f"{len(first)} layers ({first[0]} … {first[-1]}, …, {last[0]} … {last[-1]})"
               f"<br>params {f.params.value:,} · MACs {f.macs.value:,} · weight bytes "
               f"{f.weight_bytes.value:,} · activation bytes {f.activation_bytes.value:,}"
               f"<br>backward mul {f.backward_mul.value:,} · add {f.backward_add.value:,}"
               f"<br>(sums over the {len(self.fold.nodes)} member layers)"
               f"<br><i>{RULE}</i><br>Double-click to expand it in place.")
        self.setToolTip(tip)
        self.update()

    def update_from(self, result, network_node) -> None:  # a block is not one layer
        return

    def is_on_output_port(self, scene_pos) -> bool:
        return False  # wire from a layer, not from a folded run

    def paint(self, painter: QPainter, option, widget=None) -> None:
        accent = QColor(BLOCK_COLOR)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < OVERVIEW_LOD:
            painter.setPen(Qt.NoPen)
            painter.setBrush(QBrush(accent))
            painter.drawRect(self.body())
            return
        palette = widget.palette() if widget else QPalette()
        base, text = palette.color(QPalette.Base), palette.color(QPalette.Text)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(accent, 1.2))
        painter.setBrush(QBrush(base))
        for offset in (6, 3):  # a stack of cards: more than one block lies here
            painter.drawRoundedRect(self.body().translated(offset, -offset), 7, 7)
        pen = QPen(palette.color(QPalette.Highlight) if self.isSelected() else accent,
                   3.0 if self.isSelected() else 2.0)
        painter.setPen(pen)
        painter.drawRoundedRect(self.body(), 7, 7)
        _paint_title(painter, accent, text, self.fold.label())
        plain = QFont(painter.font())
        plain.setBold(False)
        plain.setPointSizeF(max(7.0, plain.pointSizeF() - 1))
        painter.setFont(plain)
        for y, line in zip((22, 39), self.lines):
            painter.drawText(QRectF(-NODE_W / 2 + 12, y, NODE_W - 18, 16), Qt.AlignLeft,
                             _elide(plain, line, NODE_W - 18))
        painter.setPen(QPen(accent, 1.2))
        painter.setBrush(QBrush(accent))
        painter.drawEllipse(QPointF(0, 0), 5, 5)
        painter.drawEllipse(QPointF(0, NODE_H), 5, 5)

    def mouseDoubleClickEvent(self, event):
        scene = self.scene()
        if scene is not None:
            scene.expand_block(self.fold.id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)


def _compact(n: int) -> str:
    """3 significant digits with k/M/G (the node is small; the tooltip has every digit)."""
    for unit, size in (("G", 10 ** 9), ("M", 10 ** 6), ("k", 10 ** 3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _touches_fold(item) -> bool:
    if isinstance(item, EdgeItem):
        return item.src.fold is not None or item.dst.fold is not None
    return isinstance(item, NodeItem) and item.fold is not None


def _paint_title(painter: QPainter, accent: QColor, text: QColor, title: str) -> None:
    """A node's accent strip and its bold, elided title (the font stays bold for the caller)."""
    painter.fillRect(QRectF(-NODE_W / 2 + 1, 1, 5, NODE_H - 2), accent)
    painter.setPen(text)
    bold = QFont(painter.font())
    bold.setBold(True)
    painter.setFont(bold)
    painter.drawText(QRectF(-NODE_W / 2 + 12, 4, NODE_W - 18, 18), Qt.AlignLeft,
                     _elide(bold, title, NODE_W - 18))


def _elide(font: QFont, text: str, width: float) -> str:
    return QFontMetrics(font).elidedText(text, Qt.ElideRight, int(width))


class EdgeItem(QGraphicsPathItem):
    """A connection from one node's output to another's input (slot shown for merges)."""

    def __init__(self, src: NodeItem, dst: NodeItem, slot: int, slots: int):
        super().__init__()
        self.src, self.dst, self.slot, self.slots = src, dst, slot, slots
        self.setZValue(1)
        self.setAcceptHoverEvents(True)
        self.setPen(QPen(QColor("#8395a7"), 1.8))
        src.edges.append(self)
        dst.edges.append(self)
        self.setToolTip(f"{src.name} → {dst.name}" + (f" (input {slot + 1})" if slots > 1
                                                       else ""))
        self.update_path()

    def update_path(self) -> None:
        """A curve from port to port; when other nodes stand between the two ends (a skip
        connection laid out by hand, or by the simple layering), a lane beside them."""
        start = self.src.output_port()
        end = self.dst.input_port()
        if self.slots > 1:
            end += QPointF((self.slot - (self.slots - 1) / 2) * 18.0, 0)
        path = QPainterPath(start)
        blockers = self._blockers(start, end)
        if blockers:
            lane = self._lane(start, end, blockers)
            turn = min(40.0, max(12.0, (end.y() - start.y()) / 4))
            path.cubicTo(start + QPointF(0, turn), QPointF(lane, start.y()),
                         QPointF(lane, start.y() + 2 * turn))
            path.lineTo(QPointF(lane, end.y() - 2 * turn))
            path.cubicTo(QPointF(lane, end.y()), end - QPointF(0, turn), end)
        else:
            bend = max(30.0, abs(end.y() - start.y()) / 2)
            path.cubicTo(start + QPointF(0, bend), end - QPointF(0, bend), end)
        self.setPath(path)

    def _blockers(self, start: QPointF, end: QPointF) -> list:
        """Other nodes the straight line between the ports would cross (only downward
        edges that span more than one row are rerouted)."""
        scene = self.scene() or getattr(self.src, "scene", lambda: None)()
        if scene is None or end.y() - start.y() < NODE_H + 40:
            return []
        line = QPainterPath(start)
        line.lineTo(end)
        band = QRectF(start, end).normalized().adjusted(-4, 4, 4, -4)
        rows = getattr(scene, "rows", None)
        candidates = rows.within(band) if rows is not None else scene.items(band)
        return [item for item in candidates
                if isinstance(item, NodeItem) and item is not self.src and item is not
                self.dst and line.intersects(item.sceneBoundingRect().adjusted(-6, 0, 6, 0))]

    @staticmethod
    def _lane(start: QPointF, end: QPointF, blockers) -> float:
        """x of a vertical lane just beside the blocking nodes, on the nearer side."""
        rects = [b.sceneBoundingRect() for b in blockers]
        right = max(r.right() for r in rects) + 22
        left = min(r.left() for r in rects) - 22
        middle = (start.x() + end.x()) / 2
        return right if right - middle <= middle - left else left

    def shape(self) -> QPainterPath:  # a wider band so edges are easy to hit
        from PySide6.QtGui import QPainterPathStroker
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        return stroker.createStroke(self.path())

    def hoverEnterEvent(self, event):
        self.setPen(QPen(QColor("#0984e3"), 3))
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event):
        self.setPen(QPen(QColor("#8395a7"), 1.8))
        super().hoverLeaveEvent(event)


class NodeRows:
    """Nodes sorted by their top edge, for rectangle queries while the scene is rebuilt."""

    def __init__(self, items):
        self.items = sorted(items, key=lambda i: i.pos().y())
        self.tops = [i.pos().y() for i in self.items]

    def within(self, rect: QRectF) -> list:
        from bisect import bisect_left, bisect_right
        first = bisect_left(self.tops, rect.top() - NODE_H - PORT_R - 2)
        last = bisect_right(self.tops, rect.bottom() + PORT_R + 2)
        return [item for item in self.items[first:last]
                if item.sceneBoundingRect().intersects(rect)]


class CanvasScene(QGraphicsScene):
    """Scene mirroring the document's network; rebuilt incrementally after each change."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.nodes: dict[str, NodeItem] = {}  # layers shown one by one
        self.blocks: dict[str, BlockItem] = {}  # closed folds, by fold id
        self.edges: list[EdgeItem] = []
        self.folding = FoldState(self)
        self.folding.sig_changed.connect(self._fold_changed)
        self._view_key = None
        self.rows: NodeRows | None = None  # only while edges are being rebuilt
        self.setSceneRect(-2000, -400, 4000, 4000)

    def sync(self) -> None:
        network, analysis = self.document.network, self.document.analysis
        if analysis is not None and analysis.network is not network:
            analysis = None  # the previous design's, while a new one is being loaded
        closed = self.folding.update(analysis)
        hidden = {n for f in closed for n in f.nodes}
        view = self._view_positions(network, analysis, closed) if self.folding.enabled \
            else None
        auto = None
        for name in [n for n in self.nodes if n not in network.nodes or n in hidden]:
            self.removeItem(self.nodes.pop(name))
        self._sync_blocks(closed, analysis, view)
        for name, node in network.nodes.items():
            if name in hidden:
                continue
            item = self.nodes.get(name)
            if item is None:
                item = NodeItem(name)
                self.nodes[name] = item
                self.addItem(item)
            if view is not None:
                pos = view.get(name)
            elif node.position is not None:
                pos = node.position
            else:
                auto = auto or layered_positions(network)
                pos = auto[name]
            if pos is not None and (item.pos().x(), item.pos().y()) != tuple(pos):
                item.setPos(QPointF(*pos))
            result = analysis.nodes.get(name) if analysis else None
            item.update_from(result, node)
        self._rebuild_edges()
        self._grow_scene_rect()

    def _view_positions(self, network, analysis, closed) -> dict | None:
        """With folding on, the layout of the graph as shown (closed folds as one node),
        re-run only when what is shown changes, so that view-only drags stay put; None
        keeps the items where they are."""
        order = analysis.order if analysis is not None else list(network.nodes)
        graph = FoldedGraph(network, order, closed)
        key = tuple((name, tuple(node.inputs)) for name, node in graph.nodes.items())
        if key == self._view_key:
            return {}
        self._view_key = key
        return layered_positions(graph)

    def _sync_blocks(self, closed, analysis, view) -> None:
        wanted = {f.id: f for f in closed}
        for fold_id in list(self.blocks):
            if fold_id not in wanted or self.blocks[fold_id].fold != wanted[fold_id]:
                self.removeItem(self.blocks.pop(fold_id))
        for fold_id, fold in wanted.items():
            item = self.blocks.get(fold_id)
            if item is None:
                item = self.blocks[fold_id] = BlockItem(fold)
                self.addItem(item)
            if view and fold_id in view:
                item.setPos(QPointF(*view[fold_id]))
            item.update_figures(analysis)

    def shown_item(self, name: str):
        """The item that shows layer ``name``: its node, or the closed fold holding it."""
        item = self.nodes.get(name)
        if item is None:
            item = next((b for b in self.blocks.values() if name in b.fold.nodes), None)
        return item

    def expand_block(self, fold_id: str) -> None:
        """Open a fold in place (later: an item must not be deleted in its own event)."""
        from PySide6.QtCore import QTimer
        QTimer.singleShot(0, lambda: self.folding.expand(fold_id))

    def _rebuild_edges(self) -> None:
        for edge in self.edges:
            self.removeItem(edge)
        for item in list(self.nodes.values()) + list(self.blocks.values()):
            item.edges = []
        self.edges = []
        owner = {n: b for b in self.blocks.values() for n in b.fold.nodes}
        # Qt indexes new items only back in the event loop; until then every items(rect)
        # scans all of them, so edges built here look up blockers in a sorted row list.
        self.rows = NodeRows(list(self.nodes.values()) + list(self.blocks.values()))
        try:
            seen = set()
            for name, node in self.document.network.nodes.items():
                dst = owner.get(name) or self.nodes.get(name)
                for slot, src in enumerate(node.inputs):
                    source = owner.get(src) or self.nodes.get(src)
                    if dst is None or source is None or source is dst:
                        continue
                    folded = dst.fold is not None or source.fold is not None
                    if folded and (source, dst) in seen:
                        continue
                    seen.add((source, dst))
                    edge = EdgeItem(source, dst, 0 if folded else slot,
                                    1 if folded else len(node.inputs))
                    self.addItem(edge)
                    self.edges.append(edge)
        finally:
            self.rows = None

    def _grow_scene_rect(self) -> None:
        bounds = self.itemsBoundingRect().adjusted(-600, -300, 600, 600)
        self.setSceneRect(self.sceneRect().united(bounds))

    def _fold_changed(self) -> None:
        self._view_key = None  # what is shown changed: lay it out again
        self.sync()

    def selected_names(self) -> list[str]:
        """Selected layers (a selected closed fold is not a layer to edit)."""
        return [i.name for i in self.selectedItems()
                if isinstance(i, NodeItem) and i.fold is None]

    def select_names(self, names) -> None:
        self.clearSelection()
        for name in names:
            if name in self.nodes:
                self.nodes[name].setSelected(True)


class CanvasView(QGraphicsView):
    """The view: drops, port drags, zoom (Ctrl+wheel), rubber-band selection."""

    sig_message = Signal(str)
    sig_context_menu = Signal(str, object)  # node name, global position

    def __init__(self, document, parent=None):
        self.scene_ = CanvasScene(document)
        super().__init__(self.scene_, parent)
        self.document = document
        self.setAcceptDrops(True)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.BoundingRectViewportUpdate)
        self._drag_start: dict[str, tuple] = {}
        self._wire: QGraphicsPathItem | None = None
        self._wire_from: str | None = None
        self.setToolTip("Drag layers here from the palette. Drag from a node's bottom dot to "
                        "another node to connect. Ctrl+wheel zooms.")
        from gui.design.minimap import MiniMap
        self.minimap = MiniMap(self)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.minimap.place()
        self.minimap.fit()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.minimap.refresh()

    # -- drag and drop from the palette -------------------------------------------------
    def dragEnterEvent(self, event):
        if decode_layer_type(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event):
        if decode_layer_type(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event):
        type_name = decode_layer_type(event.mimeData())
        if not type_name:
            return super().dropEvent(event)
        pos = self.mapToScene(event.position().toPoint())
        self.drop_layer(type_name, pos)
        event.acceptProposedAction()

    def drop_layer(self, type_name: str, pos: QPointF) -> str | None:
        """Add a layer where it was dropped: on an edge inserts, on a node appends."""
        target = self._item_at(pos)
        if _touches_fold(target):  # a folded run is no place to insert: drop beside it
            target = None
        position = (round(pos.x(), 1), round(pos.y() - NODE_H / 2, 1))
        try:
            if isinstance(target, EdgeItem):
                name = self.insert_between(target.src.name, target.dst.name, type_name)
            elif isinstance(target, NodeItem):
                below = (target.pos().x(), target.pos().y() + NODE_H + 34)
                name = self.document.add_node(type_name, below, inputs=[target.name])
            else:
                name = self.document.add_node(type_name, position)
        except Exception as exc:  # never lose the window over a drop
            self.sig_message.emit(str(exc))
            return None
        self.scene_.select_names([name])
        return name

    def insert_between(self, src: str, dst: str, type_name: str) -> str:
        """Insert on the edge src → dst, the new node placed under src; when there is no
        room, dst and everything below it that depends on it move down (one undo step)."""
        a, b = self.scene_.nodes[src].pos(), self.scene_.nodes[dst].pos()
        top = a.y() + NODE_H + INSERT_GAP
        position = (round((a.x() + b.x()) / 2, 1), round(top, 1))
        shift = top + NODE_H + INSERT_GAP - b.y()
        stack = self.document.undo_stack
        stack.beginMacro(f"Insert {type_name} between {src} and {dst}")
        try:
            name = self.document.insert_on_edge(src, dst, type_name, position)
            if shift > 0:
                self.document.move_nodes(self._moves_down(dst, shift))
        finally:
            stack.endMacro()
        return name

    def _moves_down(self, first: str, shift: float) -> dict:
        """Moves that push ``first`` and every node depending on it down by ``shift``."""
        network = self.document.network
        consumers: dict[str, list[str]] = {}
        for name, node in network.nodes.items():
            for src in node.inputs:
                consumers.setdefault(src, []).append(name)
        below = [first]
        seen = {first}
        while below:
            name = below.pop()
            for consumer in consumers.get(name, ()):
                if consumer not in seen:
                    seen.add(consumer)
                    below.append(consumer)
        moves = {}
        for name in seen:
            item = self.scene_.nodes.get(name)
            if item is not None:
                old = network.nodes[name].position
                moves[name] = (old, (item.pos().x(), round(item.pos().y() + shift, 1)))
        return moves

    def _item_at(self, pos: QPointF):
        for item in self.scene_.items(pos):
            if isinstance(item, (NodeItem, EdgeItem)):
                return item
        return None

    # -- wiring and moving --------------------------------------------------------------
    def mousePressEvent(self, event):
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.LeftButton:
            for item in self.scene_.items(pos):
                if isinstance(item, NodeItem) and item.is_on_output_port(pos):
                    self.start_wire(item.name, pos)
                    return
        super().mousePressEvent(event)
        self._drag_start = {n: (i.pos().x(), i.pos().y()) for n, i in self.scene_.nodes.items()
                            if i.isSelected()}

    def mouseMoveEvent(self, event):
        if self._wire is not None:
            self.update_wire(self.mapToScene(event.position().toPoint()))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._wire is not None:
            self.finish_wire(self.mapToScene(event.position().toPoint()))
            return
        super().mouseReleaseEvent(event)
        self.commit_moves()

    def commit_moves(self) -> None:
        """Store dragged positions in the design (undoable). With folding on, positions
        come from the folded view's layout: drags there are view-only."""
        if self.scene_.folding.enabled:
            self._drag_start = {}
            return
        moves = {}
        for name, old in self._drag_start.items():
            item = self.scene_.nodes.get(name)
            if item is None:
                continue
            new = (round(item.pos().x(), 1), round(item.pos().y(), 1))
            if new != old:
                stored = self.document.network.nodes[name].position
                moves[name] = (stored, new)
        self._drag_start = {}
        if moves:
            self.document.move_nodes(moves)

    def start_wire(self, src: str, pos: QPointF) -> None:
        self._wire_from = src
        self._wire = QGraphicsPathItem()
        self._wire.setPen(QPen(QColor("#0984e3"), 2, Qt.DashLine))
        self.scene_.addItem(self._wire)
        self.update_wire(pos)

    def update_wire(self, pos: QPointF) -> None:
        start = self.scene_.nodes[self._wire_from].output_port()
        path = QPainterPath(start)
        path.lineTo(pos)
        self._wire.setPath(path)

    def finish_wire(self, pos: QPointF) -> str | None:
        src = self._wire_from
        self.scene_.removeItem(self._wire)
        self._wire, self._wire_from = None, None
        target = self._item_at(pos)
        if isinstance(target, NodeItem) and target.fold is None and target.name != src:
            error = self.document.connect_nodes(src, target.name)
            if error:
                self.sig_message.emit(error)
            return error
        return None

    def contextMenuEvent(self, event):
        item = self._item_at(self.mapToScene(event.pos()))
        if isinstance(item, NodeItem) and item.fold is not None:
            self.block_menu(item.fold.id).exec(event.globalPos())
            return
        if isinstance(item, NodeItem):
            if not item.isSelected():
                self.scene_.select_names([item.name])
            self.sig_context_menu.emit(item.name, event.globalPos())
            return
        super().contextMenuEvent(event)

    # -- folded blocks ------------------------------------------------------------------
    def block_menu(self, fold_id: str):
        from PySide6.QtWidgets import QMenu
        menu = QMenu(self)
        menu.addAction("&Expand block", lambda: self.expand_block(fold_id)).setToolTip(
            "Show this run's layers one by one, in place")
        menu.addAction("Expand &all", self.expand_all)
        return menu

    def add_fold_actions(self, menu, name: str) -> None:
        """On a layer of an open fold: an action that folds it again."""
        folding = self.scene_.folding
        fold = folding.fold_of(name) if folding.enabled else None
        if fold is not None and fold.id in folding.expanded:
            menu.addSeparator()
            menu.addAction(f"&Collapse {fold.label()}",
                           lambda: self.collapse_block(fold.id)).setToolTip(RULE)

    def set_folding(self, on: bool) -> None:
        """Fold repeated blocks (or show every layer) and fit the result in view."""
        self.scene_.folding.set_enabled(on)
        self.zoom_to_fit()

    def expand_block(self, fold_id: str) -> None:
        """Open a fold in place: the layout re-runs and the view centres on its layers."""
        fold = next((f for f in self.scene_.folding.folds if f.id == fold_id), None)
        self.scene_.folding.expand(fold_id)
        if fold is not None:
            items = [self.scene_.nodes[n] for n in fold.nodes if n in self.scene_.nodes]
            if items:
                self.centerOn(items[len(items) // 2].sceneBoundingRect().center())
        self.minimap.refresh()

    def collapse_block(self, fold_id: str) -> None:
        self.scene_.folding.collapse(fold_id)
        item = self.scene_.blocks.get(fold_id)
        if item is not None:
            self.scene_.select_names([])
            item.setSelected(True)
            self.centerOn(item)
        self.minimap.refresh()

    def expand_all(self) -> None:
        self.scene_.folding.expand_all()
        self.zoom_to_fit()

    def reveal(self, name: str):
        """The item of layer ``name``, opening the closed fold that hides it first."""
        if name not in self.scene_.nodes:
            fold = self.scene_.folding.fold_of(name)
            if fold is not None and fold.id in self.scene_.blocks:
                self.scene_.folding.expand(fold.id)
        return self.scene_.nodes.get(name)

    # -- zoom ---------------------------------------------------------------------------
    def wheelEvent(self, event):
        if event.modifiers() & Qt.ControlModifier:
            factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
            self.zoom(factor)
            return
        super().wheelEvent(event)

    def zoom_to_fit(self) -> None:
        """The whole graph in view, whatever its size (no floor), never magnified (a
        single node shows at its natural size, not 2x)."""
        rect = self.scene_.itemsBoundingRect()
        if rect.isNull():
            return
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.KeepAspectRatio)
        if self.transform().m11() > 1.0:
            self.resetTransform()
            self.centerOn(rect.center())
        self.minimap.fit()

    def zoom_to_readable(self) -> None:
        """How a design opens: fitted, but a small one (at most SMALL_DESIGN nodes) never
        below OPENING_SCALE, scrolled to its first layers, so that the first window shows
        LeNet-5's names and shapes at 1280x720 rather than coloured blocks."""
        self.zoom_to_fit()
        rect = self.scene_.itemsBoundingRect()
        if (rect.isNull() or self.transform().m11() >= OPENING_SCALE
                or len(self.scene_.nodes) > SMALL_DESIGN):
            return
        self.resetTransform()
        self.scale(OPENING_SCALE, OPENING_SCALE)
        half_height = self.viewport().height() / (2 * OPENING_SCALE)
        self.centerOn(rect.center().x(), rect.top() - 30 + half_height)
        self.minimap.refresh()

    def zoom(self, factor: float) -> None:
        self.scale(factor, factor)
        self.minimap.refresh()
