"""Find a node by name or type (Ctrl+F): the matching, and the search field that cycles
through the matches and asks the window to jump to each."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QLineEdit


def find_nodes(network, text: str) -> list[str]:
    """Names of the nodes matching ``text`` (case-insensitive), best first: the exact name,
    names that start with it, names that contain it, then nodes whose type contains it;
    the network's order inside each group."""
    needle = text.strip().lower()
    if not needle:
        return []
    groups: list[list[str]] = [[], [], [], []]
    for name, node in network.nodes.items():
        lower = name.lower()
        if lower == needle:
            groups[0].append(name)
        elif lower.startswith(needle):
            groups[1].append(name)
        elif needle in lower:
            groups[2].append(name)
        elif needle in node.type.lower():
            groups[3].append(name)
    return [name for group in groups for name in group]


class NodeSearch(QLineEdit):
    """Enter jumps to the next match (Shift+Enter to the previous); the completer offers
    node names and layer types."""

    sig_jump = Signal(str)
    sig_message = Signal(str)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.setPlaceholderText("Find layer (Ctrl+F)")
        self.setClearButtonEnabled(True)
        self.setToolTip("Find a layer by name or type; Enter jumps to the next match, "
                        "Shift+Enter to the previous")
        self.setMaximumWidth(240)
        self._words = QStringListModel(self)
        completer = QCompleter(self._words, self)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        completer.setFilterMode(Qt.MatchContains)
        completer.activated.connect(lambda text: self.jump(text, 0))
        self.setCompleter(completer)
        self._matches: list[str] = []
        self._index = -1
        self._for = None
        self.returnPressed.connect(self.next_match)

    def refresh_words(self) -> None:
        network = self.document.network
        types = sorted({node.type for node in network.nodes.values()})
        self._words.setStringList(list(network.nodes) + types)

    def focusInEvent(self, event):
        self.refresh_words()
        super().focusInEvent(event)

    def keyPressEvent(self, event):
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and event.modifiers() & Qt.ShiftModifier:
            self.next_match(step=-1)
            return
        super().keyPressEvent(event)

    def next_match(self, step: int = 1) -> str | None:
        text = self.text()
        key = (text, id(self.document.network), len(self.document.network))
        if key != self._for:
            self._for, self._index = key, -1 if step > 0 else 0
            self._matches = find_nodes(self.document.network, text)
        if not self._matches:
            self.sig_message.emit(f"No layer matches {text!r}" if text.strip() else "")
            return None
        self._index = (self._index + step) % len(self._matches)
        return self._emit()

    def jump(self, text: str, index: int) -> str | None:
        self._matches = find_nodes(self.document.network, text)
        self._for = (text, id(self.document.network), len(self.document.network))
        self._index = index
        return self._emit() if self._matches else None

    def _emit(self) -> str:
        name = self._matches[self._index]
        self.sig_jump.emit(name)
        self.sig_message.emit(f"{name}: match {self._index + 1} of {len(self._matches)}")
        return name
