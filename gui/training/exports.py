"""The Training workspace's Export menu: plots (PNG/SVG), the run table (CSV/MD/LaTeX),
the per-epoch histories (CSV) and everything (JSON), the selected run's checkpoint (.pt)
and ONNX, and "Open in Netron" when the netron package is installed.

Each action takes an optional path (tests and scripts pass one; the menu asks with a save
dialog). Results and problems go to the panel's status line, never to a modal box.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMenu

from gui.widgets.files import write_atomic, write_reported
from gui.widgets.netron import NetronLauncher, netron_available
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format



class TrainingExports(QObject):
    """Owns the Export menu of a TrainingPanel."""

    def __init__(self, panel):
        super().__init__(panel)
        self.panel = panel
        self.netron = NetronLauncher()  # its temporary folders go in cleanup()
        menu = self.menu = QMenu(panel)
        menu.addAction("Plots as PNG…", self.export_plots_png)
        menu.addAction("Plots as SVG…", self.export_plots_svg)
        menu.addSeparator()
        menu.addAction("Run table (CSV, Markdown, LaTeX)…", self.export_run_table)
        menu.addAction("Per-epoch histories as CSV…", self.export_epochs_csv)
        menu.addAction("All histories as JSON…", self.export_json)
        menu.addSeparator()
        self.checkpoint_action = menu.addAction("Checkpoint of the selected run (.pt)…",
                                                self.export_checkpoint)
        self.onnx_action = menu.addAction("ONNX of the selected run…", self.export_onnx)
        self.netron_action = menu.addAction("Open the selected run in Netron",
                                            self.open_in_netron)
        if not netron_available():
            self.netron_action.setEnabled(False)
            self.netron_action.setText("Open in Netron (install the netron package)")
        menu.aboutToShow.connect(self._update_actions)

    @Slot()
    def _update_actions(self) -> None:
        has_model = self.panel.selected_run() is not None
        for action in (self.checkpoint_action, self.onnx_action):
            action.setEnabled(has_model)
        self.netron_action.setEnabled(has_model and netron_available())

    def cleanup(self) -> None:
        """Remove the temporary folders of Netron exports (Netron has read them by now)."""
        self.netron.cleanup()

    # -- helpers -----------------------------------------------------------------------
    def _ask(self, title: str, name: str, filters: str) -> tuple[str, str]:
        folder = Path(self.panel.folder.text().strip() or Path.home())
        return QFileDialog.getSaveFileName(self.panel, title, str(folder / name), filters)

    def _write(self, path, writer: Callable[[Path], object], what: str) -> str | None:
        return write_reported(path, writer, what, self.panel.set_status)

    def _write_text(self, path, text: str, what: str) -> str | None:
        return self._write(path, lambda p: write_atomic(p, text), what)

    def _need_runs(self) -> bool:
        if not self.panel.history:
            self.panel.set_status("Nothing to export yet: train a model first.", error=True)
            return False
        return True

    def _model_of_selected(self):
        chosen = self.panel.selected_run()
        if chosen is None:
            self.panel.set_status("No trained model yet: train one first.", error=True)
            return None, None
        return chosen

    # -- plots -------------------------------------------------------------------------
    @Slot()
    def export_plots_png(self, path: str | None = None) -> str | None:
        return self._export_plots(path, ".png", "PNG image (*.png)")

    @Slot()
    def export_plots_svg(self, path: str | None = None) -> str | None:
        return self._export_plots(path, ".svg", "SVG image (*.svg)")

    def _export_plots(self, path, suffix: str, filters: str) -> str | None:
        path = path or self._ask("Export plots", f"training_plots{suffix}", filters)[0]
        if not path:
            return None
        if not path.lower().endswith(suffix):
            path += suffix
        return self._write(path, lambda p: self.panel.plots.export_image(str(p)), "plots")

    # -- tables ------------------------------------------------------------------------
    @Slot()
    def export_run_table(self, path: str | None = None) -> str | None:
        from core.common.tables import render
        from core.training.run_history import history_table
        if not self._need_runs():
            return None
        chosen = ""
        if path is None:
            path, chosen = self._ask("Export the run table", "training_runs.csv", TABLE_FILTER)
        if not path:
            return None
        path, fmt = table_path_and_format(path, chosen)
        return self._write_text(path, render(history_table(self.panel.history), fmt),
                                "run table")

    @Slot()
    def export_epochs_csv(self, path: str | None = None) -> str | None:
        from core.common.tables import to_csv
        from core.training.run_history import epochs_table
        if not self._need_runs():
            return None
        path = path or self._ask("Export per-epoch histories", "training_epochs.csv",
                                 "CSV (*.csv)")[0]
        if not path:
            return None
        return self._write_text(path, to_csv(epochs_table(self.panel.history)),
                                "per-epoch history")

    @Slot()
    def export_json(self, path: str | None = None) -> str | None:
        from core.training.run_history import histories_json
        if not self._need_runs():
            return None
        path = path or self._ask("Export histories", "training_history.json",
                                 "JSON (*.json)")[0]
        if not path:
            return None
        return self._write_text(path, histories_json(self.panel.history), "histories")

    # -- the selected model ------------------------------------------------------------
    @Slot()
    def export_checkpoint(self, path: str | None = None) -> str | None:
        record, results = self._model_of_selected()
        if record is None:
            return None
        name = f"{record.model}_run{record.index}.pt"
        path = path or self._ask("Save checkpoint", name, "PyTorch checkpoint (*.pt)")[0]
        if not path:
            return None
        extra = {"run": record.as_dict()}
        return self._write(path, lambda p: results.model.save_checkpoint(p, extra),
                           "checkpoint")

    @Slot()
    def export_onnx(self, path: str | None = None) -> str | None:
        record, results = self._model_of_selected()
        if record is None:
            return None
        name = f"{record.model}_run{record.index}.onnx"
        path = path or self._ask("Export ONNX", name, "ONNX (*.onnx)")[0]
        if not path:
            return None
        return self._write(path, results.model.export_onnx, "ONNX")

    @Slot()
    def open_in_netron(self) -> bool:
        """Export the selected run to a temporary ONNX file and open it with netron (in
        its own process, which serves the graph to the web browser)."""
        if not netron_available():
            self.panel.set_status("Netron is not installed: `pip install netron`.",
                                  error=True)
            return False
        record, _ = self._model_of_selected()
        if record is None:
            return False
        path = self.netron.open(self.export_onnx, f"{record.model}_run{record.index}.onnx")
        if path is None:
            return False
        self.panel.set_status(f"Opened {path} in Netron (it serves the graph to your "
                              f"browser).")
        return True
