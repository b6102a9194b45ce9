"""The "Past runs" tab: every run kept in the run store (earlier sessions, the command line,
other windows), with a filter, rename, tags, delete, and a box to overlay a run on the
plots beside this session's runs."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from core.common.errors import MlsysError
from core.training.run_history import RunRecord

HEADERS = ("overlay", "id", "run", "status", "started", "dataset", "test acc", "params",
           "tags")


def as_record(run) -> RunRecord:
    """A stored run (full, from RunStore.get) as the RunRecord the plots overlay."""
    import numpy as np
    epochs = run.summary.get("epochs") or run.epochs
    steps_per_epoch = max(1, len(run.batch_steps) // len(epochs)) if epochs else 1
    summary = dict(run.summary, epochs=epochs)
    return RunRecord(run.id, f"{run.name or run.model} (stored)", run.status, run.settings,
                     summary, steps_per_epoch=steps_per_epoch,
                     batch_steps=np.asarray(run.batch_steps, dtype=float),
                     batch_losses=np.asarray(run.batch_losses, dtype=float))


class PastRunsView(QWidget):
    """Lists the run store; ``sig_overlays(list[RunRecord])`` sends the ticked runs."""

    sig_overlays = Signal(object)

    def __init__(self, store_factory=None, parent=None):
        super().__init__(parent)
        self._store_factory = store_factory
        self.runs: list = []
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by model, name, status, dataset or tag")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemChanged.connect(self._on_item_changed)
        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot, tip in (("Refresh", self.refresh, "Read the run store again"),
                                ("Rename…", self.rename_selected, "Give the selected run a name"),
                                ("Tags…", self.tag_selected, "Comma-separated tags"),
                                ("Delete", self.delete_selected, "Remove the run from the store")):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, s=slot: s())
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._overlaid: dict[int, RunRecord] = {}

    def store(self):
        from core.training.run_store import RunStore
        return self._store_factory() if self._store_factory else RunStore()

    # -- reading -------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> bool:
        """Read the store again, keeping the selected run selected."""
        selected = self.selected_run()
        try:
            store = self.store()
            store.mark_interrupted()
            self.runs = store.list_runs()
        except MlsysError as exc:
            self.status.setText(f"Cannot read the run store: {exc}")
            return False
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for run in self.runs:
            self._add_row(run)
        self.table.blockSignals(False)
        self._apply_filter(self.filter.text())
        ids = [run.id for run in self.runs]
        if selected is not None and selected.id in ids:
            self.table.selectRow(ids.index(selected.id))
        self.status.setText(f"{len(self.runs)} runs in {store.path}")
        return True

    def _add_row(self, run) -> None:
        epochs = run.summary.get("epochs") or []
        acc = epochs[-1].get("test_acc") if epochs else None
        params = run.summary.get("params")
        values = ("", str(run.id), run.name or run.model, run.status,
                  time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)), run.dataset,
                  "—" if acc is None else f"{100 * acc:.2f} %",
                  "—" if params is None else f"{params:,}", ", ".join(run.tags))
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            if column == 0:
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked if run.id in self._overlaid else Qt.Unchecked)
                item.setToolTip("Overlay this run on the plots")
            self.table.setItem(row, column, item)

    @Slot(str)
    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for row, run in enumerate(self.runs):
            haystack = " ".join([run.model, run.name, run.status, run.dataset] + run.tags)
            self.table.setRowHidden(row, not all(w in haystack.lower() for w in words))

    def selected_run(self):
        rows = self.table.selectionModel().selectedRows()
        return self.runs[rows[0].row()] if rows else None

    # -- editing -------------------------------------------------------------------------
    def rename_selected(self, name: str | None = None) -> bool:
        run = self._need_selection()
        if run is None:
            return False
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename run", "Name:", text=run.name)
            if not ok:
                return False
        return self._edit(lambda store: store.rename(run.id, name.strip()))

    def tag_selected(self, tags: str | None = None) -> bool:
        run = self._need_selection()
        if run is None:
            return False
        if tags is None:
            tags, ok = QInputDialog.getText(self, "Tag run", "Tags (comma-separated):",
                                            text=", ".join(run.tags))
            if not ok:
                return False
        return self._edit(lambda store: store.set_tags(run.id, tags.split(",")))

    def delete_selected(self, confirm: bool = True) -> bool:
        run = self._need_selection()
        if run is None:
            return False
        if confirm and QMessageBox.question(
                self, "Delete run", f"Delete run {run.id} ({run.name or run.model}) from the "
                "run store? This cannot be undone.") != QMessageBox.Yes:
            return False
        self._overlaid.pop(run.id, None)
        done = self._edit(lambda store: store.delete(run.id))
        self.sig_overlays.emit(list(self._overlaid.values()))
        return done

    def _need_selection(self):
        run = self.selected_run()
        if run is None:
            self.status.setText("Select a run first.")
        return run

    def _edit(self, change) -> bool:
        try:
            change(self.store())
        except MlsysError as exc:
            self.status.setText(f"Cannot change the run store: {exc}")
            return False
        return self.refresh()

    # -- overlays ------------------------------------------------------------------------
    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        run = self.runs[item.row()]
        if item.checkState() == Qt.Checked:
            try:
                self._overlaid[run.id] = as_record(self.store().get(run.id))
            except MlsysError as exc:
                self.status.setText(f"Cannot read run {run.id}: {exc}")
                return
        else:
            self._overlaid.pop(run.id, None)
        self.sig_overlays.emit(list(self._overlaid.values()))
