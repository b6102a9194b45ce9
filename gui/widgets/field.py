"""A form row whose editor has its error message right beneath it (never a dialog)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

ERROR_STYLE = "color: #d63031;"


def add_field_row(form: QFormLayout, label: str, editor: QWidget) -> QLabel:
    """Add ``editor`` to ``form`` under ``label`` with a hidden, word-wrapped error label
    below it; returns the error label (setText + show/hide it)."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(1)
    layout.addWidget(editor)
    error = QLabel()
    error.setWordWrap(True)
    error.setStyleSheet(ERROR_STYLE)
    error.hide()
    layout.addWidget(error)
    form.addRow(label, holder)
    return error
