"""Light and dark themes (Fusion style with a palette); "system" follows the OS."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        return scheme() == Qt.ColorScheme.Dark
    return QGuiApplication.palette().color(QPalette.Window).lightness() < 128


def dark_palette() -> QPalette:
    p = QPalette()
    colors = {QPalette.Window: "#2b2d30", QPalette.WindowText: "#e6e6e6",
              QPalette.Base: "#1f2023", QPalette.AlternateBase: "#26282b",
              QPalette.ToolTipBase: "#2b2d30", QPalette.ToolTipText: "#e6e6e6",
              QPalette.Text: "#e6e6e6", QPalette.Button: "#35373b",
              QPalette.ButtonText: "#e6e6e6", QPalette.BrightText: "#ff6b6b",
              QPalette.Highlight: "#3d8ee8", QPalette.HighlightedText: "#ffffff",
              QPalette.Link: "#6cb4ff", QPalette.PlaceholderText: "#8a8d91"}
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    p.setColor(QPalette.Disabled, QPalette.Text, QColor("#777"))
    p.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#777"))
    p.setColor(QPalette.Disabled, QPalette.WindowText, QColor("#777"))
    return p


def apply_theme(mode: str = "system") -> str:
    """Apply 'light', 'dark' or 'system'; returns the theme actually used."""
    app = QApplication.instance()
    app.setStyle(QStyleFactory.create("Fusion"))
    dark = system_is_dark() if mode == "system" else mode == "dark"
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    try:
        import pyqtgraph as pg
        pg.setConfigOptions(background="#1f2023" if dark else "w",
                            foreground="#e6e6e6" if dark else "k", antialias=True)
    except ImportError:
        pass
    return "dark" if dark else "light"
