"""The minimap: the whole design in a corner of the canvas, the visible part framed;
click or drag in it to move the canvas there. The design is rendered once into a pixmap
(again only after the scene has been still for a moment), so panning and zooming a
5,000-node design repaint a picture, not the design."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QWidget

MAX_SIZE = (170, 230)
SHARE = 0.2   # at most this share of the canvas's width and of its height
MIN_SIDE = 40  # below this the picture says nothing: the minimap stays hidden
MARGIN = 12
PAD = 20.0    # scene units around the design


def minimap_size(view_w: int, view_h: int, bounds: QRectF) -> tuple[int, int]:
    """At most SHARE of the canvas's width and of its height (and MAX_SIZE), shaped like
    the design with its padding, so that a tall column does not take a wide box."""
    box_w = min(MAX_SIZE[0], int(view_w * SHARE))
    box_h = min(MAX_SIZE[1], int(view_h * SHARE))
    if bounds.isNull() or box_w < 1 or box_h < 1:
        return max(1, box_w), max(1, box_h)
    aspect = (bounds.width() + 2 * PAD) / (bounds.height() + 2 * PAD)
    w, h = min(box_w, box_h * aspect), min(box_h, box_w / aspect)
    return max(min(box_w, MIN_SIDE), int(w)), max(min(box_h, MIN_SIDE), int(h))


class MiniMap(QWidget):
    """Overlay on a CanvasView (its parent)."""

    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.wanted = True  # View → Minimap; shown only while part of the design is hidden
        self.bounds = QRectF()  # the design's bounding rectangle when last rendered
        self._pixmap = QPixmap()
        self._target = QRectF()  # where the design lies in this widget
        self.setToolTip("The whole design; the frame is what the canvas shows. Click or drag "
                        "to move there (View → Minimap hides it)")
        self.setCursor(Qt.PointingHandCursor)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(150)
        self._render_timer.timeout.connect(self.fit)
        canvas.scene().changed.connect(self._scene_changed)
        self.hide()

    def _scene_changed(self, _rects) -> None:
        if not self._render_timer.isActive():
            self._render_timer.start()

    def set_wanted(self, wanted: bool) -> None:
        self.wanted = wanted
        self.refresh()

    def needed(self) -> bool:
        """Part of the design lies outside the canvas's view, and the canvas is big enough
        for a minimap within its share."""
        return (not self.bounds.isNull() and self.width() >= MIN_SIDE
                and self.height() >= MIN_SIDE
                and not self.visible_area().contains(self.bounds))

    def refresh(self) -> None:
        """Show or hide (cheap: called on every scroll and zoom step)."""
        self.setVisible(self.wanted and self.needed())
        if self.isVisible():
            self.update()

    def fit(self) -> None:
        """Measure and render the design again (after changes settle)."""
        self.bounds = self.canvas.scene_.itemsBoundingRect()
        self.place(render=False)  # its shape follows the design's
        self._render()
        self.refresh()

    def _render(self) -> None:
        if self.bounds.isNull() or self.width() < 2:
            self._pixmap = QPixmap()
            return
        source = self.bounds.adjusted(-PAD, -PAD, PAD, PAD)
        scale = min(self.width() / source.width(), self.height() / source.height())
        w, h = source.width() * scale, source.height() * scale
        self._target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        self._source = source
        pixmap = QPixmap(self.size())
        pixmap.fill(self.palette().color(QPalette.AlternateBase))
        painter = QPainter(pixmap)
        self.canvas.scene_.render(painter, self._target, source, Qt.KeepAspectRatio)
        painter.end()
        self._pixmap = pixmap

    def to_scene(self, point: QPointF) -> QPointF:
        s, t = self._source, self._target
        return QPointF(s.left() + (point.x() - t.left()) * s.width() / t.width(),
                       s.top() + (point.y() - t.top()) * s.height() / t.height())

    def from_scene(self, point: QPointF) -> QPointF:
        s, t = self._source, self._target
        return QPointF(t.left() + (point.x() - s.left()) * t.width() / s.width(),
                       t.top() + (point.y() - s.top()) * t.height() / s.height())

    def visible_area(self) -> QRectF:
        view = self.canvas
        return view.mapToScene(view.viewport().rect()).boundingRect()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        painter.setPen(QPen(self.palette().color(QPalette.Mid), 1))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if self._target.isEmpty():
            return
        area = self.visible_area()
        frame = QRectF(self.from_scene(area.topLeft()), self.from_scene(area.bottomRight()))
        painter.setPen(QPen(QColor("#0984e3"), 1.5))
        painter.setBrush(QColor(9, 132, 227, 40))
        painter.drawRect(frame.intersected(QRectF(self.rect())))

    def place(self, render: bool = True) -> None:
        """Bottom-right corner of the canvas, clear of its scroll bars, sized to it."""
        view = self.canvas.viewport()
        size = minimap_size(view.width(), view.height(), self.bounds)
        if (self.width(), self.height()) != size:
            self.setFixedSize(*size)
            if render:
                self._render()
        self.move(view.x() + view.width() - self.width() - MARGIN,
                  view.y() + view.height() - self.height() - MARGIN)
        self.raise_()

    def mousePressEvent(self, event):
        if not self._target.isEmpty():
            self.canvas.centerOn(self.to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event):
        if event.buttons() & Qt.LeftButton and not self._target.isEmpty():
            self.canvas.centerOn(self.to_scene(event.position()))
        event.accept()
