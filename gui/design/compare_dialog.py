"""Two designs side by side: per-layer parameters and operations, matched by layer name,
with the reduction of the second against the first."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QLabel,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from core.graph.analysis import Analysis
from core.graph.dsconv import compare_designs

METRICS = ("params", "macs", "mul", "add")


def _text(value) -> str:
    return "" if value is None else f"{value:,}"


class CompareDialog(QDialog):
    def __init__(self, first: Analysis, second: Analysis, parent=None):
        super().__init__(parent)
        a, b = first.network.name, second.network.name
        self.setWindowTitle(f"Compare {a} with {b}")
        self.rows = compare_designs(first, second)
        headers = ["layer"]
        for key in METRICS:
            headers += [f"{key} ({a})", f"{key} ({b})", f"{key} saved"]
        self.table = QTableWidget(len(self.rows) + 1, len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        for r, row in enumerate(self.rows):
            self._fill(r, row["name"], [row[k] for k in METRICS])
        totals = []
        for key, ta, tb in (("params", first.totals.params, second.totals.params),
                            ("macs", first.totals.macs, second.totals.macs),
                            ("mul", first.totals.mul, second.totals.mul),
                            ("add", first.totals.add, second.totals.add)):
            totals.append((ta, tb, (1 - tb / ta) if ta else None))
        self._fill(len(self.rows), "total", totals)
        self.table.resizeColumnsToContents()
        summary = QLabel(f"Rows are matched by layer name; an empty cell means the layer is "
                         f"missing (or invalid) in that design. Total MACs: "
                         f"{first.totals.macs:,} → {second.totals.macs:,}.")
        summary.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(1000, 560)

    def _fill(self, row: int, name: str, triples) -> None:
        self.table.setItem(row, 0, QTableWidgetItem(name))
        col = 1
        for va, vb, saved in triples:
            for value in (_text(va), _text(vb), "" if saved is None else f"{saved:.1%}"):
                item = QTableWidgetItem(value)
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(row, col, item)
                col += 1
