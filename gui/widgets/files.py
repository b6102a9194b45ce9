"""Writing what the user exports (tables, code, images) atomically, through
core.common.files: a failed or interrupted export never leaves half a file."""

from __future__ import annotations

from pathlib import Path

from core.common.files import write_atomic, write_with

__all__ = ["save_image", "write_atomic"]


def save_image(image, path: str | Path, fmt: str = "PNG") -> None:
    """Save a QImage or QPixmap; raises OSError naming the file when it cannot be written."""
    def write(tmp: Path) -> None:
        if not image.save(str(tmp), fmt):
            raise OSError(f"cannot write image {path}")
    write_with(path, write)
