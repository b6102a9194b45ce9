"""Help → Keyboard shortcuts: every menu action that has a key, read from the menus
themselves (so the list cannot drift from the bindings), and the canvas's mouse gestures."""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

GESTURES = (
    ("Ctrl + mouse wheel", "zoom the canvas"),
    ("drag from a node's bottom dot to another node", "connect them"),
    ("drop a palette layer on an edge / a node / empty space",
     "insert it there / append it after the node / add it unconnected"),
    ("double-click a palette layer", "add it after the selected layer"),
    ("right-click a node", "its actions (Dataflow, Pipeline, solver, producers, consumers)"),
    ("Ctrl+Z in a property field", "the field's own undo while it holds typed text, the "
                                   "design's undo otherwise"),
)


def menu_shortcuts(menubar) -> list[tuple[str, str, str]]:
    """(menu path, action, keys) for every action in the menus that has a shortcut."""
    rows = []

    def walk(menu, path):
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), path + [action.text().replace("&", "")])
            elif not action.isSeparator():
                keys = ", ".join(k.toString(QKeySequence.NativeText) for k in action.shortcuts())
                if keys:
                    rows.append((" › ".join(path), action.text().replace("&", ""), keys))
    for top in menubar.actions():
        if top.menu() is not None:
            walk(top.menu(), [top.text().replace("&", "")])
    return rows


def shortcuts_html(menubar) -> str:
    rows = "".join(f"<tr><td>{escape(m)}</td><td>{escape(a)}</td><td><b>{escape(k)}</b></td>"
                   f"</tr>" for m, a, k in menu_shortcuts(menubar))
    gestures = "".join(f"<tr><td><b>{escape(g)}</b></td><td>{escape(d)}</td></tr>"
                       for g, d in GESTURES)
    return (f"<h3>Keyboard shortcuts</h3><table cellspacing=6><tr><th align=left>menu</th>"
            f"<th align=left>action</th><th align=left>keys</th></tr>{rows}</table>"
            f"<h3>Mouse</h3><table cellspacing=6>{gestures}</table>")


class ShortcutsDialog(QDialog):
    def __init__(self, menubar, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts — MLSys Studio")
        self.text = QTextBrowser()
        self.text.setHtml(shortcuts_html(menubar))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(640, 560)
