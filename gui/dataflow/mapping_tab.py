"""The Dataflow workspace's Mapping tab: a mapping (loop order and tile factors per storage
level) edited by dragging loops and changing factors, with its per-level counts, energy
breakdown, cycles and utilisation recomputed on every edit (core.dataflow.mapping_eval is the
only source of numbers); textbook mappings and the mapper's best as starting points; "Find
best" in a worker thread with a progress bar, Stop and the energy–cycles Pareto front (a
click loads that mapping); JSON load/save and the counts table's export. Every edit is
undoable on the tab's own stack (Ctrl+Z / Ctrl+Shift+Z while the tab has the focus).
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout,
                               QHeaderView, QLabel, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QTabWidget, QTextBrowser, QTextEdit,
                               QToolButton, QVBoxLayout, QWidget)

from core.common.errors import MlsysError, printable
from core.common.files import read_text_bounded
from core.common.tables import Table, render
from core.dataflow import DATAFLOW_NAMES, DATAFLOWS, LEVEL_NAMES, LEVELS
from core.dataflow.layer import OPERANDS, Buffers
from core.dataflow.mapping import DIM_EXTENTS, Mapping
from core.dataflow.mapping_eval import Overflow, evaluate, validate
from core.dataflow.textbook import textbook_mapping

from gui.dataflow.mapping_document import MappingDocument
from gui.dataflow.mapping_edits import all_in_memory
from gui.dataflow.mapping_editor import MappingEditorWidget
from gui.dataflow.views import fixed_font
from gui.widgets.field import ERROR_STYLE
from gui.widgets.files import export_widget, write_atomic, write_reported
from gui.widgets.plots import plain_axes
from gui.widgets.table_files import TABLE_FILTER, table_path_and_format
from gui.widgets.worker import JobController

COUNT_KEYS = (("reads", "reads"), ("writes", "writes"), ("fills", "fills"),
              ("psum_reads", "psum reads"), ("updates", "updates"), ("forwards", "forwards"))
LEVEL_TITLES = {"memory": "Memory (DRAM)", "buffer": "Global buffer", "registers": "PE registers"}
PARETO_BRUSH, CURRENT_BRUSH = "#1c7ed6", "#e8590c"
REGISTER_DEFAULTS = (12, 224, 24)  # Eyeriss's per-PE scratch pads (input, weight, psum)


def mapper_module():
    """core.dataflow.mapper when it exists (the search is built beside this tab)."""
    try:
        from core.dataflow import mapper
    except ImportError:
        return None
    return mapper if hasattr(mapper, "search_steps") else None


def tile_sizes_of(mapping, layer, hierarchy, problems) -> dict[str, dict[str, tuple]]:
    """level -> operand -> (elements the level's tile holds, capacity or None)."""
    try:
        from core.dataflow.mapping_eval import tile_sizes
    except ImportError:
        tile_sizes = None
    sizes = {}
    if tile_sizes is not None:
        try:
            sizes = tile_sizes(mapping, layer, hierarchy)
        except Exception:  # noqa: BLE001 - the bars then show what validate() says
            sizes = {}
    out = {}
    for level in hierarchy.level_names:
        if level == "memory":
            continue
        out[level] = {op: (sizes.get(level, {}).get(op), hierarchy.capacity(level, op))
                      for op in OPERANDS}
    for problem in problems:
        if isinstance(problem, Overflow) and problem.level in out:
            out[problem.level][problem.operand] = (problem.needed, problem.capacity)
    return out


def counts_table(cost, title: str = "") -> Table:
    """The per-level, per-operand counts of an evaluated mapping (elements)."""
    table = Table(["level", "operand"] + [label for _key, label in COUNT_KEYS], title=title,
                  numeric=set(range(2, 2 + len(COUNT_KEYS))))
    for level, per_op in cost.counts.items():
        for op in OPERANDS:
            if op in per_op:
                c = per_op[op]
                table.rows.append([level, op] + [int(getattr(c, key, 0)) for key, _l in COUNT_KEYS])
    return table


@lru_cache(maxsize=1)
def _count_axis_class():  # pyqtgraph is imported when the tab is built, not at start-up
    import pyqtgraph as pg

    class CountAxis(pg.AxisItem):
        """Ticks as whole numbers with thousands separators (not 8.5e+06)."""

        def tickStrings(self, values, scale, spacing):
            if spacing < 1:
                return super().tickStrings(values, scale, spacing)
            return [f"{v * scale:,.0f}" for v in values]
    return CountAxis


def CountAxisItem(orientation: str):  # noqa: N802 - builds a Qt item
    return _count_axis_class()(orientation)


def assumptions_html() -> str:
    from core.dataflow import MAPPING_ASSUMPTIONS, TEXTBOOK_ASSUMPTIONS
    items = lambda texts: "".join(f"<li>{_esc(t)}</li>" for t in texts)  # noqa: E731
    return (f"<p><b>Mappings</b></p><ul>{items(MAPPING_ASSUMPTIONS)}</ul>"
            f"<p><b>Textbook mappings and dataflow constraints</b></p><ul>{items(TEXTBOOK_ASSUMPTIONS)}</ul>"
            "<p><b>Editing</b></p><ul><li>Changing a factor keeps the product of its dimension equal to "
            "the dimension's size: the memory level's loop of that dimension takes the remainder (the "
            "level below when the memory loop itself was changed); other loops of the dimension keep "
            "what still divides.</li><li>The animation plays the memory ↔ buffer traffic of the "
            "mapping (its memory-level loops as the steps); the counts here cover every level.</li></ul>")


class MappingTab(QWidget):
    """Edit one mapping of the lab's layer on its hierarchy; ``set_problem`` loads a layer."""

    sig_message = Signal(str)
    sig_animate = Signal(object)   # a valid mapping the animation should play (None: stop)
    sig_evaluated = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.StrongFocus)
        self.layer = self.hierarchy = self.base_hierarchy = None
        self.cost = None
        self.problems: list = []
        self.result = None          # the last SearchResult shown on the Pareto plot
        self.pareto_points: list = []
        self.document = MappingDocument(self)
        self.document.sig_changed.connect(self.refresh)
        self.jobs = JobController(self)
        self.jobs.setObjectName("mapping-search")
        self.jobs.sig_event.connect(self._search_event)
        self.jobs.sig_error.connect(self._search_failed)
        self.jobs.sig_running.connect(self._search_running)
        self.jobs.sig_finished.connect(self._search_finished)
        self._stop_requested = False
        self.mapper = mapper_module()
        self.editor = MappingEditorWidget()
        self.editor.sig_move.connect(self._move)
        self.editor.sig_factor.connect(self.document.set_factor)
        self.editor.sig_spatial.connect(self.document.set_spatial)
        self.editor.sig_bypass.connect(self.document.toggle_bypass)
        top = self._build_bar()
        results = self._build_results()
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.editor)
        split.addWidget(results)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([470, 530])
        split.setChildrenCollapsible(False)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(ERROR_STYLE)
        self.problem_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.problem_label)
        layout.addWidget(split, 1)

    # -- building ------------------------------------------------------------------------------
    def _tool(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _build_bar(self) -> QVBoxLayout:
        self.start_box = QComboBox()
        for df in DATAFLOWS:
            self.start_box.addItem(f"textbook {df}", f"textbook:{df}")
        if self.mapper is not None:
            for df in DATAFLOWS:
                self.start_box.addItem(f"mapper's best {df}", f"best:{df}")
            self.start_box.addItem("mapper's best (any)", "best:")
        self.start_box.setToolTip(
            "Load a starting mapping (undoable): a textbook nest (today's fixed dataflows as "
            "mappings) or the mapper's best within a dataflow (runs the search)")
        self.start_box.activated.connect(self._start_chosen)
        self.undo_button = self._tool("Undo", "Undo the last mapping edit (Ctrl+Z)", self.document.undo_stack.undo)
        self.redo_button = self._tool("Redo", "Redo (Ctrl+Shift+Z)", self.document.undo_stack.redo)
        self.document.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.document.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        load = self._tool("Load…", "Load a mapping from a JSON file", self.load_dialog)
        save = self._tool("Save…", "Save this mapping as JSON (for mlsys-studio dataflow --mapping)",
                          self.save_dialog)
        self.animate_box = QCheckBox("Animate")
        self.animate_box.setToolTip("The Animation tab plays this mapping (its memory ↔ buffer "
                                    "traffic, step by step) instead of the dataflow's fixed nest")
        self.animate_box.toggled.connect(self._animate_toggled)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Start from"))
        row1.addWidget(self.start_box)
        row1.addWidget(self.undo_button)
        row1.addWidget(self.redo_button)
        row1.addWidget(load)
        row1.addWidget(save)
        row1.addWidget(self.animate_box)
        self.within_box = QComboBox()
        self.within_box.addItem("any dataflow", None)
        for df in DATAFLOWS:
            self.within_box.addItem(f"within {df}", df)
        self.within_box.setToolTip("Search every mapping, or only those a dataflow allows "
                                   "(which operand stays in the buffer while which loops run)")
        self.objective_box = QComboBox()
        for objective in getattr(self.mapper, "OBJECTIVES", ("energy",)):
            self.objective_box.addItem(f"min {objective}", objective)
        self.objective_box.setCurrentIndex(max(0, self.objective_box.findData("energy")))
        self.objective_box.setToolTip("What the search minimises (memory accesses, energy or cycles)")
        self.find_button = QPushButton("Find best")
        self.find_button.setToolTip("Search loop orders × tile factors × unrollings for this layer "
                                    "and hierarchy (in the background); the best mapping is loaded "
                                    "and the energy–cycles Pareto front plotted")
        self.find_button.clicked.connect(self.find_best)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the search (within a second); what it found so far is "
                                    "shown when the mapper reports it")
        self.stop_button.clicked.connect(self.stop_search)
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setToolTip("Mappings evaluated so far")
        self.progress.setFormat("0 evaluated")
        self.progress.setMinimumWidth(120)
        self.progress.setValue(0)
        for widget in (self.within_box, self.objective_box, self.find_button):
            widget.setEnabled(self.mapper is not None)
        if self.mapper is None:
            self.find_button.setToolTip("The mapper (core.dataflow.mapper) is not available in this build")
        row2 = QHBoxLayout()
        row2.addWidget(self.within_box)
        row2.addWidget(self.objective_box)
        row2.addWidget(self.find_button)
        row2.addWidget(self.stop_button)
        row2.addWidget(self.progress, 1)
        self.status = QLabel()
        self.status.setToolTip("What the last action did")
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(80)
        row1.addWidget(self.status, 1)
        bar = QVBoxLayout()
        bar.setSpacing(2)
        bar.addLayout(row1)
        bar.addLayout(row2)
        bar.addLayout(self._build_registers())
        return bar

    def _build_registers(self) -> QHBoxLayout:
        """Optional per-PE registers: a third storage level below the buffer."""
        self.registers_box = QCheckBox("PE registers")
        self.registers_box.setToolTip("Add a register level inside each PE (below the global "
                                      "buffer), with these capacities per operand, in elements")
        self.register_fields = {}
        row = QHBoxLayout()
        row.addWidget(self.registers_box)
        for op, default in zip(OPERANDS, REGISTER_DEFAULTS):
            box = QSpinBox()
            box.setRange(1, 1_000_000)
            box.setValue(default)
            box.setPrefix(f"{op} ")
            box.setKeyboardTracking(False)
            box.setToolTip(f"Register capacity per PE for the {op} operand, in elements "
                           "(Eyeriss: 12 input, 224 weight, 24 partial sums)")
            box.valueChanged.connect(self._registers_changed)
            row.addWidget(box)
            self.register_fields[op] = box
        self.registers_box.toggled.connect(self._registers_changed)
        self.bandwidth_box = QSpinBox()
        self.bandwidth_box.setRange(0, 1_000_000_000)
        self.bandwidth_box.setSpecialValueText("DRAM bandwidth ∞")
        self.bandwidth_box.setPrefix("DRAM ")
        self.bandwidth_box.setSuffix(" elements/cycle")
        self.bandwidth_box.setKeyboardTracking(False)
        self.bandwidth_box.setToolTip("Memory bandwidth in elements per cycle (0: unlimited). When set, "
                                      "cycles = max(compute cycles, memory accesses / bandwidth)")
        self.bandwidth_box.valueChanged.connect(self._registers_changed)
        row.addSpacing(8)
        row.addWidget(self.bandwidth_box)
        row.addStretch(1)
        return row

    def hierarchy_with_registers(self, base):
        """The form's hierarchy, with the register level when it is switched on and the
        memory bandwidth when one is set."""
        if base is None:
            return base
        if self.registers_box.isChecked():
            base = replace(base, registers=Buffers(*(self.register_fields[op].value() for op in OPERANDS)))
        if self.bandwidth_box.value():
            base = replace(base, memory_bandwidth=self.bandwidth_box.value())
        return base

    def _registers_changed(self, *_args) -> None:
        if self.layer is not None and self.base_hierarchy is not None:
            self.set_problem(self.layer, self.base_hierarchy)

    def _build_results(self) -> QWidget:
        import pyqtgraph as pg
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setToolTip("The mapping's MACs, cycles, PE utilisation, memory accesses and "
                                "energy by level (units of one MAC), from evaluate()")
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setToolTip(
            "Per level and operand, in elements: reads = read out of this level by the level "
            "below (or the MACs); writes = written into it from below (outputs, partial sums); "
            "fills = written into it from the level above; psum reads = partial sums read back "
            "out of it; updates = outputs it writes back up; forwards = inter-PE transfers of "
            "the fan-out below it (multicast, spatial reduction)")
        export = self._tool("Export counts…", "Save the counts table as CSV, Markdown or LaTeX",
                            self.export_table)
        counts_page = QWidget()
        counts_layout = QVBoxLayout(counts_page)
        counts_layout.setContentsMargins(2, 2, 2, 2)
        counts_layout.addWidget(self.summary)
        counts_layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(export)
        counts_layout.addLayout(row)
        self.plot = pg.PlotWidget(axisItems={"left": CountAxisItem("left"),
                                             "bottom": CountAxisItem("bottom")})
        self.plot.getViewBox().setDefaultPadding(0.08)
        self.plot.setLabel("bottom", "cycles")
        self.plot.setLabel("left", "energy (MAC units)")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        plain_axes(self.plot)
        self.plot.setToolTip("The energy–cycles Pareto front of the last search: click a point "
                             "to load that mapping into the editor and the animation "
                             "(orange: the mapping in the editor)")
        self.scatter = pg.ScatterPlotItem(size=11, pen=pg.mkPen("#343a40"), hoverable=True,
                                          hoverSize=14)
        self.scatter.sigClicked.connect(self._point_clicked)
        self.plot.addItem(self.scatter)
        save_plot = self._tool("Save plot…", "Save the Pareto plot as PNG or SVG", self.export_plot)
        self.pareto_label = QLabel("Run Find best to see the energy–cycles trade-off.")
        self.pareto_label.setWordWrap(True)
        pareto_page = QWidget()
        pareto_layout = QVBoxLayout(pareto_page)
        pareto_layout.setContentsMargins(2, 2, 2, 2)
        self.plot_holder = QWidget()  # exported whole: a bare PlotWidget cannot render to SVG
        holder_layout = QVBoxLayout(self.plot_holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        holder_layout.addWidget(self.plot)
        pareto_layout.addWidget(self.plot_holder, 1)
        prow = QHBoxLayout()
        prow.addWidget(self.pareto_label, 1)
        prow.addWidget(save_plot)
        pareto_layout.addLayout(prow)
        self.nest_text = QTextEdit()
        self.nest_text.setReadOnly(True)
        self.nest_text.setLineWrapMode(QTextEdit.NoWrap)
        self.nest_text.setFont(fixed_font())
        self.nest_text.setToolTip("The mapping as a loop nest (outermost first)")
        self.result_tabs = QTabWidget()
        self.result_tabs.addTab(counts_page, "Counts")
        self.result_tabs.addTab(pareto_page, "Pareto front")
        self.result_tabs.addTab(self.nest_text, "Loop nest")
        self.result_tabs.setTabToolTip(0, "Counts per level and operand, energy, cycles")
        self.result_tabs.setTabToolTip(1, "Energy against cycles of the Pareto-optimal mappings found")
        self.result_tabs.setTabToolTip(2, "The edited mapping written as loops")
        self.assumptions = QTextBrowser()
        self.assumptions.setToolTip("What the counts, energy and cycles of a mapping assume")
        self.assumptions.setHtml(assumptions_html())
        self.result_tabs.addTab(self.assumptions, "Assumptions")
        self.result_tabs.setTabToolTip(3, "The conventions behind every number of this tab")
        return self.result_tabs

    # -- the problem --------------------------------------------------------------------------
    @property
    def mapping(self):
        return self.document.mapping

    def set_problem(self, layer, hierarchy) -> None:
        """A new layer or hierarchy from the form: keep the mapping when it still fits the
        layer's extents (only the hierarchy changed), else start from the chosen textbook."""
        self.base_hierarchy = hierarchy
        hierarchy = self.hierarchy_with_registers(hierarchy)
        extents = DIM_EXTENTS(layer)
        same_extents = self.layer is not None and DIM_EXTENTS(self.layer) == extents
        same_levels = (self.hierarchy is not None
                       and self.hierarchy.level_names == hierarchy.level_names)
        self.layer, self.hierarchy = layer, hierarchy
        if self.jobs.is_running():
            self.jobs.stop()
        if same_extents and same_levels and self.mapping is not None:
            self.refresh()
            return
        self._clear_pareto()
        kind, df = self.start_choice()
        self.document.reset(self._textbook(df if kind == "textbook" else "ws"), extents)

    def _textbook(self, dataflow: str):
        """The textbook mapping, or every loop at the memory level when it cannot be built."""
        try:
            return textbook_mapping(dataflow, self.layer, self.hierarchy)
        except MlsysError as exc:
            self._say(f"No textbook {dataflow} mapping here ({_short(str(exc), 160)}); "
                      "starting from every loop at the memory level", True)
            return all_in_memory(DIM_EXTENTS(self.layer), self.hierarchy.level_names)

    def load_mapping(self, mapping, text: str = "Load mapping") -> None:
        """Put ``mapping`` into the editor (undoable)."""
        self.document.replace(mapping, text)

    def start_choice(self) -> tuple[str, str | None]:
        """("textbook" or "best", the dataflow or None for any)."""
        kind, _sep, df = (self.start_box.currentData() or "textbook:ws").partition(":")
        return kind, df or None

    def _start_chosen(self, _index: int) -> None:
        if self.layer is None:
            return
        kind, df = self.start_choice()
        if kind == "textbook":
            try:
                mapping = textbook_mapping(df, self.layer, self.hierarchy)
            except MlsysError as exc:
                self._say(_short(str(exc), 200), True)
                return
            self.load_mapping(mapping, f"Textbook {df}")
            self._say(f"Loaded the textbook {DATAFLOW_NAMES[df]} mapping")
            return
        self.within_box.setCurrentIndex(max(0, self.within_box.findData(df)))
        self.find_best()

    def _move(self, src_level: int, src_index: int, dst_level: int, dst_index: int) -> None:
        self.document.move_loop(src_level, src_index, dst_level, dst_index)
        self.setFocus(Qt.OtherFocusReason)  # Ctrl+Z now undoes the move

    # -- evaluation -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Validate and evaluate the mapping and show everything (after every change)."""
        mapping, layer, hierarchy = self.mapping, self.layer, self.hierarchy
        if mapping is None or layer is None:
            return
        extents = self.document.extents
        titles = [self._level_title(level) for level in mapping.levels]
        self.editor.set_mapping(mapping, extents, titles)
        try:
            self.problems = list(validate(mapping, layer, hierarchy))
        except Exception as exc:  # noqa: BLE001 - a loaded file must never take the tab down
            self.problems = [f"cannot check this mapping: {exc or type(exc).__name__}"]
        by_level: dict[str, list[str]] = {}
        general = []
        for problem in self.problems:
            if isinstance(problem, Overflow):
                by_level.setdefault(problem.level, []).append(problem.message)
            else:
                general.append(str(problem))
        self.editor.set_occupancy(tile_sizes_of(mapping, layer, hierarchy, self.problems), by_level,
                                  {level.name: level.bypass for level in mapping.levels})
        self.problem_label.setText("Invalid mapping: " + " · ".join(general) if general else "")
        self.problem_label.setVisible(bool(general))
        self.cost = None
        if not self.problems:
            try:
                self.cost = evaluate(mapping, layer, hierarchy)
            except Exception as exc:  # noqa: BLE001 - shown as one line, never a traceback
                self.problems = [str(exc)]
                self.problem_label.setText(f"Cannot evaluate: {exc}")
                self.problem_label.show()
        self._show_cost()
        self.nest_text.setPlainText("\n".join(mapping.lines()))
        self._mark_current_point()
        if self.animate_box.isChecked() and self.cost is not None:
            self.sig_animate.emit(mapping)
        self.sig_evaluated.emit()

    def _level_title(self, level) -> str:
        title = f"<b>{LEVEL_TITLES.get(level.name, level.name)}</b>"
        if level.name == "memory":
            title += " — holds every operand"
        elif level.name not in self.hierarchy.level_names:
            title += " — <span style='color:#c92a2a'>not a level of this hierarchy</span>"
        else:
            caps = [f"{op} {self.hierarchy.capacity(level.name, op):,}" for op in OPERANDS]
            title += " — capacity " + " · ".join(caps) + (" per PE" if level.name == "registers" else "")
        if level.bypass:
            title += f" · bypass: {', '.join(sorted(level.bypass))}"
        return title

    def _show_cost(self) -> None:
        cost = self.cost
        self.table.clear()
        if cost is None:
            first = self.problems[0] if self.problems else None
            why = first.message if isinstance(first, Overflow) else str(first or "")
            self.summary.setText(f"<span style='{ERROR_STYLE}'><b>Not a valid mapping</b>: "
                                 f"{_esc(_short(why, 400))}</span>")
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            return
        table = self.table_model()
        self.table.setColumnCount(len(table.headers))
        self.table.setRowCount(len(table.rows))
        self.table.setHorizontalHeaderLabels([h.replace(" ", "\n") for h in table.headers])
        for r, row in enumerate(table.rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(table.cell(value, c))
                if c in table.numeric:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Stretch)
        for c in (0, 1):
            header.setSectionResizeMode(c, QHeaderView.ResizeToContents)
        e = cost.energy
        total = e.total or 1.0
        energy_rows = "".join(
            f"<tr><td>{LEVEL_NAMES[level]}</td><td align=right>{e.accesses[level]:,}</td>"
            f"<td align=right>× {e.costs[level]:g}</td><td align=right>{e.energy[level]:,.0f}</td>"
            f"<td align=right>{e.energy[level] / total:.0%}</td></tr>"
            for level in LEVELS if e.accesses.get(level))
        self.summary.setText(
            f"<b>{_esc(self.mapping.name or 'edited mapping')}</b>: {cost.macs:,} MACs · "
            f"<b>{cost.cycles:,} cycles</b>{self._cycles_note(cost)} · utilisation {cost.utilisation:.1%} · "
            f"memory accesses {cost.memory_accesses:,} · <b>energy {e.total:,.0f}</b>"
            f"<table cellspacing=6><tr><th align=left>level</th><th>accesses</th><th>cost</th>"
            f"<th>energy</th><th>share</th></tr>{energy_rows}</table>")

    @staticmethod
    def _cycles_note(cost) -> str:
        memory = getattr(cost, "memory_cycles", 0)
        if not memory:
            return ""
        return f" (compute {cost.compute_cycles:,}, memory {memory:,})"

    def table_model(self) -> Table:
        title = f"Counts of {self.mapping.name or 'the edited mapping'}"
        if self.layer is not None:
            title += f" on {self.layer.describe()}"
        return counts_table(self.cost, title) if self.cost is not None else Table(["level"], title=title)

    def shown_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """(level, operand) -> the counts as the table shows them (parsed back, for tests)."""
        out = {}
        headers = [self.table.horizontalHeaderItem(c).text().replace("\n", " ")
                   for c in range(self.table.columnCount())]
        for r in range(self.table.rowCount()):
            cells = [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            out[(cells[0], cells[1])] = {h: int(v.replace(",", "")) for h, v in zip(headers[2:], cells[2:])}
        return out

    # -- undo keys --------------------------------------------------------------------------------
    def event(self, event) -> bool:
        # The window's Ctrl+Z undoes the design; while this tab has the focus it undoes here.
        if event.type() == QEvent.ShortcutOverride and (
                event.matches(QKeySequence.Undo) or event.matches(QKeySequence.Redo)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.Undo):
            self.document.undo_stack.undo()
        elif event.matches(QKeySequence.Redo):
            self.document.undo_stack.redo()
        else:
            super().keyPressEvent(event)

    # -- search ----------------------------------------------------------------------------------
    def find_best(self) -> bool:
        """Run the mapper in the background; False when it cannot start."""
        if self.mapper is None or self.layer is None or self.jobs.is_running():
            return False
        layer, hierarchy = self.layer, self.hierarchy
        within, objective = self.within_box.currentData(), self.objective_box.currentData()
        search_steps = self.mapper.search_steps

        def events(should_stop, _should_pause):
            return search_steps(layer, hierarchy, dataflow=within, objective=objective,
                                stop=should_stop)
        self._search_for = (layer, hierarchy)
        self._stop_requested = False
        self.progress.setRange(0, 0)
        self.progress.setValue(0)
        self._say(f"Searching {'all mappings' if within is None else 'within ' + within} "
                  f"for the least {objective}…")
        return self.jobs.start(events)

    def _search_finished(self, last) -> None:
        if last is not None and not hasattr(last, "pareto"):
            done = getattr(last, "evaluated", 0)
            self._say(f"Search stopped after {done:,} mappings; nothing loaded")

    def _search_running(self, running: bool) -> None:
        self.find_button.setEnabled(not running and self.mapper is not None)
        self.stop_button.setEnabled(running)
        if not running and self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def _search_event(self, event) -> None:
        if hasattr(event, "pareto"):
            self._search_done(event)
            return
        total = getattr(event, "total", None)
        if total:
            self.progress.setRange(0, int(total))
        evaluated = int(getattr(event, "evaluated", 0))
        self.progress.setValue(min(evaluated, self.progress.maximum()) if self.progress.maximum() else 0)
        self.progress.setFormat(f"{evaluated:,} evaluated" + (f" of {total:,}" if total else ""))

    def _search_done(self, result) -> None:
        if getattr(self, "_search_for", None) != (self.layer, self.hierarchy):
            return  # the layer changed while it ran
        self.progress.setRange(0, max(1, int(result.evaluated)))
        self.progress.setValue(int(result.evaluated))
        self.progress.setFormat(f"{result.evaluated:,} evaluated")
        self.result = result
        self.pareto_points = list(result.pareto)
        self._draw_pareto()
        self.load_mapping(result.best, f"Best for {result.objective}")
        space = f" of {result.space_size:,}" if result.space_size else ""
        stopped = " (stopped early: best so far)" if getattr(result, "stopped", False) else ""
        self._say(f"Best for {result.objective}{stopped}: {result.evaluated:,}{space} mappings "
                  f"evaluated in {result.seconds:.2f} s; {len(self.pareto_points)} on the Pareto front")

    def stop_search(self) -> None:
        self._stop_requested = True
        self.jobs.stop()

    def _search_failed(self, message: str) -> None:
        if self._stop_requested:
            self._say(f"Search stopped: {_short(message, 200)}")
        else:
            self._say(f"Search failed: {_short(message, 200)}", True)

    def _clear_pareto(self) -> None:
        self.result, self.pareto_points = None, []
        self.scatter.setData([])
        self.pareto_label.setText("Run Find best to see the energy–cycles trade-off.")

    def _draw_pareto(self) -> None:
        import pyqtgraph as pg
        spots = [{"pos": (cost.cycles, cost.energy.total), "data": i,
                  "brush": pg.mkBrush(PARETO_BRUSH)}
                 for i, (_m, cost) in enumerate(self.pareto_points)]
        self.scatter.setData(spots)
        self.plot.enableAutoRange()
        self.pareto_label.setText(f"{len(spots)} Pareto-optimal mappings (fewest cycles for their "
                                  "energy); click one to load it")
        self._mark_current_point()

    def _mark_current_point(self) -> None:
        import pyqtgraph as pg
        if not self.pareto_points:
            return
        brushes = [pg.mkBrush(CURRENT_BRUSH if m.levels == self.mapping.levels else PARETO_BRUSH)
                   for m, _c in self.pareto_points]
        self.scatter.setBrush(brushes)

    def _point_clicked(self, _item, points, *_rest) -> None:
        if not len(points):
            return
        self.load_pareto_point(int(points[0].data()))

    def load_pareto_point(self, i: int) -> None:
        mapping, cost = self.pareto_points[i]
        if not mapping.name:
            mapping = replace(mapping, name=f"Pareto point {i + 1}")
        self.load_mapping(mapping, f"Pareto point {i + 1}")
        self._say(f"Loaded Pareto point {i + 1}: {cost.cycles:,} cycles, energy {cost.energy.total:,.0f}")
        self.animate_box.setChecked(True)
        self.sig_animate.emit(self.mapping)

    def show_animation_problem(self, message: str) -> None:
        """The animation cannot play this mapping (its counts here stay exact)."""
        self._say(f"The animation shows the dataflow instead: {_short(message, 220)}", True)

    def _animate_toggled(self, on: bool) -> None:
        self.sig_animate.emit(self.mapping if on and self.cost is not None else None)

    # -- files --------------------------------------------------------------------------------------
    def save_to(self, path: str | Path) -> str | None:
        text = json.dumps(self.mapping.to_dict(), indent=2) + "\n"
        return write_reported(path, lambda p: write_atomic(p, text), "mapping", self._say)

    def load_from(self, path: str | Path) -> bool:
        """Read a mapping JSON; a problem is one line in the tab, the editor keeps its mapping."""
        try:
            data = json.loads(read_text_bounded(path, what="mapping file"))
            mapping = Mapping.from_dict(data)
        except (OSError, ValueError, MlsysError, TypeError, KeyError, AttributeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self._say(f"Cannot load {Path(path).name}: {_short(reason, 200)}", True)
            return False
        self.load_mapping(mapping, f"Load {Path(path).name}")
        self._say(f"Loaded {path}" + ("" if not self.problems else " (not valid for this layer: see above)"))
        return True

    def save_dialog(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the mapping", str(Path.home() / "mapping.json"),
                                              "Mapping (*.json)")
        if not path:
            return None
        if not path.lower().endswith(".json"):
            path += ".json"
        return self.save_to(path)

    def load_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self, "Load a mapping", str(Path.home()), "Mapping (*.json)")
        return self.load_from(path) if path else False

    def export_table(self) -> str | None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export the mapping's counts",
                                                   str(Path.home() / "mapping_counts.csv"), TABLE_FILTER)
        if not path:
            return None
        path, fmt = table_path_and_format(path, chosen)
        text = render(self.table_model(), fmt)
        return write_reported(path, lambda p: write_atomic(p, text), "table", self._say)

    def export_plot(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the Pareto plot", str(Path.home() / "pareto.png"),
                                              "PNG (*.png);;SVG (*.svg)")
        if not path:
            return None
        if not path.lower().endswith((".png", ".svg")):
            path += ".png"
        return write_reported(path, lambda p: export_widget(self.plot_holder, str(p), "Pareto front"),
                              "plot", self._say)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")
        self.sig_message.emit(text)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self.jobs.shutdown(timeout_ms)


def _short(text: str, width: int = 200) -> str:
    """One printable line of at most ``width`` characters."""
    text = printable(" ".join(str(text).split()))
    return text if len(text) <= width else text[:width - 1] + "…"


def _esc(text: str) -> str:
    import html
    return html.escape(text)
