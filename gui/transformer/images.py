"""Writing a widget or scene to PNG (pixels) or SVG (vectors), chosen by the file suffix;
atomically (gui.widgets.files), so a failed export never leaves half a file."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from core.common.files import write_with

from gui.widgets.files import save_image


def render_to_file(path: str, size: QSize, draw, title: str) -> None:
    """``draw(painter, target_rect)`` paints the picture; raises OSError naming the file."""
    size = QSize(max(1, size.width()), max(1, size.height()))
    target = QRectF(0, 0, size.width(), size.height())
    if path.lower().endswith(".svg"):
        def write_svg(tmp) -> None:
            from PySide6.QtSvg import QSvgGenerator
            generator = QSvgGenerator()
            generator.setFileName(str(tmp))
            generator.setSize(size)
            generator.setViewBox(QRect(0, 0, size.width(), size.height()))
            generator.setTitle(title)
            painter = QPainter()
            if not painter.begin(generator):
                raise OSError(f"cannot write SVG {path}")
            try:
                draw(painter, target)
            finally:
                painter.end()
        write_with(path, write_svg)
        return
    image = QImage(size, QImage.Format_ARGB32)
    image.fill(QColor(Qt.white))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    try:
        draw(painter, target)
    finally:
        painter.end()
    save_image(image, path)


def export_widget(widget, path: str, title: str) -> None:
    """A widget as it is shown, to PNG or SVG."""
    from PySide6.QtCore import QPoint
    if not path.lower().endswith(".svg"):
        save_image(widget.grab(), path)
        return
    render_to_file(path, widget.size(), lambda painter, target: widget.render(painter, QPoint(0, 0)),
                   title)
