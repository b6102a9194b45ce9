"""The mapping being edited, with its own undo stack: every edit of the Mapping tab is one
QUndoCommand holding the old and the new Mapping (frozen core values, no Qt objects), so
undo restores the mapping exactly."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from gui.dataflow.mapping_edits import move_loop, set_factor, set_spatial, toggle_bypass


class SetMappingCommand(QUndoCommand):
    """Replace the whole mapping (an edit, a load, a textbook or a search result)."""

    def __init__(self, document: "MappingDocument", old, new, text: str):
        super().__init__(text)
        self.document, self.old, self.new = document, old, new

    def redo(self) -> None:
        self.document._set(self.new)

    def undo(self) -> None:
        self.document._set(self.old)


class MappingDocument(QObject):
    """The mapping, the layer's extents it must multiply to, and the tab's undo stack."""

    sig_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.mapping = None
        self.extents: dict[str, int] = {}
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)

    def _set(self, mapping) -> None:
        self.mapping = mapping
        self.sig_changed.emit()

    def reset(self, mapping, extents: dict[str, int]) -> None:
        """A new layer or hierarchy: start afresh (the old edits were for other extents)."""
        self.extents = dict(extents)
        self.undo_stack.clear()
        self._set(mapping)

    def replace(self, mapping, text: str) -> None:
        """An undoable replacement of the whole mapping (nothing when it is the same)."""
        if self.mapping is not None and mapping == self.mapping:
            return
        self.undo_stack.push(SetMappingCommand(self, self.mapping, mapping, text))

    # -- the editor's edits ------------------------------------------------------------------
    def move_loop(self, src_level: int, src_index: int, dst_level: int, dst_index: int) -> None:
        new = move_loop(self.mapping, src_level, src_index, dst_level, dst_index)
        loop = self.mapping.levels[src_level].loops[src_index]
        names = [level.name for level in self.mapping.levels]
        where = (f"to {names[dst_level]}" if dst_level != src_level
                 else f"within {names[src_level]}")
        self.replace(_edited(new), f"Move loop {loop.dim} {where}")

    def set_factor(self, level: int, index: int, factor: int) -> None:
        loop = self.mapping.levels[level].loops[index]
        if loop.factor == factor:
            return
        new = set_factor(self.mapping, level, index, factor, self.extents)
        self.replace(_edited(new), f"Factor of {loop.dim} at {self.mapping.levels[level].name}: {factor}")

    def set_spatial(self, level: int, index: int, spatial: str | None) -> None:
        loop = self.mapping.levels[level].loops[index]
        if loop.spatial == spatial:
            return
        new = set_spatial(self.mapping, level, index, spatial)
        self.replace(_edited(new), f"Unroll {loop.dim} over {spatial or 'time'}")

    def toggle_bypass(self, level: int, operand: str) -> None:
        name = self.mapping.levels[level].name
        verb = "Store" if operand in self.mapping.levels[level].bypass else "Bypass"
        self.replace(_edited(toggle_bypass(self.mapping, level, operand)), f"{verb} {operand} at {name}")


def _edited(mapping):
    """The name says the mapping is no longer the textbook nest or search result it was."""
    if not mapping.name or mapping.name.endswith("(edited)"):
        return mapping
    return replace(mapping, name=f"{mapping.name} (edited)")
