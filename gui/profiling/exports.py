"""The Profiling workspace's Export menu: the batch, per-layer and layer-type tables
(CSV/Markdown/LaTeX), the latency/throughput plots and the roofline (PNG/SVG), the
summary (text), the profiled model as ONNX and "Open in Netron" when netron is installed.

Each action takes an optional path (tests pass one; the menu asks with a save dialog).
Results and problems go to the panel's status line, never to a modal box.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMenu

from gui.widgets.files import write_atomic, write_reported
from gui.widgets.netron import NetronLauncher, netron_available
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format


def export_onnx(network, path):
    """core.profiling.onnx_export.export_onnx (a name here, so tests can stand in)."""
    from core.profiling.onnx_export import export_onnx as export
    return export(network, path)


class ProfilingExports(QObject):
    """Owns the Export menu of a ProfilingPanel."""

    def __init__(self, panel):
        super().__init__(panel)
        self.panel = panel
        menu = self.menu = QMenu(panel)
        menu.addAction("Batch table (CSV, Markdown, LaTeX)…", self.export_batch_table)
        menu.addAction("Per-layer table (CSV, Markdown, LaTeX)…", self.export_layer_table)
        menu.addAction("Time by layer type (CSV, Markdown, LaTeX)…", self.export_group_table)
        menu.addSeparator()
        menu.addAction("Latency and throughput as PNG…", lambda: self.export_batch_plots(
            None, ".png"))
        menu.addAction("Latency and throughput as SVG…", lambda: self.export_batch_plots(
            None, ".svg"))
        menu.addAction("Roofline as PNG…", lambda: self.export_roofline(None, ".png"))
        menu.addAction("Roofline as SVG…", lambda: self.export_roofline(None, ".svg"))
        menu.addSeparator()
        menu.addAction("Summary as text…", self.export_summary)
        menu.addSeparator()
        menu.addAction("Profiled model as ONNX…", self.export_onnx)
        self.netron_action = menu.addAction("Open the profiled model in Netron",
                                            self.open_in_netron)
        if not netron_available():
            self.netron_action.setEnabled(False)
            self.netron_action.setText("Open in Netron (install the netron package)")
        self.netron = NetronLauncher()  # its temporary folders go in cleanup()

    def cleanup(self) -> None:
        """Remove the temporary folders of Netron exports (Netron has read them by now)."""
        self.netron.cleanup()

    # -- helpers -----------------------------------------------------------------------
    def _ask(self, title: str, name: str, filters: str) -> tuple[str, str]:
        return QFileDialog.getSaveFileName(self.panel, title, str(Path.home() / name), filters)

    def _write(self, path, writer: Callable[[Path], object], what: str) -> str | None:
        return write_reported(path, writer, what, self.panel.set_status)

    def _result(self, need_layers: bool = False):
        result = self.panel.result
        if result is None or not result.batches:
            self.panel.set_status("Nothing to export yet: run a profile first.", error=True)
            return None
        if need_layers and not result.layers:
            self.panel.set_status("No per-layer times yet: profile with 'per-layer times' "
                                  "or 'roofline' on.", error=True)
            return None
        return result

    def _table(self, path, make_table, need_layers: bool, name: str, what: str):
        from core.common.tables import render
        result = self._result(need_layers)
        if result is None:
            return None
        chosen = ""
        if path is None:
            path, chosen = self._ask(f"Export the {what}", name, TABLE_FILTER)
        if not path:
            return None
        path, fmt = table_path_and_format(path, chosen)
        text = render(make_table(result), fmt)
        return self._write(path, lambda p: write_atomic(p, text), what)

    def _image(self, path, suffix: str, widget, need_layers: bool, name: str, what: str):
        if self._result(need_layers) is None:
            return None
        filters = "SVG image (*.svg)" if suffix == ".svg" else "PNG image (*.png)"
        path = path or self._ask(f"Export the {what}", name + suffix, filters)[0]
        if not path:
            return None
        if not path.lower().endswith(suffix):
            path += suffix
        return self._write(path, lambda p: widget.export_image(str(p)), what)

    # -- actions -----------------------------------------------------------------------
    @Slot()
    def export_batch_table(self, path: str | None = None) -> str | None:
        from core.profiling.report import batch_table
        return self._table(path, batch_table, False, "profile_batches.csv", "batch table")

    @Slot()
    def export_layer_table(self, path: str | None = None) -> str | None:
        from core.profiling.report import layer_table
        return self._table(path, layer_table, True, "profile_layers.csv", "per-layer table")

    @Slot()
    def export_group_table(self, path: str | None = None) -> str | None:
        from core.profiling.report import group_table
        return self._table(path, group_table, True, "profile_layer_types.csv",
                           "layer-type table")

    def export_batch_plots(self, path: str | None = None, suffix: str = ".png"):
        if path and Path(path).suffix.lower() in (".png", ".svg"):
            suffix = Path(path).suffix.lower()
        return self._image(path, suffix, self.panel.batch_plots, False, "profile_batches",
                           "latency and throughput plots")

    def export_roofline(self, path: str | None = None, suffix: str = ".png"):
        if path and Path(path).suffix.lower() in (".png", ".svg"):
            suffix = Path(path).suffix.lower()
        return self._image(path, suffix, self.panel.roofline, True, "profile_roofline",
                           "roofline")

    @Slot()
    def export_summary(self, path: str | None = None) -> str | None:
        if self._result() is None:
            return None
        path = path or self._ask("Export the summary", "profile_summary.txt",
                                 "Text (*.txt)")[0]
        if not path:
            return None
        text = self.panel.summary.toPlainText() + "\n"
        return self._write(path, lambda p: write_atomic(p, text), "summary")

    @Slot()
    def export_onnx(self, path: str | None = None) -> str | None:
        """The profiled model (random weights, batch dynamic) as ONNX."""
        result = self._result()
        if result is None or result.network is None:
            return None
        path = path or self._ask("Export ONNX", f"{result.model}.onnx", "ONNX (*.onnx)")[0]
        if not path:
            return None
        self.panel.set_status(f"Exporting {result.model} to ONNX…")
        return self._write(path, lambda p: export_onnx(result.network, p), "ONNX")

    @Slot()
    def open_in_netron(self) -> bool:
        """Export to a temporary ONNX file and open it with netron in its own process."""
        if not netron_available():
            self.panel.set_status("Netron is not installed: `pip install netron`.",
                                  error=True)
            return False
        result = self._result()
        if result is None:
            return False
        path = self.netron.open(self.export_onnx, f"{result.model}.onnx")
        if path is None:
            return False
        self.panel.set_status(f"Opened {path} in Netron (it serves the graph to your "
                              f"browser).")
        return True
