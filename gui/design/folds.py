"""Folded repeated blocks: the view state (folding on or off, which folds are open) that
the canvas (gui/design/canvas.py, BlockItem) and the Fold actions share, and the remembered
choice (FoldChoice: QSettings, automatic for designs over AUTO_FOLD_LAYERS layers). Folding is a view
of the design, never an edit of it: it is not on the undo stack and a saved design holds
its layers, not its folds."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from core.graph.blocks import Fold, find_folds

AUTO_FOLD_LAYERS = 100  # a design with more layers opens folded (resnet50, bert-base)
FOLD_SETTING = "view/fold_blocks"  # "on" or "off" once the user chose; absent: automatic


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


def fold_actions(parent, canvas, document=None, settings=None):
    """The window's "Fold repeated blocks" switch (Ctrl+B) and "Expand all blocks"; with
    a document and settings, the switch follows a FoldChoice (remembered, automatic for
    big designs)."""
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
    if document is not None and settings is not None:
        fold.choice = FoldChoice(fold, expand, canvas, document, settings)
    return fold, expand


class FoldChoice(QObject):
    """Whether a design opens folded. The user's last use of the switch is remembered
    (QSettings): "on" folds every design, "off" none. Until the user has chosen, a design
    of more than AUTO_FOLD_LAYERS layers opens folded and the status bar says so."""

    def __init__(self, action, expand, canvas, document, settings):
        super().__init__(action)
        self.action, self.expand, self.canvas = action, expand, canvas
        self.document = document
        self.settings = settings
        action.triggered.connect(self.remember)  # the user's clicks and Ctrl+B only
        document.sig_reset.connect(self.apply)
        self.apply(announce=False)

    def preference(self) -> str | None:
        value = self.settings.value(FOLD_SETTING)
        return value if value in ("on", "off") else None

    def remember(self, checked: bool) -> None:
        self.settings.setValue(FOLD_SETTING, "on" if checked else "off")

    def wanted(self, layers: int) -> bool:
        chosen = self.preference()
        return chosen == "on" if chosen else layers > AUTO_FOLD_LAYERS

    def apply(self, announce: bool = True) -> None:
        """Set the switch for the design just loaded, quietly: the canvas lays out the new
        design once, already folded (the window's reset handler syncs it next)."""
        layers = len(self.document.network.nodes)
        on = self.wanted(layers)
        state = self.canvas.scene_.folding
        if on != state.enabled:
            state.enabled = on
            state.expanded.clear()
            self.canvas.scene_._view_key = None  # lay the new design out as shown
        was = self.action.blockSignals(True)
        self.action.setChecked(on)
        self.action.blockSignals(was)
        self.expand.setEnabled(on)
        if announce and layers > AUTO_FOLD_LAYERS:
            QTimer.singleShot(0, lambda: self._announce(layers))

    def _announce(self, layers: int) -> None:
        folds = len(self.canvas.scene_.folding.folds)
        name = self.document.network.name or "This design"
        if self.canvas.scene_.folding.enabled and folds:
            text = (f"{name} ({layers:,} layers) opens with its {folds} run"
                    f"{'s' if folds != 1 else ''} of repeated blocks folded; Ctrl+B shows "
                    f"every layer")
        elif not self.canvas.scene_.folding.enabled:
            text = f"{name} ({layers:,} layers): Ctrl+B folds its repeated blocks"
        else:
            return
        self.canvas.sig_message.emit(text)
