"""The run-history table: one row per run (core.training.run_history.history_table), a check box in
the first column to overlay that run on the plots, and row selection to choose which run
the results tabs and the checkpoint / ONNX exports use. The run in progress has a last,
provisional row ("running · epoch k/N") that its final row replaces."""

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
        self.running_row: int | None = None  # the provisional row of the run in progress
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
        """A finished (or stopped, failed, loaded) run: it takes the running row's place."""
        self.clear_running()
        self.records.append(record)
        r = self.rowCount()
        self.blockSignals(True)
        self.insertRow(r)
        self._fill_row(r, record, final=True)
        self.blockSignals(False)
        self.scrollToBottom()

    def show_running(self, record: RunRecord) -> None:
        """Add or update the run in progress as the last row: not in ``records``, so it
        is neither overlaid, selected nor exported until add_record replaces it."""
        self.blockSignals(True)
        if self.running_row is None:
            self.running_row = self.rowCount()
            self.insertRow(self.running_row)
            self.scrollToBottom()
        self._fill_row(self.running_row, record, final=False)
        self.blockSignals(False)

    def clear_running(self) -> None:
        if self.running_row is not None:
            self.blockSignals(True)
            self.removeRow(self.running_row)
            self.blockSignals(False)
            self.running_row = None

    def _fill_row(self, r: int, record: RunRecord, final: bool) -> None:
        table = history_table([record])
        for c, (header, value) in enumerate(zip(HISTORY_HEADERS, table.rows[0])):
            text = "—" if value is None or value == "" and header not in TEXT_COLUMNS \
                else table.cell(value, c)
            item = QTableWidgetItem(text)
            if header not in TEXT_COLUMNS:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            if c == 0 and final:
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Unchecked)
                item.setToolTip("Overlay this run on the plots")
            elif not final:
                item.setFlags(Qt.ItemIsEnabled)  # not selectable: it has no results yet
                item.setToolTip("The run in progress: this row becomes its final row when "
                                "it ends")
            self.setItem(r, c, item)

    def checked_records(self) -> list[RunRecord]:
        return [rec for row, rec in enumerate(self.records)
                if self.item(row, 0).checkState() == Qt.Checked]

    def set_overlay(self, index: int, on: bool) -> None:
        """Tick or untick the run whose RunRecord.index is ``index``."""
        for row, rec in enumerate(self.records):
            if rec.index == index:
                self.item(row, 0).setCheckState(Qt.Checked if on else Qt.Unchecked)

    def selected_record(self) -> RunRecord | None:
        rows = [i.row() for i in self.selectionModel().selectedRows()
                if i.row() < len(self.records)]
        return self.records[rows[0]] if rows else None

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.sig_overlays.emit(self.checked_records())

    @Slot()
    def _on_selection_changed(self) -> None:
        record = self.selected_record()
        if record is not None:
            self.sig_selected.emit(record.index)
