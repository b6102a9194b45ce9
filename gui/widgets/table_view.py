"""A core.common.tables.Table shown in a QTableWidget and saved as CSV/Markdown/LaTeX (the
format from the file's suffix or the dialog's filter) — shared by the Dataflow lab's
best-per-dataflow view and Network tab and the Pipeline lab's comparison."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QHeaderView, QTableWidget, QTableWidgetItem

from core.common.tables import Table, render

from gui.widgets.files import write_atomic
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format


def fill_table(widget: QTableWidget, table: Table, tips: dict[int, str] | None = None,
               missing: str = "—", tip_every_cell: bool = False) -> None:
    """Show ``table`` in ``widget`` (``missing`` for missing values, numbers right-aligned, the
    last column stretched and its text also as tooltip, or every cell's with
    ``tip_every_cell``; ``tips`` row tooltips)."""
    widget.clear()
    widget.setColumnCount(len(table.headers))
    widget.setRowCount(len(table.rows))
    widget.setHorizontalHeaderLabels(table.headers)
    for r, row in enumerate(table.rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem(table.cell(value, c) if value is not None else missing)
            if c in table.numeric:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            if tip_every_cell:
                item.setToolTip(item.text())
            elif c == len(row) - 1 or (tips and r in tips):
                item.setToolTip((tips or {}).get(r) or str(value if value is not None else ""))
            widget.setItem(r, c, item)
    widget.resizeColumnsToContents()
    if table.headers:
        widget.horizontalHeader().setSectionResizeMode(len(table.headers) - 1, QHeaderView.Stretch)


def export_table(parent, table: Table | None, default_name: str, path: str | None = None) -> tuple[str | None, str]:
    """Write ``table`` to ``path`` (asked with a save dialog when None): (path or None, message)."""
    if table is None:
        return None, "Nothing to export yet"
    chosen = ""
    if path is None:
        path, chosen = QFileDialog.getSaveFileName(parent, "Export table", str(Path.home() / default_name),
                                                   TABLE_FILTER)
        if not path:
            return None, ""
    target, fmt = table_path_and_format(path, chosen)
    try:
        write_atomic(target, render(table, fmt))
    except OSError as exc:
        return None, f"Cannot write {target}: {exc.strerror or exc}"
    return str(target), f"Wrote {target}"
