"""A core Table shown in a QTableWidget with an export button (CSV, Markdown, LaTeX)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from core.common.tables import Table, render

from gui.widgets.files import write_atomic
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format


class ExportableTable(QWidget):
    """``message(text)`` reports what an export did; ``row_clicked(row)`` a selected row."""

    message = Signal(str)
    row_clicked = Signal(int)

    def __init__(self, file_stem: str, tip: str, parent=None):
        super().__init__(parent)
        self.file_stem = file_stem
        self.model: Table | None = None
        self.title = QLabel()
        self.view = QTableWidget()
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.setWordWrap(False)
        self.view.setToolTip(tip)
        self.view.itemSelectionChanged.connect(self._selected)
        self.export_button = QPushButton("Export table…")
        self.export_button.setToolTip("Save this table as CSV, Markdown or LaTeX (by the file "
                                      "type chosen)")
        self.export_button.clicked.connect(lambda: self.export())
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    def set_table(self, table: Table) -> None:
        self.model = table
        self.title.setText(table.title)
        view = self.view
        view.blockSignals(True)
        view.clearContents()
        view.setColumnCount(len(table.headers))
        view.setHorizontalHeaderLabels(table.headers)
        view.setRowCount(len(table.rows))
        for r, row in enumerate(table.rows):
            for c, value in enumerate(row):
                text = table.cell(value, c)
                item = QTableWidgetItem(text)
                if len(text) > 40:  # a long formula may be elided: hover shows it whole
                    item.setToolTip(text)
                if c in table.numeric:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                view.setItem(r, c, item)
        view.blockSignals(False)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)

    def select_row(self, row: int) -> None:
        self.view.blockSignals(True)
        self.view.selectRow(row)
        self.view.scrollToItem(self.view.item(row, 0))
        self.view.blockSignals(False)

    def _selected(self) -> None:
        rows = self.view.selectionModel().selectedRows()
        if rows:
            self.row_clicked.emit(rows[0].row())

    def export(self, path: str | None = None, chosen: str = "") -> str | None:
        if self.model is None:
            return None
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(
                self, "Export table", str(Path.home() / f"{self.file_stem}.csv"), TABLE_FILTER)
            if not path:
                return None
        target, fmt = table_path_and_format(path, chosen)
        try:
            write_atomic(target, render(self.model, fmt))
        except OSError as exc:
            self.message.emit(f"Cannot write {target}: {exc.strerror or exc}")
            return None
        self.message.emit(f"Wrote {target}")
        return str(target)
