"""Help → User Guide: a short guide per workspace with a picture of each, shown inside the
app (a QTextBrowser in a dialog), ending with the live shortcut list of Help → Keyboard
Shortcuts. The text and pictures are package data in gui/resources/guide/ (the pictures
are made by tools/make_guide_pictures.py)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

GUIDE_DIR = Path(__file__).resolve().parent.parent / "resources" / "guide"
GUIDE_FILE = GUIDE_DIR / "guide.html"
SHORTCUTS_MARK = "<!--shortcuts-->"
SHORTCUTS_LINK = "app:shortcuts"


def guide_html(menubar=None) -> str:
    """The guide's HTML, with the menus' shortcut table in place of its marker."""
    from gui.widgets.shortcuts import shortcuts_html
    text = GUIDE_FILE.read_text(encoding="utf-8")
    table = shortcuts_html(menubar) if menubar is not None else ""
    return text.replace(SHORTCUTS_MARK, table)


def image_names(html: str) -> list[str]:
    """The pictures the guide refers to (relative to GUIDE_DIR)."""
    return re.findall(r'<img\s+src="([^"]+)"', html)


def section_ids(html: str) -> list[str]:
    return re.findall(r'<a name="([^"]+)"></a>', html)


class GuideDialog(QDialog):
    """Non-modal; ``show_section("dataflow")`` scrolls to a workspace's section;
    ``sig_shortcuts`` asks for the Keyboard Shortcuts dialog (its link in the guide)."""

    sig_shortcuts = Signal()

    def __init__(self, menubar=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("User guide — MLSys Studio")
        self.text = QTextBrowser()
        self.text.setSearchPaths([str(GUIDE_DIR)])
        self.text.setOpenLinks(False)  # anchors and the shortcuts link are handled here
        self.text.anchorClicked.connect(self._follow)
        self.text.setHtml(guide_html(menubar))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(860, 600)  # inside a 1280x720 screen with room for the title bar

    def show_section(self, name: str) -> None:
        self.text.scrollToAnchor(name.lower())

    def _follow(self, url: QUrl) -> None:
        if url.toString() == SHORTCUTS_LINK:
            self.sig_shortcuts.emit()
        elif url.hasFragment():
            self.text.scrollToAnchor(url.fragment())
        else:
            from PySide6.QtGui import QDesktopServices
            QDesktopServices.openUrl(url)  # an outside link: the system's browser
