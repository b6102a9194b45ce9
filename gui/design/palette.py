"""The layer palette: layer types grouped by category, with a filter box; drag to add."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QDrag, QIcon, QPixmap
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from core.graph.catalog import by_category

from gui.design.mime import layer_type_mime

TYPE_ROLE = Qt.UserRole + 1


def category_icon(category: str) -> QIcon:
    """A small swatch in the category's canvas colour."""
    from gui.design.canvas import CATEGORY_COLORS
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(CATEGORY_COLORS.get(category, "#7f8c8d")))
    return QIcon(pixmap)


class PaletteTree(QTreeWidget):
    """Tree of layer types whose leaves start a drag carrying the type name."""

    sig_activated = Signal(str)  # double-click: add the layer after the selection

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QTreeWidget.DragOnly)
        self.setRootIsDecorated(True)
        for category, kinds in by_category().items():
            if not kinds:
                continue
            group = QTreeWidgetItem(self, [category])
            group.setFlags(Qt.ItemIsEnabled)
            group.setIcon(0, category_icon(category))
            for kind in kinds:
                leaf = QTreeWidgetItem(group, [kind.name])
                leaf.setData(0, TYPE_ROLE, kind.name)
                leaf.setToolTip(0, f"<b>{kind.name}</b><br>{kind.doc}<br><i>Drag onto the "
                                   f"canvas, a node or an edge; double-click adds it after "
                                   f"the selection.</i>")
        self.expandAll()
        self.itemDoubleClicked.connect(self._double_clicked)

    def startDrag(self, actions):
        item = self.currentItem()
        type_name = item.data(0, TYPE_ROLE) if item else None
        if not type_name:
            return
        drag = QDrag(self)
        drag.setMimeData(layer_type_mime(type_name))
        drag.exec(Qt.CopyAction)

    def _double_clicked(self, item, _column):
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.sig_activated.emit(type_name)

    def apply_filter(self, text: str) -> None:
        text = text.strip().lower()
        for i in range(self.topLevelItemCount()):
            group = self.topLevelItem(i)
            visible = 0
            for j in range(group.childCount()):
                leaf = group.child(j)
                match = not text or text in leaf.text(0).lower() or text in group.text(0).lower()
                leaf.setHidden(not match)
                visible += match
            group.setHidden(visible == 0)


class PaletteWidget(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter layers…")
        self.filter.setClearButtonEnabled(True)
        self.filter.setToolTip("Type part of a layer or category name")
        self.tree = PaletteTree()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree)
        self.filter.textChanged.connect(self.tree.apply_filter)

    def longest_name(self) -> str:
        """The longest layer type name (the dock is never narrower than it needs)."""
        return max((kind.name for kinds in by_category().values() for kind in kinds),
                   key=len, default="Linear")
