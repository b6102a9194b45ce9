"""Toolbar icons drawn with QPainter: for actions whose stock icon says something else
(Qt's media arrows for Undo/Redo, a refresh arrow for Auto layout), and for the file,
delete, fit, solver and about actions, whose stock icons would cost the first window
QStyle's Python enums (~10 ms of start-up, benchmarks/bench_startup.py)."""

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


def _new(painter: QPainter, colour: QColor) -> None:
    """A page with a folded corner."""
    painter.drawPolygon(QPolygonF([QPointF(7, 3), QPointF(19, 3), QPointF(25, 9),
                                   QPointF(25, 29), QPointF(7, 29)]))
    painter.drawPolyline(QPolygonF([QPointF(19, 3), QPointF(19, 9), QPointF(25, 9)]))


def _open(painter: QPainter, colour: QColor) -> None:
    """A folder."""
    painter.drawPolygon(QPolygonF([QPointF(3, 8), QPointF(12, 8), QPointF(15, 11),
                                   QPointF(29, 11), QPointF(29, 26), QPointF(3, 26)]))
    painter.drawLine(QPointF(3, 15), QPointF(29, 15))


def _save(painter: QPainter, colour: QColor) -> None:
    """A floppy disk."""
    painter.drawRoundedRect(QRectF(4, 4, 24, 24), 2, 2)
    painter.drawRect(QRectF(10, 4, 11, 7))
    painter.drawRect(QRectF(9, 17, 14, 11))


def _delete(painter: QPainter, colour: QColor) -> None:
    """A bin with its lid."""
    painter.drawLine(QPointF(5, 8), QPointF(27, 8))
    painter.drawLine(QPointF(13, 4), QPointF(19, 4))
    painter.drawPolyline(QPolygonF([QPointF(8, 8), QPointF(10, 28), QPointF(22, 28),
                                    QPointF(24, 8)]))
    for x in (13.5, 18.5):
        painter.drawLine(QPointF(x, 12), QPointF(x, 24))


def _fit(painter: QPainter, colour: QColor) -> None:
    """Four corner marks around a small graph (everything in view)."""
    for x, y, dx, dy in ((3, 3, 1, 1), (29, 3, -1, 1), (3, 29, 1, -1), (29, 29, -1, -1)):
        painter.drawPolyline(QPolygonF([QPointF(x + 7 * dx, y), QPointF(x, y),
                                        QPointF(x, y + 7 * dy)]))
    painter.drawRect(QRectF(12, 10, 8, 5))
    painter.drawLine(QPointF(16, 15), QPointF(16, 19))
    painter.drawRect(QRectF(12, 19, 8, 4))


def _solver(painter: QPainter, colour: QColor) -> None:
    """A 3×3 kernel over a grid (the convolution solver)."""
    for i in range(4):
        painter.drawLine(QPointF(5, 5 + 7.3 * i), QPointF(27, 5 + 7.3 * i))
        painter.drawLine(QPointF(5 + 7.3 * i, 5), QPointF(5 + 7.3 * i, 27))
    painter.setBrush(colour)
    painter.drawRect(QRectF(12.3, 12.3, 7.3, 7.3))


def _about(painter: QPainter, colour: QColor) -> None:
    """An "i" in a circle."""
    painter.drawEllipse(QRectF(4, 4, 24, 24))
    painter.drawLine(QPointF(16, 14), QPointF(16, 23))
    painter.setBrush(colour)
    painter.drawEllipse(QPointF(16, 9.5), 1.2, 1.2)


_DRAWINGS = {"layout": _layout, "new": _new, "open": _open, "save": _save,
             "delete": _delete, "fit": _fit, "solver": _solver, "about": _about}
KINDS = ("undo", "redo", *_DRAWINGS)


def drawn_icon(kind: str, colour: QColor) -> QIcon:
    """``kind``: one of KINDS."""
    pixmap, painter = _canvas(colour)
    if kind in ("undo", "redo"):
        _undo(painter, colour, mirrored=kind == "redo")
    elif kind in _DRAWINGS:
        _DRAWINGS[kind](painter, colour)
    else:
        painter.end()
        raise ValueError(f"no drawn icon {kind!r}")
    painter.end()
    return QIcon(pixmap)
