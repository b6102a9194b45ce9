"""The Dataflow workspace's Network tab: the mapper's best mapping of every convolution and linear
layer of the Design workspace's network under each dataflow (core.dataflow.network's
map_network_steps, run in the worker thread) on the lab's hierarchy, tabulated per layer and in
total, with Stop, export, and a double-click that opens a layer in the lab."""

from __future__ import annotations

import html
import weakref

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel

from core.dataflow.network import ANY, NetworkMappingTable, NetworkProgress, map_network_steps

from gui.dataflow.search_view import SearchTableView, tool_button
from gui.widgets.table_view import fill_table


def _weak(source):
    """``source`` (a bound method of the window or the lab, or None) held weakly: a strong one
    would make a reference cycle through this child, and Python's cycle collector may then
    destroy the Qt objects from a worker thread, which deadlocks."""
    if source is None:
        return lambda: None
    if hasattr(source, "__self__"):
        method = weakref.WeakMethod(source)
        return lambda: (lambda m: None if m is None else m())(method())
    return source


class NetworkTab(SearchTableView):
    """``design_source()`` gives the network to map, ``hierarchy_source()`` the lab's hierarchy
    (None while the form is invalid). ``sig_open_layer(name, layer, mapping or None)`` asks the
    lab to open a layer (double-click on its row)."""

    sig_open_layer = Signal(str, object, object)

    def __init__(self, design_source=None, hierarchy_source=None, parent=None):
        super().__init__("network-mapping", {
            "objective": "What the mapper minimises for every layer (memory accesses, energy or "
                         "cycles); the best dataflow is the least total of it",
            "progress": "Searches done (layer × dataflow; repeated shapes are searched once)",
            "stop": "Stop: the layers searched so far stay in the table",
            "table": "Per layer and dataflow: the best mapping's energy, memory accesses and cycles, "
                     "then the totals per dataflow. Double-click a layer's row to open it in the lab "
                     "with that mapping in the Mapping tab",
            "status": "Result of the last export"}, "network_mapping.csv", parent)
        self.design_source = _weak(design_source)
        self.hierarchy_source = _weak(hierarchy_source)
        self.result: NetworkMappingTable | None = None
        self.run_button = tool_button(
            "Map network", "Search the best mapping of every Conv2d and Linear layer of the Design "
            "workspace's network under ws, is, os, rs and no constraint (any), on the buffers, PE "
            "array and energy costs of the form", self.run)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.summary = QLabel("Map network searches every layer of the design on the lab's hierarchy.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.summary.setToolTip("The best dataflow for the whole network (least total of the objective)")
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.lay_out(self.summary, extra=(self.run_button,), margin=2)

    # -- running ---------------------------------------------------------------------------------
    def run(self) -> bool:
        """Start mapping the design; False (with the reason shown) when it cannot start."""
        if self.jobs.is_running():
            return False
        design, hierarchy = self.design_source(), self.hierarchy_source()
        if design is None:
            self._say("No design to map: load or build a network in the Design workspace")
            return False
        if hierarchy is None:
            self._say("Fix the lab's form first: the hierarchy comes from its buffers, PE array and costs")
            return False
        objective = self.objective_box.currentData()
        self._stop_asked = False
        self.hierarchy = hierarchy
        self.progress.setRange(0, 0)
        self.summary.setText(f"Mapping {html.escape(getattr(design, 'name', '') or 'the design')}…")
        return self.jobs.start(lambda should_stop, _pause: map_network_steps(
            design, hierarchy, objective, stop=should_stop))

    def _running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.objective_box.setEnabled(not running)
        if not running and self.progress.maximum() == 0:
            self.progress.setRange(0, 1)

    def _event(self, event) -> None:
        if isinstance(event, NetworkProgress):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            self.progress.setFormat(f"{event.done} of {event.total}: {event.layer} {event.dataflow}, "
                                    f"{event.evaluated:,} mappings")
        elif isinstance(event, NetworkMappingTable):
            self.show_result(event)

    def _failed(self, message: str) -> None:
        self.summary.setText(html.escape(f"Cannot map the network: {message}"))
        self.sig_message.emit(f"Network mapping failed: {message}")

    def show_result(self, result: NetworkMappingTable) -> None:
        self.result = result
        self.progress.setRange(0, max(1, len(result.rows)))
        self.progress.setValue(len(result.rows))
        self.progress.setFormat(f"{len(result.rows)} rows, {result.searches} searches in {result.seconds:.1f} s"
                                + (" (stopped)" if result.stopped else ""))
        fill_table(self.table, result.table())
        best = result.best_dataflow()
        key = {"energy": "energy", "accesses": "memory_accesses", "cycles": "cycles"}[result.objective]
        totals = result.totals()
        parts = "; ".join(f"{df}: {t[key]:,.0f}" for df, t in totals.items() if t[key] is not None)
        text = (f"<b>{html.escape(result.network or 'network')}</b>: "
                + (f"best dataflow <b>{best}</b> (least total {result.objective}: {parts})" if best
                   else "no dataflow maps every layer")
                + f" on {result.pes} PEs.")
        if result.skipped:
            text += " Not mapped: " + html.escape("; ".join(f"{k}: {v}" for k, v in result.skipped.items()))
        if result.stopped:
            text += " <b>Stopped</b>: the layers not searched are missing."
        self.summary.setText(text)

    # -- rows ------------------------------------------------------------------------------------
    def open_row(self, row: int) -> bool:
        """Open row ``row``'s layer in the lab (with its best mapping when it has one)."""
        if self.result is None or not 0 <= row < len(self.result.rows):
            return False  # a totals row
        entry = self.result.rows[row]
        mapping = None if entry.result is None else entry.result.best
        if mapping is not None and entry.dataflow != ANY:
            mapping = mapping.with_name(f"best {entry.dataflow} for {entry.name}")
        self.sig_open_layer.emit(entry.name, entry.layer, mapping)
        return True

    def current_table(self):
        return None if self.result is None else self.result.table()
