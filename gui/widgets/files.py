"""Writing what the user exports (tables, code, images) atomically, through
core.common.files: a failed or interrupted export never leaves half a file. Pictures go
to PNG (pixels) or SVG (vectors) by the file's suffix."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from core.common.files import write_atomic, write_with

__all__ = ["export_widget", "render_to_file", "save_image", "write_atomic", "write_reported"]


def write_reported(path, writer, what: str, say) -> str | None:
    """Run ``writer(Path(path))`` and tell ``say(text, error)`` how it went: "Wrote …" and
    the path, or "Cannot write …" with the reason and None."""
    from core.common.errors import MlsysError
    try:
        writer(Path(path))
    except (OSError, MlsysError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        say(f"Cannot write {what} {path}: {reason}", True)
        return None
    say(f"Wrote {what} {path}", False)
    return str(path)


def save_image(image, path: str | Path, fmt: str = "PNG") -> None:
    """Save a QImage or QPixmap; raises OSError naming the file when it cannot be written."""
    def write(tmp: Path) -> None:
        if not image.save(str(tmp), fmt):
            raise OSError(f"cannot write image {path}")
    write_with(path, write)


def render_to_file(path: str, size: QSize, draw, title: str) -> None:
    """``draw(painter, target_rect)`` paints the picture, as SVG when ``path`` ends in .svg
    and as PNG (on white) otherwise; raises OSError naming the file."""
    size = QSize(max(1, size.width()), max(1, size.height()))
    target = QRectF(0, 0, size.width(), size.height())
    if str(path).lower().endswith(".svg"):
        write_with(path, lambda tmp: _write_svg(tmp, path, size, draw, target, title))
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


def _write_svg(tmp, path, size: QSize, draw, target: QRectF, title: str) -> None:
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


def export_widget(widget, path: str, title: str) -> None:
    """A widget as it is shown: PNG (its pixels) or SVG (its vectors) by the suffix."""
    if not str(path).lower().endswith(".svg"):
        save_image(widget.grab(), path)
        return
    render_to_file(path, widget.size(),
                   lambda painter, _target: widget.render(painter, QPoint(0, 0)), title)
