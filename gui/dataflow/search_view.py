"""What the Dataflow views that run the mapper in the worker share (the Comparison tab's
best-per-dataflow view and the Network tab): the objective choice, a JobController wired to the
view's ``_event``/``_failed``/``_running``, a progress bar and Stop, the result table with its
export, a status line, and their layout. Subclasses say what they run and show."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QProgressBar,
                               QTableWidget, QToolButton, QVBoxLayout, QWidget)

from core.common.tables import Table
from core.dataflow.mapper import OBJECTIVES

from gui.widgets.table_view import export_table
from gui.widgets.worker import JobController


def tool_button(text: str, tooltip: str, slot, enabled: bool = True) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tooltip)
    button.setEnabled(enabled)
    button.clicked.connect(lambda: slot())
    return button


class SearchTableView(QWidget):
    """A table the mapper fills in the worker thread. ``export_name`` is the default file name
    of the table's export; ``current_table()`` (subclasses) gives the table shown, or None."""

    sig_message = Signal(str)

    def __init__(self, job_name: str, tips: dict[str, str], export_name: str, parent=None):
        super().__init__(parent)
        self.export_name = export_name
        self._stop_asked = False
        self.jobs = JobController(self)
        self.jobs.setObjectName(job_name)
        self.jobs.sig_event.connect(self._event)
        self.jobs.sig_error.connect(self._failed)
        self.jobs.sig_running.connect(self._running)
        self.objective_box = QComboBox()
        for objective in OBJECTIVES:
            self.objective_box.addItem(f"min {objective}", objective)
        self.objective_box.setCurrentIndex(self.objective_box.findData("energy"))
        self.objective_box.setToolTip(tips["objective"])
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setToolTip(tips["progress"])
        self.stop_button = tool_button("Stop", tips["stop"], self.stop, enabled=False)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setToolTip(tips["table"])
        self.export_button = tool_button(
            "Export table…", "Save this table as CSV, Markdown or LaTeX (by the file's extension)",
            self.export_table)
        self.status = QLabel()
        self.status.setToolTip(tips["status"])

    def lay_out(self, caption: QLabel, extra=(), margin: int = 0) -> None:
        """objective [extra] progress Stop / caption / table / status Export."""
        bar = QHBoxLayout()
        bar.addWidget(QLabel("objective"))
        bar.addWidget(self.objective_box)
        for widget in extra:
            bar.addWidget(widget)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.stop_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.addLayout(bar)
        layout.addWidget(caption)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    @property
    def objective(self) -> str:
        return self.objective_box.currentData()

    def current_table(self) -> Table | None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop_asked = True
        self.jobs.stop()

    def is_running(self) -> bool:
        return self.jobs.is_running()

    def export_table(self, path: str | None = None) -> str | None:
        written, message = export_table(self, self.current_table(), self.export_name, path)
        if message:
            self._say(message)
        return written

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.sig_message.emit(text)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self.jobs.shutdown(timeout_ms)

    def _event(self, event) -> None:
        raise NotImplementedError

    def _failed(self, message: str) -> None:
        raise NotImplementedError

    def _running(self, running: bool) -> None:
        raise NotImplementedError
