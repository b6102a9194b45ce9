"""The run-history table: one row per run (core.training.run_history.history_table), a check box in
the first column to overlay that run on the plots, and row selection to choose which run
the results tabs and the checkpoint / ONNX exports use."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.training.run_history import HISTORY_HEADERS, RunRecord, history_table

TEXT_COLUMNS = {"model", "optimizer", "device", "status", "input", "output", "dataset"}


class HistoryTable(QTableWidget):
    """Rows of RunRecords; ``sig_overlays`` sends the checked records, ``sig_selected`` the
    index (RunRecord.index) of the selected run."""

    sig_overlays = Signal(object)  # list[RunRecord]
    sig_selected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(0, len(HISTORY_HEADERS), parent)
        self.records: list[RunRecord] = []
        self.setHorizontalHeaderLabels(["overlay #"] + list(HISTORY_HEADERS[1:]))
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.setToolTip("Every run of this session. Tick a run's box to overlay it on the "
                        "plots; select a row to see its confusion matrix, misclassified "
                        "images and drawing pad, and to export its checkpoint or ONNX.")
        self.itemChanged.connect(self._on_item_changed)
        self.itemSelectionChanged.connect(self._on_selection_changed)

    def add_record(self, record: RunRecord) -> None:
        self.records.append(record)
        table = history_table([record])
        r = self.rowCount()
        self.blockSignals(True)
        self.insertRow(r)
        for c, (header, value) in enumerate(zip(HISTORY_HEADERS, table.rows[0])):
            text = "—" if value is None or value == "" and header not in TEXT_COLUMNS \
                else table.cell(value, c)
            item = QTableWidgetItem(text)
            if header not in TEXT_COLUMNS:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            if c == 0:
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Unchecked)
                item.setToolTip("Overlay this run on the plots")
            self.setItem(r, c, item)
        self.blockSignals(False)
        self.scrollToBottom()

    def checked_records(self) -> list[RunRecord]:
        return [rec for row, rec in enumerate(self.records)
                if self.item(row, 0).checkState() == Qt.Checked]

    def set_overlay(self, index: int, on: bool) -> None:
        """Tick or untick the run whose RunRecord.index is ``index``."""
        for row, rec in enumerate(self.records):
            if rec.index == index:
                self.item(row, 0).setCheckState(Qt.Checked if on else Qt.Unchecked)

    def selected_record(self) -> RunRecord | None:
        rows = self.selectionModel().selectedRows()
        return self.records[rows[0].row()] if rows else None

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.sig_overlays.emit(self.checked_records())

    @Slot()
    def _on_selection_changed(self) -> None:
        record = self.selected_record()
        if record is not None:
            self.sig_selected.emit(record.index)
