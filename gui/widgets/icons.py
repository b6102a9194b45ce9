"""Toolbar icons drawn with QPainter, for actions whose stock icon says something else
(Qt's media arrows for Undo/Redo, a refresh arrow for Auto layout)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

SIZE = 32


def _canvas(colour: QColor):
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.setPen(QPen(colour, 2.6, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
    return pixmap, painter


def _undo(painter: QPainter, colour: QColor, mirrored: bool) -> None:
    """A hooked arrow: from the right, over the top, back down to the left (undo)."""
    if mirrored:
        painter.translate(SIZE, 0)
        painter.scale(-1, 1)
    path = QPainterPath(QPointF(25, 25))
    path.cubicTo(QPointF(27, 12), QPointF(18, 7), QPointF(9, 12))
    painter.drawPath(path)
    painter.setBrush(colour)
    painter.setPen(Qt.NoPen)
    painter.drawPolygon(QPolygonF([QPointF(4, 14.5), QPointF(12.5, 6), QPointF(13.5, 17)]))


def _layout(painter: QPainter, colour: QColor) -> None:
    """Three boxes arranged in layers, joined by edges (arrange the graph)."""
    top, left, right = QRectF(11, 3, 10, 7), QRectF(3, 22, 10, 7), QRectF(19, 22, 10, 7)
    painter.drawLine(QPointF(16, 10), QPointF(8, 22))
    painter.drawLine(QPointF(16, 10), QPointF(24, 22))
    painter.setBrush(colour)
    for box in (top, left, right):
        painter.drawRoundedRect(box, 1.5, 1.5)


def drawn_icon(kind: str, colour: QColor) -> QIcon:
    """``kind``: "undo", "redo" or "layout"."""
    pixmap, painter = _canvas(colour)
    if kind in ("undo", "redo"):
        _undo(painter, colour, mirrored=kind == "redo")
    elif kind == "layout":
        _layout(painter, colour)
    else:
        painter.end()
        raise ValueError(f"no drawn icon {kind!r}")
    painter.end()
    return QIcon(pixmap)
