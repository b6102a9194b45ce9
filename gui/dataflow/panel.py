"""The Dataflow workspace: a layer/buffer form, the animated loop nest, operand grids and
buffers driven by one player, the dataflow comparison, the systolic mode and the assumptions.

Edits are validated at once (messages beside the fields, the last valid state stays shown);
the counts and the trace are computed off the GUI thread (LRU on big layers takes seconds)
and only the newest request's result is shown.
"""

from __future__ import annotations

import html
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout,
                               QGroupBox,
                               QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpinBox, QSplitter,
                               QTabWidget, QTextBrowser, QToolButton, QVBoxLayout, QWidget)

from core.dataflow import (COMMON_ASSUMPTIONS, DATAFLOW_NAMES, DATAFLOWS, LEVEL_NAMES, OPERANDS,
                           Buffers, ConvLayer, EnergyCosts, PEArray, analyse, build_nest,
                           build_trace, rank_dataflows)
from core.dataflow.layer import require_int
from core.dataflow.mapping_eval import is_valid
from core.common.errors import InputError

from gui.widgets.files import save_image
from gui.widgets.field import ERROR_STYLE, add_field_row
from gui.widgets.latest_job import LatestJob
from gui.widgets.player import PlayerWidget
from gui.widgets.workspace_layout import lay_out_form_and_tabs
from gui.dataflow.comparison import ComparisonWidget
from gui.dataflow.frames import STATIONARY, TraceFrames
from gui.dataflow.mapping_animation import compute_mapping_animation, hierarchy_of
from gui.dataflow.mapping_tab import MappingTab
from gui.dataflow.network_tab import NetworkTab
from gui.dataflow.systolic import SystolicPanel
from gui.dataflow.views import (ALLOC_COLOR, READ_COLOR, WRITE_COLOR, BufferWidget, CountersWidget, LoopNestView,
                    OperandGridWidget)

DEBOUNCE_MS = 150

# key, label, default, minimum allowed, tooltip
LAYER_FIELDS = (
    ("height", "H", 6, 1, "Input height H (rows of the input feature map)"),
    ("width", "W", 7, 1, "Input width W (columns of the input feature map)"),
    ("channels", "C", 9, 1, "Input channels C (each filter has C channels)"),
    ("kernel", "K", 3, 1, "Kernel size K (square K×K filters); at most the padded input size"),
    ("filters", "F", 1, 1, "Number of filters F (output channels)"),
    ("stride", "stride", 1, 1, "Stride S of the convolution (output size floors, as PyTorch)"),
    ("padding", "padding", 0, 0, "Zero padding P on each side (padded zeros cost MACs, never memory traffic)"),
)
BUFFER_FIELDS = (
    ("input buffer", "input", 9, 1, "Capacity of the input buffer, in elements"),
    ("weight buffer", "weight", 9, 1, "Capacity of the weight buffer, in elements"),
    ("output buffer", "output (psum)", 1, 1, "Capacity of the output (partial-sum) buffer, in elements"),
)
PE_FIELDS = (
    ("PE array rows", "rs PE rows", 12, 1, "Rows of processing elements for row-stationary (Eyeriss: 12); "
                                           "must be at least K. The Systolic array tab has its own array"),
    ("PE array columns", "rs PE columns", 14, 1, "Columns of processing elements for row-stationary "
                                                 "(Eyeriss: 14). The Systolic array tab has its own array"),
)
ALL_FIELDS = LAYER_FIELDS + BUFFER_FIELDS + PE_FIELDS
DEFAULTS = {key: default for key, _l, default, _m, _t in ALL_FIELDS} | {"dataflow": "ws", "policy": "tile"}


# Energy per access (Eyeriss's normalised figures by default), editable in the form.
COST_FIELDS = (("rf", "register file"), ("inter_pe", "inter-PE link"), ("buffer", "buffer"),
               ("dram", "DRAM"), ("mac", "MAC"))
COST_DEFAULTS = (1.0, 2.0, 6.0, 200.0, 1.0)


@dataclass(frozen=True)
class LabSettings:
    """Everything the form holds, as plain values."""

    values: tuple[tuple[str, int], ...]
    dataflow: str
    policy: str
    costs: tuple[float, ...] = COST_DEFAULTS

    def energy_costs(self) -> EnergyCosts:
        return EnergyCosts(*self.costs)

    def __getitem__(self, key: str) -> int:
        return dict(self.values)[key]


@dataclass
class LabState:
    """One valid, fully computed state of the lab (what the views show)."""

    settings: LabSettings
    layer: ConvLayer
    buffers: Buffers
    pe_array: PEArray
    result: object
    trace: object
    frames: TraceFrames
    ranking: object


def compute_lab(settings: LabSettings, layer: ConvLayer, buffers: Buffers, pe: PEArray) -> LabState:
    """The heavy part (runs on a worker thread): counts, trace, frame model, ranking."""
    result = analyse(layer, settings.dataflow, buffers, settings.policy, pe,
                     settings.energy_costs())
    trace = build_trace(layer, settings.dataflow, buffers, settings.policy, pe)
    frames = TraceFrames(result, trace)
    for op in OPERANDS:
        frames.heat_max(op)  # fills the heat cache here rather than on the first seek
    ranking = rank_dataflows(layer, buffers, settings.policy, pe, settings.energy_costs())
    return LabState(settings, layer, buffers, pe, result, trace, frames, ranking)


class DataflowPanel(QWidget):
    """The Dataflow workspace. ``set_layer(...)`` loads a conv layer (the editor's "Open in
    Dataflow lab"); ``sig_state_changed`` fires when a new valid state is shown."""

    sig_state_changed = Signal()
    sig_message = Signal(str)

    def __init__(self, design_source=None, parent=None):
        super().__init__(parent)
        self.state: LabState | None = None
        self._pending_layer = None  # (layer, mapping) a Network-tab row asked to open
        self.anim_frames: TraceFrames | None = None
        self.anim_buffers: Buffers | None = None
        self.dataflow_summary = ""
        self.current_state = None  # the FrameState drawn last
        self.fields: dict[str, QSpinBox] = {}
        self.errors: dict[str, QLabel] = {}
        self._requested: LabSettings | None = None
        self.jobs = LatestJob(compute_lab, self)
        self.jobs.sig_done.connect(self._apply)
        self.jobs.sig_failed.connect(self._job_failed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.recompute)
        form = self._build_form()
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_animation(), "Animation")
        self.mapping_tab = MappingTab()
        self.mapping_tab.sig_message.connect(self.sig_message)
        self.mapping_tab.sig_animate.connect(self.animate_mapping)
        self.tabs.addTab(self.mapping_tab, "Mapping")
        self.mapping_jobs = LatestJob(compute_mapping_animation, self)
        self.mapping_jobs.sig_done.connect(self._show_mapping_animation)
        self.mapping_jobs.sig_failed.connect(self._mapping_animation_failed)
        self.animated_mapping = None  # the mapping the animation plays (None: the dataflow)
        self.comparison = ComparisonWidget()
        self.comparison.sig_message.connect(self.sig_message)
        self.comparison.mapped.sig_load.connect(self.show_best_mapping)
        # The Mapping tab's registers and memory bandwidth belong to the hierarchy compared too.
        self.mapping_tab.sig_evaluated.connect(self._mapping_hierarchy_changed)
        self.tabs.addTab(self.comparison, "Comparison")
        self.systolic = SystolicPanel()
        self.systolic.sig_changed.connect(self._systolic_changed)
        self.tabs.addTab(self.systolic, "Systolic array")
        self.network_tab = NetworkTab(design_source, self._network_hierarchy)
        self.network_tab.sig_message.connect(self.sig_message)
        self.network_tab.sig_open_layer.connect(self.open_network_layer)
        self.notes = QTextBrowser()
        self.notes.setToolTip("What the counts assume, and which dataflow is best for these sizes")
        self.tabs.addTab(self.notes, "Assumptions")
        self.tabs.setTabToolTip(0, "The chosen dataflow step by step: loop nest, operands, buffers, counters")
        self.tabs.setTabToolTip(1, "A mapping (loop order and tile factors per level) to edit by dragging "
                                   "loops; its counts, energy and cycles; the mapper's best and Pareto front")
        self.tabs.setTabToolTip(2, "Every dataflow (and the systolic mode) on this layer: charts, table, export")
        self.tabs.setTabToolTip(3, "SCALE-Sim-compatible systolic array: the PEs cycle by cycle, utilisation")
        self.tabs.setTabToolTip(4, "The stated assumptions behind the chosen dataflow's counts")
        self.tabs.addTab(self.network_tab, "Network")
        self.tabs.setTabToolTip(5, "The Design workspace's network: the best mapping of every conv and "
                                   "linear layer under each dataflow, per layer and in total")
        self.sig_state_changed.connect(self._open_pending_layer)
        lay_out_form_and_tabs(self, form, self.tabs, 250)
        self.recompute()

    # -- form -------------------------------------------------------------------------------
    def _field(self, form: QFormLayout, key: str, label: str, value: int, minimum: int, tip: str) -> None:
        box = QSpinBox()
        # One below the allowed minimum stays reachable so that its message can be seen.
        box.setRange(minimum - 1, 1_000_000_000)
        box.setValue(value)
        box.setKeyboardTracking(False)
        box.setAccelerated(True)
        box.setToolTip(tip)
        box.valueChanged.connect(self._schedule)
        self.fields[key], self.errors[key] = box, add_field_row(form, label, box)

    def _build_costs(self) -> QGroupBox:
        """Energy per access at each level, normalised to one MAC (Eyeriss's defaults)."""
        group = QGroupBox("Energy per access")
        group.setToolTip("Normalised energy of one access at each level (Eyeriss: RF 1, "
                         "inter-PE 2, buffer 6, DRAM 200, MAC 1)")
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.cost_boxes = []
        for (_key, label), value in zip(COST_FIELDS, COST_DEFAULTS):
            box = QDoubleSpinBox()
            box.setRange(0.0, 1e9)
            box.setDecimals(2)
            box.setValue(value)
            box.setKeyboardTracking(False)
            box.setToolTip(f"Energy of one {label} access (one MAC = 1)")
            box.valueChanged.connect(self._schedule)
            form.addRow(label, box)
            self.cost_boxes.append(box)
        return group

    def _combo_field(self, form: QFormLayout, key: str, label: str, items, tip: str) -> QComboBox:
        box = QComboBox()
        for text, data in items:
            box.addItem(text, data)
        box.setToolTip(tip)
        box.currentIndexChanged.connect(self._schedule)
        self.errors[key] = add_field_row(form, label, box)
        return box

    def _build_form(self) -> QWidget:
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(2, 2, 2, 2)
        self.general_error = QLabel()
        self.general_error.setWordWrap(True)
        self.general_error.setStyleSheet(ERROR_STYLE)
        self.general_error.hide()
        outer.addWidget(self.general_error)
        self.stale_label = QLabel()
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet(ERROR_STYLE)
        self.stale_label.hide()
        outer.addWidget(self.stale_label)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #1971c2;")
        self.note_label.setToolTip("Changes made to the buffers when a layer arrived from the editor")
        self.note_label.hide()
        outer.addWidget(self.note_label)
        groups = []
        for title, fields in (("Layer", LAYER_FIELDS), ("Buffers (elements)", BUFFER_FIELDS)):
            group = QGroupBox(title)
            form = QFormLayout(group)
            form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
            for spec in fields:
                self._field(form, *spec)
            groups.append((group, form))
        self.shape_label = QLabel()
        self.shape_label.setWordWrap(True)
        self.shape_label.setToolTip("The layer as the engine reads it (output size floors, as PyTorch)")
        groups[0][1].addRow(self.shape_label)
        df_group = QGroupBox("Dataflow")
        df_form = QFormLayout(df_group)
        df_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.dataflow_box = self._combo_field(
            df_form, "dataflow", "dataflow", [(f"{d} — {DATAFLOW_NAMES[d]}", d) for d in DATAFLOWS],
            "Which operand stays in its buffer while the others stream: weight- (ws), input- (is), "
            "output- (os) or row-stationary (rs, Eyeriss: uses the PE array below)")
        self.policy_box = self._combo_field(
            df_form, "policy", "reuse policy",
            [("tile — textbook hand count", "tile"), ("lru — fully associative LRU buffers", "lru")],
            "tile: every tile the nest asks for is loaded afresh; lru: the same accesses through "
            "LRU buffers of exactly these capacities (only misses cost memory reads)")
        for spec in PE_FIELDS:
            self._field(df_form, *spec)
        pe_note = QLabel("The PE array of row-stationary (Eyeriss's 12×14); the Systolic array "
                         "tab sizes its own array (SCALE-Sim's 8×8).")
        pe_note.setWordWrap(True)
        pe_note.setStyleSheet("color: gray;")
        pe_note.setToolTip("Two different machines: Eyeriss's spatial array for the rs dataflow, "
                           "and a SCALE-Sim systolic array")
        df_form.addRow(pe_note)
        outer.addWidget(groups[0][0])
        outer.addWidget(groups[1][0])
        outer.addWidget(df_group)
        outer.addWidget(self._build_costs())
        self.busy_label = QLabel("computing…")
        self.busy_label.setToolTip("Counting accesses and building the trace (LRU on big layers takes a few seconds)")
        self.busy_label.hide()
        self.jobs.sig_busy.connect(self.busy_label.setVisible)
        outer.addWidget(self.busy_label)
        reset = QPushButton("Reference layer")
        reset.setToolTip("Back to the issue's reference: H=6, W=7, C=9, K=3, F=1, buffers 9/9/1, ws, tile "
                         "(weight reads 81, input reads 1,620, psum reads 160, output writes 180)")
        reset.clicked.connect(self.reset_to_reference)
        outer.addWidget(reset)
        outer.addStretch(1)
        for box in (self.dataflow_box, self.policy_box):
            box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        for box in self.fields.values():
            box.setMinimumWidth(70)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        scroll.setMinimumWidth(body.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        return scroll

    # -- animation tab ------------------------------------------------------------------------
    def _build_animation(self) -> QWidget:
        page = QWidget()
        self.ranking_label = QLabel()
        self.ranking_label.setWordWrap(True)
        self.ranking_label.setToolTip("Which dataflow minimises memory accesses for these sizes "
                                      "(details in the Comparison and Assumptions tabs)")
        self.nest_view = LoopNestView()
        self.counters = CountersWidget()
        top = QSplitter(Qt.Horizontal)
        top.addWidget(self.nest_view)
        top.addWidget(self.counters)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)
        top.setSizes([560, 520])
        self.grids = {op: OperandGridWidget(op) for op in OPERANDS}
        self.buffer_views = {op: BufferWidget(op) for op in OPERANDS}
        grid_holder = QWidget()
        grid = QGridLayout(grid_holder)
        grid.setContentsMargins(0, 0, 0, 0)
        for col, op in enumerate(OPERANDS):
            grid.addWidget(self.grids[op], 0, col)
            grid.addWidget(self.buffer_views[op], 1, col)
        grid.setRowStretch(0, 1)
        for col, stretch in enumerate((3, 2, 2)):
            grid.setColumnStretch(col, stretch)
        legend = QLabel(
            f"<span style='color:{READ_COLOR}'>■</span> read from memory &nbsp; "
            f"<span style='color:{WRITE_COLOR}'>■</span> written to memory &nbsp; "
            f"<span style='color:{ALLOC_COLOR}'>■</span> fresh partial sum (no read) &nbsp; "
            "<span style='color:#5f3dc4'>■</span> shade / number = memory transfers of the element so far "
            "&nbsp; ┆ dashed = in the buffer now")
        legend.setToolTip("Colours of the grids and buffers")
        legend.setWordWrap(True)  # one long line would set the window's minimum width
        self.coarse_note = QLabel()
        self.coarse_note.setWordWrap(True)
        self.coarse_note.setStyleSheet("color: #7048e8;")
        self.player = PlayerWidget(unit="step", marker_name="reload")
        self.player.sig_frame.connect(self.render_frame)
        self.reload_box = QComboBox()
        for op in OPERANDS:
            self.reload_box.addItem(f"of {op}", op)
        self.reload_box.setToolTip("Which buffer's reloads 'next reload' jumps to (default: the "
                                   "stationary operand of the dataflow)")
        self.reload_box.currentIndexChanged.connect(self._reload_operand_changed)
        png = QToolButton()
        png.setText("PNG…")
        png.setToolTip("Save this view (the current frame) as a PNG image")
        png.clicked.connect(self.export_animation_png)
        bar = QHBoxLayout()
        bar.addWidget(self.player, 1)
        bar.addWidget(self.reload_box)
        bar.addWidget(png)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.ranking_label)
        layout.addWidget(top, 2)
        layout.addWidget(grid_holder, 5)
        layout.addWidget(legend)
        layout.addWidget(self.coarse_note)
        layout.addLayout(bar)
        self.animation_page = page
        self.player.add_shortcuts(page)
        return page

    # -- public API ----------------------------------------------------------------------------
    @property
    def frames(self) -> TraceFrames | None:
        """The frames the animation tab plays (the dataflow's, or the Mapping tab's mapping's)."""
        return self.anim_frames

    @property
    def trace(self):
        return self.state.trace if self.state else None

    @property
    def result(self):
        return self.state.result if self.state else None

    def set_layer(self, height, width, channels, kernel, filters, stride=1, padding=0) -> bool:
        """Load a conv layer (the editor's "Open in Dataflow lab"). Pairs such as (3, 3) are
        accepted when both entries agree. The buffers and the rs PE array start again from
        their defaults, raised to what this layer needs (an earlier layer's edits do not
        carry over); the dataflow, policy and energy costs stay as chosen. Returns False
        (messages beside the fields, the last valid state kept) when the values are not
        allowed."""
        given = {"height": height, "width": width, "channels": channels, "kernel": kernel,
                 "filters": filters, "stride": stride, "padding": padding}
        values, problems = {}, {}
        for key, value in given.items():
            number, problem = _as_int(key, value)
            if problem:
                problems[key] = problem
            else:
                values[key] = number
        if problems:  # nothing changes: the fields and the views keep the last valid layer
            self._clear_errors()
            for key, problem in problems.items():
                self._show_error(key, problem)
            self._show_stale_notice()
            return False
        for key, number in values.items():
            self._set_field(key, number)
        for key, *_rest in BUFFER_FIELDS + PE_FIELDS:
            self._set_field(key, DEFAULTS[key])
        self._raise_buffers_to_minimum()
        return self.recompute()

    def _set_field(self, key: str, number: int) -> None:
        box = self.fields[key]
        box.blockSignals(True)
        # Show the value as given (its message says what is allowed) rather than a clamped one.
        box.setRange(min(box.minimum(), number), max(box.maximum(), number))
        box.setValue(number)
        box.blockSignals(False)

    def _raise_buffers_to_minimum(self) -> None:
        """A layer from the editor often needs bigger buffers than the current ones (K = 5 needs
        25-element windows): raise them to what the chosen dataflow needs, and say so."""
        raised = []
        for _attempt in range(4):
            try:
                self.validate(self.settings())
                break
            except _Problems as problems:
                fixable = [(k, m) for k, m in problems.items() if k in _RAISABLE]
                needed = [(k, _needed(m)) for k, m in fixable]
                if not fixable or len(fixable) != len(problems.problems) or any(n is None for _k, n in needed):
                    break
                for key, number in needed:
                    self._set_field(key, number)
                    raised.append(f"{key} {number:,}")
        self.note_label.setText(
            f"Raised to what {DATAFLOW_NAMES[self.dataflow_box.currentData()]} needs for this layer: "
            + ", ".join(raised) + "." if raised else "")
        self.note_label.setVisible(bool(raised))

    def settings(self) -> LabSettings:
        values = tuple((key, self.fields[key].value()) for key, *_rest in ALL_FIELDS)
        costs = tuple(box.value() for box in self.cost_boxes)
        return LabSettings(values, self.dataflow_box.currentData(), self.policy_box.currentData(),
                           costs)

    def reset_to_reference(self) -> None:
        for key, box in self.fields.items():
            box.blockSignals(True)
            box.setValue(DEFAULTS[key])
            box.blockSignals(False)
        for box, value in ((self.dataflow_box, "ws"), (self.policy_box, "tile")):
            box.blockSignals(True)
            box.setCurrentIndex(box.findData(value))
            box.blockSignals(False)
        for box, value in zip(self.cost_boxes, COST_DEFAULTS):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.recompute()

    def is_busy(self) -> bool:
        return self.jobs.is_busy()

    # -- validation and computing -----------------------------------------------------------------
    def _schedule(self, *_args) -> None:
        self.note_label.hide()
        self._debounce.start()

    def _clear_errors(self) -> None:
        for label in self.errors.values():
            label.hide()
        self.general_error.hide()

    def _show_error(self, key: str | None, message: str) -> None:
        label = self.errors.get(key) if key else None
        if label is None:
            label = self.general_error
        label.setText(message)
        label.show()

    def _show_stale_notice(self) -> None:
        if self.state is not None:
            text = ("Fix the fields marked in red. The views still show the last valid settings: "
                    f"{self.state.layer.describe()}, {self.state.settings.dataflow}, {self.state.settings.policy}.")
        else:
            text = "Fix the fields marked in red."
        self.stale_label.setText(text)
        self.stale_label.show()

    def validate(self, settings: LabSettings):
        """(layer, buffers, pe) or raises a dict {field: message} of every problem found."""
        problems: dict[str, str] = {}
        for key, _label, _default, minimum, _tip in ALL_FIELDS:
            try:
                require_int(key, settings[key], minimum)
            except InputError as exc:
                problems[key] = str(exc)
        if problems:
            raise _Problems(problems)
        try:
            layer = ConvLayer(*(settings[k] for k in ("height", "width", "channels", "kernel", "filters",
                                                       "stride", "padding")))
            buffers = Buffers(settings["input buffer"], settings["weight buffer"], settings["output buffer"])
            pe = PEArray(settings["PE array rows"], settings["PE array columns"])
            build_nest(layer, settings.dataflow, buffers, pe)  # the buffer minimums of the dataflow
        except InputError as exc:
            raise _Problems({_field_of(str(exc)): str(exc)}) from exc
        return layer, buffers, pe

    def recompute(self) -> bool:
        """Validate the form; if valid, compute the new state in the background. False when invalid."""
        self._debounce.stop()
        self._clear_errors()
        settings = self.settings()
        try:
            layer, buffers, pe = self.validate(settings)
        except _Problems as problems:
            for key, message in problems.items():
                self._show_error(key, message)
            self._show_stale_notice()
            return False
        self.shape_label.setText(layer.describe())
        self.stale_label.hide()
        if settings == self._requested:
            return True  # already shown or on its way
        self._requested = settings
        self.jobs.request(settings, layer, buffers, pe)
        return True

    def _job_failed(self, message: str) -> None:
        self._show_error(_field_of(message), message)
        self._show_stale_notice()

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Block (processing events) until no computation is running — for scripts and tests."""
        return self.jobs.wait_idle(timeout_ms)

    # -- showing a state --------------------------------------------------------------------------
    def _apply(self, state: LabState) -> None:
        self.state = state
        result = state.result
        c = result.counts
        ranked = state.ranking.ranked
        best_text = (f"Best for these sizes: <b>{ranked[0].name}</b> ({ranked[0].counts.memory_total:,} "
                     "memory accesses)" if ranked else "No dataflow fits these buffers")
        self.dataflow_summary = (
            f"{html.escape(state.layer.describe())}. <b>{result.name}</b>, {result.policy} policy: "
            f"{c.memory_total:,} memory accesses, energy {result.energy.total:,.0f}. {best_text}.")
        self.ranking_label.setToolTip(state.ranking.explanation())
        self.notes.setHtml(self._notes_html(state))
        self._show_animation(state.frames, state.buffers, STATIONARY[result.dataflow], self.dataflow_summary)
        self.comparison.set_data(state.ranking, None, title=f"Dataflows on {state.layer.describe()}",
                                 costs=state.settings.energy_costs())
        self.systolic.set_layer(state.layer)  # emits sig_changed → the comparison gets its group
        # The Mapping tab follows the layer; when it animates, its mapping replaces the nest above.
        self.mapping_tab.set_problem(state.layer, hierarchy_of(state))
        self.comparison.mapped.set_problem(state.layer, self.mapping_tab.hierarchy)
        self.sig_state_changed.emit()

    def _show_animation(self, frames: TraceFrames, buffers: Buffers, stationary: str, summary: str) -> None:
        """Load a trace's frames into the animation tab's views (the dataflow's or a mapping's)."""
        self.anim_frames, self.anim_buffers = frames, buffers
        result = frames.result
        coarse = not frames.element_level
        self.nest_view.set_nest(result.nest, frames.trace.level)
        self.coarse_note.setVisible(coarse)
        if coarse:
            resolved = ", ".join(l.dim for l in result.nest.loops[: frames.trace.level]) or "none"
            self.coarse_note.setText(
                f"Big layer: the trace is coarsened to loop tiles ({frames.n_frames:,} steps over the loops "
                f"{resolved}); each step moves whole tiles, the grids outline the tile each operand works on, "
                "and the shade counts the steps with traffic that touched an element.")
        for op in OPERANDS:
            self.grids[op].set_layout(frames.layouts[op], frames.heat_max(op))
        c = result.counts
        totals = {op: {"reads": c.memory_reads[op], "writes": c.memory_writes.get(op, 0),
                       "allocs": int(frames.cum[-1, OPERANDS.index(op), 2]), "buffer": c.buffer[op]}
                  for op in OPERANDS}
        self.counters.set_totals(totals, c.macs, result.energy.total)
        self.ranking_label.setText(summary)
        self.reload_box.blockSignals(True)
        self.reload_box.setCurrentIndex(OPERANDS.index(stationary))
        self.reload_box.blockSignals(False)
        self.player.set_markers(frames.reload_frames(stationary).tolist())
        self.player.set_frame_count(frames.n_frames, 0)

    def _mapping_hierarchy_changed(self) -> None:
        tab = self.mapping_tab
        if self.state is not None and tab.layer == self.state.layer and tab.hierarchy is not None:
            self.comparison.mapped.set_problem(tab.layer, tab.hierarchy)  # no-op when unchanged

    def _network_hierarchy(self):
        """The hierarchy the Network tab maps on (the Mapping tab's), None before the first state."""
        return self.mapping_tab.hierarchy if self.state else None

    # -- a layer from the Network tab ---------------------------------------------------------------
    def open_network_layer(self, name: str, layer: ConvLayer, mapping=None) -> bool:
        """Put a network layer's sizes into the form (the buffers, PE array and costs stay, raised
        only if the chosen dataflow's nest needs more); its best mapping, when given and still
        valid, goes into the Mapping tab once the lab has computed the layer."""
        for key in ("height", "width", "channels", "kernel", "filters", "stride", "padding"):
            self._set_field(key, getattr(layer, key))
        self._raise_buffers_to_minimum()
        self._pending_layer = (layer, mapping)
        self.tabs.setCurrentWidget(self.mapping_tab if mapping is not None else self.animation_page)
        self.sig_message.emit(f"Opened {name} ({layer.describe()}) from the Network tab")
        ok = self.recompute()
        if ok and self.state is not None and self.state.layer == layer and not self.is_busy():
            self._open_pending_layer()  # the lab shows this layer already
        return ok

    def _open_pending_layer(self) -> None:
        if self._pending_layer is None or self.state is None:
            return
        layer, mapping = self._pending_layer
        if self.state.layer != layer:
            return
        self._pending_layer = None
        if mapping is not None:
            self.show_best_mapping(mapping, "")

    # -- a mapping in the animation --------------------------------------------------------------
    def show_best_mapping(self, mapping, dataflow: str = "") -> bool:
        """Load ``mapping`` (a best mapping from the Comparison or Network tab) into the Mapping
        tab and play it in the animation; False when it does not fit the tab's layer."""
        tab = self.mapping_tab
        if tab.layer is None or not is_valid(mapping, tab.layer, tab.hierarchy):
            self.sig_message.emit("That mapping does not fit the lab's current layer and buffers")
            return False
        tab.load_mapping(mapping, f"Best {dataflow}".strip())  # plays it when Animate is on
        tab.animate_box.setChecked(True)  # else this turns it on, which plays it
        return True

    def animate_mapping(self, mapping) -> None:
        """Play ``mapping`` (from the Mapping tab) in the animation tab; None: the dataflow again."""
        self.animated_mapping = mapping
        tab = self.mapping_tab
        if mapping is None or tab.layer is None:
            if self.state is not None and self.anim_frames is not self.state.frames:
                self._show_animation(self.state.frames, self.state.buffers,
                                     STATIONARY[self.state.result.dataflow], self.dataflow_summary)
            return
        self.mapping_jobs.request(mapping, tab.layer, tab.hierarchy)

    def _show_mapping_animation(self, animation) -> None:
        if self.animated_mapping is None or animation.mapping != self.animated_mapping:
            return  # the user turned it off, or edited again meanwhile
        cost = animation.cost
        summary = (f"{html.escape(animation.layer.describe())}. Mapping <b>"
                   f"{html.escape(animation.mapping.name or 'edited')}</b> (from the Mapping tab): "
                   f"{cost.memory_accesses:,} memory accesses, energy {cost.energy.total:,.0f}, "
                   f"{cost.cycles:,} cycles. The animation shows its memory ↔ buffer traffic.")
        self._show_animation(animation.frames, animation.buffers, animation.stationary, summary)

    def _mapping_animation_failed(self, message: str) -> None:
        self.mapping_tab.show_animation_problem(message)
        if self.state is not None and self.anim_frames is not self.state.frames:
            self._show_animation(self.state.frames, self.state.buffers,
                                 STATIONARY[self.state.result.dataflow], self.dataflow_summary)

    def _notes_html(self, state: LabState) -> str:
        result = state.result
        own = result.assumptions[: len(result.assumptions) - len(COMMON_ASSUMPTIONS)]
        e = result.energy
        energy_rows = "".join(
            f"<tr><td>{LEVEL_NAMES[level]}</td><td align=right>{e.accesses[level]:,}</td>"
            f"<td align=right>× {e.costs[level]:g}</td><td align=right>= {e.energy[level]:,.0f}</td></tr>"
            for level in e.accesses)
        return (f"<h3>{html.escape(result.name.capitalize())} — {html.escape(state.layer.describe())}</h3>"
                f"<p><b>Which dataflow minimises accesses for these sizes?</b><br>"
                f"{html.escape(state.ranking.explanation())} This verdict compares the textbook "
                "nests; the Comparison tab's default view compares the mapper's best mapping "
                "within each dataflow instead (best against best).</p>"
                f"<p><b>Tiles</b>: {', '.join(f'{d} {t}' for d, t in result.nest.tiles().items())}; buffers {state.buffers.input}/"
                f"{state.buffers.weight}/{state.buffers.output} elements; {result.policy} policy.</p>"
                "<p><b>Assumptions of this dataflow</b></p><ul>"
                + "".join(f"<li>{html.escape(a)}</li>" for a in own) + "</ul>"
                "<p><b>Common assumptions</b></p><ul>"
                + "".join(f"<li>{html.escape(a)}</li>" for a in COMMON_ASSUMPTIONS) + "</ul>"
                f"<p><b>Energy</b> (units of one MAC)</p><table cellspacing=4>{energy_rows}"
                f"<tr><td><b>total</b></td><td></td><td></td><td align=right><b>{e.total:,.0f}</b></td></tr></table>")

    def _systolic_changed(self) -> None:
        if self.state is not None:
            self.comparison.set_systolic(self.systolic.result)

    def _reload_operand_changed(self, _index: int) -> None:
        if self.frames is not None:
            self.player.set_markers(self.frames.reload_frames(self.reload_box.currentData()).tolist())

    def render_frame(self, i: int) -> None:
        """Draw frame ``i`` on every view of the animation tab (from ``i`` alone)."""
        frames = self.frames
        if frames is None:
            return
        state = frames.frame(i)
        self.current_state = state
        self.nest_view.show_state(state.loop_index, state.active_lines)
        self.counters.show_state(state, frames.n_frames)
        buffers = self.anim_buffers
        for op in OPERANDS:
            self.grids[op].show_state(state.heat[op], state.accesses[op], state.buffers[op])
            self.buffer_views[op].show_state(buffers.capacity(op), state.buffers[op], state.accesses[op],
                                             state.step_counts[op])

    # -- export ------------------------------------------------------------------------------------
    def export_animation_png(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the animation frame as PNG",
                                              str(Path.home() / "dataflow_frame.png"), "PNG (*.png)")
        if not path:
            return None
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            save_image(self.animation_page.grab(), path)
            ok = True
        except OSError:
            ok = False
        self.sig_message.emit(f"Wrote {path}" if ok else f"Cannot write {path}")
        return path if ok else None

    def hideEvent(self, event) -> None:
        # Another workspace is shown: nobody watches the animations, so their timers stop.
        self.player.pause()
        self.systolic.player.pause()
        super().hideEvent(event)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop playing and wait for a running computation (call when the window closes)."""
        self.player.pause()
        self.systolic.player.pause()
        self.mapping_tab.shutdown()
        self.comparison.mapped.shutdown()
        self.network_tab.shutdown()
        self.wait_idle(timeout_ms)
        self.mapping_jobs.wait_idle(timeout_ms)


class _Problems(Exception):
    """Validation problems, by field."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems)
        self.problems = problems

    def items(self):
        return self.problems.items()


_FIELD_PREFIXES = {key for key, *_rest in ALL_FIELDS} | {"dataflow", "policy"}
_RAISABLE = {"input buffer", "weight buffer", "output buffer", "PE array rows"}


def _needed(message: str) -> int | None:
    """The size an engine message says a buffer (or the PE array) needs: "... smaller than the N that ..."."""
    match = re.search(r"smaller than the ([\d,]+) that", message)
    return int(match.group(1).replace(",", "")) if match else None


def _field_of(message: str) -> str | None:
    """The form field an engine message is about (messages start with "field: ")."""
    head = message.split(":", 1)[0].strip()
    return head if head in _FIELD_PREFIXES else None


def _as_int(key: str, value) -> tuple[int | None, str | None]:
    """A form value from the editor: ints, integral floats and equal pairs are accepted."""
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and value[0] == value[1]:
            value = value[0]
        else:
            return None, (f"{key}: {tuple(value)!r} is not allowed (the dataflow lab models square "
                          "kernels and equal strides/padding on both axes)")
    if isinstance(value, bool):
        return None, f"{key}: {value!r} is not a whole number"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, numbers.Integral):
        return int(value), None
    return None, f"{key}: {value!r} is not a whole number"
