"""Folded repeated blocks: the view state (folding on or off, which folds are open) that
the canvas (gui/design/canvas.py, BlockItem) and the Fold actions share. Folding is a view
of the design, never an edit of it: it is not on the undo stack and a saved design holds
its layers, not its folds."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.graph.blocks import Fold, find_folds


class FoldState(QObject):
    """Whether repeated blocks are folded, and which folds the user opened (by id, so an
    open fold stays open across edits that keep it)."""

    sig_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.enabled = False
        self.expanded: set[str] = set()
        self.folds: list[Fold] = []

    def update(self, analysis) -> list[Fold]:
        """The closed folds of this analysis (none when folding is off)."""
        self.folds = find_folds(analysis) if (self.enabled and analysis is not None) else []
        ids = {f.id for f in self.folds}
        self.expanded &= ids if self.enabled else set()
        return [f for f in self.folds if f.id not in self.expanded]

    def set_enabled(self, on: bool) -> None:
        if on != self.enabled:
            self.enabled = bool(on)
            self.expanded.clear()
            self.sig_changed.emit()

    def expand(self, fold_id: str) -> None:
        self.expanded.add(fold_id)
        self.sig_changed.emit()

    def collapse(self, fold_id: str) -> None:
        self.expanded.discard(fold_id)
        self.sig_changed.emit()

    def expand_all(self) -> None:
        self.expanded |= {f.id for f in self.folds}
        self.sig_changed.emit()

    def fold_of(self, name: str) -> Fold | None:
        return next((f for f in self.folds if name in f.nodes), None)


def fold_actions(parent, canvas):
    """The window's "Fold repeated blocks" switch (Ctrl+B) and "Expand all blocks"."""
    from PySide6.QtGui import QAction, QKeySequence

    from core.graph.blocks import RULE
    fold = QAction("&Fold Repeated Blocks", parent)
    fold.setCheckable(True)
    fold.setShortcut(QKeySequence("Ctrl+B"))
    fold.setToolTip("Fold repeated blocks (Ctrl+B): each run of identical blocks becomes "
                    "one node ×N with its summed params, MACs and bytes; double-click one "
                    "to expand it. A view only: the design keeps every layer.\n" + RULE)
    fold.setStatusTip("Fold each run of identical blocks into one node ×N")
    fold.toggled.connect(canvas.set_folding)
    expand = QAction("E&xpand All Blocks", parent)
    expand.setToolTip("Open every folded block in place (folding stays on)")
    expand.setStatusTip(expand.toolTip())
    expand.triggered.connect(canvas.expand_all)
    expand.setEnabled(False)
    fold.toggled.connect(expand.setEnabled)
    fold.setIconText("Fold blocks")
    return fold, expand
