"""The Pipeline workspace: a form (widths or a design's Linear chain, latencies,
architecture, Tn/Ti, samples, overlap, clock), the animated MLP drawing, Gantt chart and
utilisation bars driven by one player, the formulas, the comparison of every architecture
and the assumptions.

Edits are validated at once (messages beside the fields; the last valid state stays shown).
The closed forms are instant; the schedule is built only up to ANIMATION_LIMIT operations
(the 784-1024-1024-10 MLP takes well under a second), above that the figures stay and the
animation says why it is off. The schedule is built off the GUI thread, one job at a time;
only the newest request's result is shown.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QSpinBox, QSplitter, QTabWidget, QTextBrowser,
                               QToolButton, QVBoxLayout, QWidget)

from core.common.errors import InputError
from core.pipeline import (ARCH_NAMES, ARCHS, KINDS, PipelineConfig, analyse, assumptions,
                           build_schedule, operation_count, parse_widths)

from gui.pipeline.comparison import ComparisonWidget, save_widget_image
from gui.pipeline.frames import FrameState, ScheduleFrames
from gui.pipeline.views import (KIND_COLORS, KIND_LABELS, GanttWidget, MlpDrawingWidget,
                                UtilisationWidget)
from gui.widgets.field import ERROR_STYLE, add_field_row
from gui.widgets.latest_job import LatestJob
from gui.widgets.player import PlayerWidget
from gui.widgets.workspace_layout import lay_out_form_and_tabs

DEBOUNCE_MS = 150
ANIMATION_LIMIT = 5_000_000   # operations; the schedule of 784-1024-1024-10 holds 3.7 million
MAX_CYCLES = 2**31 - 1        # the player's slider holds a 32-bit frame number
DEFAULT_WIDTHS = "10,8,6,5"
EXAMPLES = (("10,8 (the reference layer: 101 cycles)", "10,8"),
            ("10,8,6,5", "10,8,6,5"),
            ("784,1024,1024,10 (MNIST MLP)", "784,1024,1024,10"))
# key, label, default, minimum allowed, tooltip
INT_FIELDS = (
    ("t_m", "multiply t_m", 8, 1, "Cycles of one multiplication (t_m)"),
    ("t_a", "add t_a", 2, 1, "Cycles of one addition (t_a)"),
    ("t_sigma", "nonlinear t_σ", 1, 1, "Cycles of one nonlinear function (t_σ)"),
    ("tn", "Tn", 16, 1, "DianNao: neurons per tile, i.e. adder trees and nonlinear units "
                        "(DianNao: 16)"),
    ("ti", "Ti", 16, 1, "DianNao: inputs per tile, i.e. multipliers per tree (DianNao: 16)"),
    ("samples", "samples", 1, 1, "Samples streamed one after another: stages and layers "
                                 "overlap across samples"),
)
# Which field a core message is about (the message names the quantity).
FIELD_KEYWORDS = (("widths", ("width",)), ("t_m", ("t_m",)), ("t_a", ("t_a",)),
                  ("t_sigma", ("t_σ",)), ("tn", ("Tn",)), ("ti", ("Ti",)),
                  ("samples", ("samples",)), ("clock", ("clock",)), ("arch", ("architecture",)))


def field_of(message: str) -> str:
    return next((key for key, words in FIELD_KEYWORDS if any(w in message for w in words)),
                "widths")


@dataclass
class PipelineState:
    """One valid, computed state (what the views show)."""

    config: PipelineConfig
    result: object            # PipelineResult of the chosen architecture
    comparison: list          # PipelineResult of every architecture
    frames: ScheduleFrames | None
    animation_note: str = ""


def compute_state(config: PipelineConfig) -> PipelineState:
    result = analyse(config)
    comparison = [analyse(config.with_arch(arch)) for arch in ARCHS]
    count = operation_count(config)
    if result.total.value > MAX_CYCLES:
        note = (f"The animation is off: {result.total.value:,} cycles are more than the player "
                f"can seek through ({MAX_CYCLES:,}). The figures above are exact closed forms.")
        return PipelineState(config, result, comparison, None, note)
    if count > ANIMATION_LIMIT:
        note = (f"The animation is off: the schedule would hold {count:,} operations, above "
                f"the workspace's limit of {ANIMATION_LIMIT:,} (ANIMATION_LIMIT in "
                f"gui/pipeline/panel.py). The figures above are exact closed forms.")
        return PipelineState(config, result, comparison, None, note)
    return PipelineState(config, result, comparison, ScheduleFrames(build_schedule(config)))


class PipelinePanel(QWidget):
    """The Pipeline workspace. ``analysis_provider()`` returns the editor's current analysis
    (for "from design"); ``set_widths`` loads a Linear chain ("Open in Pipeline lab")."""

    sig_state_changed = Signal()
    sig_message = Signal(str)

    def __init__(self, analysis_provider=None, parent=None):
        super().__init__(parent)
        self.setToolTip("Cycle-level models of MLP hardware: per-neuron units and NFU "
                        "variants, animated as a Gantt chart")
        self.analysis_provider = analysis_provider
        self.state: PipelineState | None = None
        self.current_state: FrameState | None = None
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.recompute)
        self.jobs = LatestJob(compute_state, self)
        self.jobs.sig_done.connect(self._apply)
        self.jobs.sig_failed.connect(lambda message: self._show_error(field_of(message),
                                                                      message))
        form = self._build_form()
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_animation(), "Animation")
        self.comparison = ComparisonWidget()
        self.comparison.sig_message.connect(self.sig_message)
        self.tabs.addTab(self.comparison, "Comparison")
        self.notes = QTextBrowser()
        self.notes.setToolTip("What the cycle counts assume")
        self.tabs.addTab(self.notes, "Assumptions")
        self.tabs.setTabToolTip(0, "The chosen architecture cycle by cycle: MLP, Gantt chart, "
                                   "utilisation, formulas")
        self.tabs.setTabToolTip(1, "Every architecture on this MLP: charts, tables, export")
        self.tabs.setTabToolTip(2, "The stated assumptions behind the counts")
        lay_out_form_and_tabs(self, form, self.tabs, 240)
        self.recompute()

    # -- form ---------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(2, 2, 2, 2)
        self.stale_label = QLabel("The views show the last valid settings.")
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet(ERROR_STYLE)
        self.stale_label.hide()
        outer.addWidget(self.stale_label)
        mlp = QGroupBox("MLP")
        form = QFormLayout(mlp)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.widths_edit = QLineEdit(DEFAULT_WIDTHS)
        self.widths_edit.setToolTip("Layer widths, inputs first: 10,8,6,5 = layers 10→8, 8→6, "
                                    "6→5 (commas, spaces or dashes between)")
        self.widths_edit.textEdited.connect(self._schedule)
        self.fields["widths"], self.errors["widths"] = self.widths_edit, \
            add_field_row(form, "widths", self.widths_edit)
        self.example_box = QComboBox()
        self.example_box.addItem("examples…", "")
        for text, widths in EXAMPLES:
            self.example_box.addItem(text, widths)
        self.example_box.setToolTip("Load an example MLP")
        self.example_box.activated.connect(self._example_chosen)
        self.design_button = QPushButton("From design")
        self.design_button.setToolTip("Take the widths of the editor's chain of Linear layers")
        self.design_button.clicked.connect(self.load_from_design)
        self.design_button.setEnabled(self.analysis_provider is not None)
        row = QHBoxLayout()
        row.addWidget(self.example_box, 1)
        row.addWidget(self.design_button)
        form.addRow(row)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setStyleSheet("color: #1971c2;")
        self.source_label.hide()
        form.addRow(self.source_label)
        outer.addWidget(mlp)
        hw = QGroupBox("Hardware")
        hw_form = QFormLayout(hw)
        hw_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.arch_box = QComboBox()
        for arch in ARCHS:
            self.arch_box.addItem(f"{arch} — {ARCH_NAMES[arch]}", arch)
        self.arch_box.setToolTip("per-neuron: a multiplier, adder and nonlinear unit per neuron; "
                                 "nfu: idealised NFU, serial accumulation; nfu-tree: idealised "
                                 "NFU with adder trees; diannao: Tn×Ti NFU with chunks")
        self.arch_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.arch_box.setMinimumContentsLength(10)
        self.arch_box.currentIndexChanged.connect(self._schedule)
        self.fields["arch"], self.errors["arch"] = self.arch_box, \
            add_field_row(hw_form, "architecture", self.arch_box)
        for key, label, default, minimum, tip in INT_FIELDS:
            box = QSpinBox()
            box.setRange(minimum - 1, 1_000_000)  # one below stays reachable: its message shows
            box.setValue(default)
            box.setKeyboardTracking(False)
            box.setToolTip(tip)
            box.valueChanged.connect(self._schedule)
            self.fields[key], self.errors[key] = box, add_field_row(hw_form, label, box)
        self.overlap_box = QCheckBox("overlap multiply and add")
        self.overlap_box.setToolTip("per-neuron: the multiplier starts the next product while "
                                    "the adder accumulates the last (products wait in a "
                                    "register); no effect on the NFU variants")
        self.overlap_box.toggled.connect(self._schedule)
        hw_form.addRow(self.overlap_box)
        self.clock_box = QDoubleSpinBox()
        self.clock_box.setRange(0.0, 100_000.0)
        self.clock_box.setDecimals(1)
        self.clock_box.setValue(1000.0)
        self.clock_box.setSuffix(" MHz")
        self.clock_box.setKeyboardTracking(False)
        self.clock_box.setToolTip("Clock frequency, for samples per second and GOP/s "
                                  "(DianNao ran at 980 MHz)")
        self.clock_box.valueChanged.connect(self._schedule)
        self.fields["clock"], self.errors["clock"] = self.clock_box, \
            add_field_row(hw_form, "clock", self.clock_box)
        outer.addWidget(hw)
        self.busy_label = QLabel("building the schedule…")
        self.busy_label.setToolTip("Placing every operation in time (the 784-1024-1024-10 MLP "
                                   "takes a fraction of a second)")
        self.busy_label.hide()
        self.jobs.sig_busy.connect(self.busy_label.setVisible)
        outer.addWidget(self.busy_label)
        reset = QPushButton("Reference layer")
        reset.setToolTip("Back to the course's reference: 10→8 on per-neuron units with t_m = 8, "
                         "t_a = 2, t_σ = 1 (101 cycles)")
        reset.clicked.connect(self.reset_to_reference)
        outer.addWidget(reset)
        outer.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        scroll.setMinimumWidth(body.sizeHint().width() +
                               scroll.verticalScrollBar().sizeHint().width() + 4)
        return scroll

    def _schedule(self, *_args) -> None:
        self._debounce.start()

    def _example_chosen(self, index: int) -> None:
        widths = self.example_box.itemData(index)
        if widths:
            self.widths_edit.setText(widths)
            self.source_label.hide()
            self.recompute()
        self.example_box.setCurrentIndex(0)

    def settings(self) -> PipelineConfig:
        """The form as a config; InputError names the field at fault."""
        widths = parse_widths(self.widths_edit.text())
        clock = self.clock_box.value()
        return PipelineConfig(
            widths, self.arch_box.currentData(), t_m=self.fields["t_m"].value(),
            t_a=self.fields["t_a"].value(), t_sigma=self.fields["t_sigma"].value(),
            overlap=self.overlap_box.isChecked(), tn=self.fields["tn"].value(),
            ti=self.fields["ti"].value(), samples=self.fields["samples"].value(),
            clock_mhz=clock if clock > 0 else 0.0)

    # -- animation tab ---------------------------------------------------------------------------
    def _build_animation(self) -> QWidget:
        page = QWidget()
        self.drawing = MlpDrawingWidget()
        self.summary = QTextBrowser()
        self.summary.setToolTip("Every figure with its formula and the values substituted")
        font = self.summary.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        self.summary.setFont(font)
        top = QSplitter(Qt.Horizontal)
        top.addWidget(self.drawing)
        top.addWidget(self.summary)
        top.setSizes([420, 560])
        self.gantt = GanttWidget()
        self.utilisation = UtilisationWidget()
        self.utilisation.setMinimumWidth(170)
        middle = QSplitter(Qt.Horizontal)
        middle.addWidget(self.gantt)
        middle.addWidget(self.utilisation)
        middle.setStretchFactor(0, 4)
        middle.setStretchFactor(1, 1)
        middle.setSizes([800, 200])
        body = QSplitter(Qt.Vertical)
        body.addWidget(top)
        body.addWidget(middle)
        body.setSizes([260, 360])
        self.body = body
        legend = QLabel("  ".join(f"<span style='color:{c}'>■</span> {t}"
                                  for c, t in zip(KIND_COLORS, KIND_LABELS)) +
                        " &nbsp; <span style='color:#c92a2a'>|</span> current cycle")
        legend.setToolTip("Colours of the operations in the drawing and the Gantt chart")
        self.cycle_label = QLabel()
        self.cycle_label.setToolTip("What runs at the current cycle")
        self.animation_note = QLabel()
        self.animation_note.setWordWrap(True)
        self.animation_note.setStyleSheet("color: #7048e8;")
        self.animation_note.hide()
        info = QHBoxLayout()
        info.addWidget(legend)
        info.addWidget(self.cycle_label, 1)
        self.player = PlayerWidget(unit="cycle", marker_name="layer", zero_based=True)
        self.player.sig_frame.connect(self.render_frame)
        image = QToolButton()
        image.setText("Export view…")
        image.setToolTip("Save the drawing, Gantt chart and utilisation at this cycle as PNG or "
                         "SVG (by the file's extension)")
        image.clicked.connect(lambda: self.export_view())
        bar = QHBoxLayout()
        bar.addWidget(self.player, 1)
        bar.addWidget(image)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(body, 1)
        layout.addWidget(self.animation_note)
        layout.addLayout(info)
        layout.addLayout(bar)
        self.player.add_shortcuts(page)
        return page

    # -- public API ------------------------------------------------------------------------------
    @property
    def frames(self) -> ScheduleFrames | None:
        return self.state.frames if self.state else None

    @property
    def result(self):
        return self.state.result if self.state else None

    def set_widths(self, widths, source: str = "") -> bool:
        """Load an MLP (e.g. a design's Linear chain). False, with the message beside the
        field, when the widths are not allowed."""
        self.widths_edit.setText(",".join(str(w) for w in widths))
        self.source_label.setText(source)
        self.source_label.setVisible(bool(source))
        return self.recompute()

    def load_from_design(self) -> bool:
        from gui.pipeline.design_chain import linear_chain
        analysis = self.analysis_provider() if self.analysis_provider else None
        try:
            widths, names = linear_chain(analysis)
        except InputError as exc:
            self._show_error("widths", str(exc))
            return False
        return self.set_widths(widths, f"From the design: {' → '.join(names)}")

    def reset_to_reference(self) -> None:
        for key, _label, default, _minimum, _tip in INT_FIELDS:
            self.fields[key].blockSignals(True)
            self.fields[key].setValue(default)
            self.fields[key].blockSignals(False)
        self.arch_box.blockSignals(True)
        self.arch_box.setCurrentIndex(0)
        self.arch_box.blockSignals(False)
        self.overlap_box.blockSignals(True)
        self.overlap_box.setChecked(False)
        self.overlap_box.blockSignals(False)
        self.set_widths((10, 8))

    # -- computing --------------------------------------------------------------------------------
    def _show_error(self, key: str, message: str) -> None:
        label = self.errors.get(key) or self.errors["widths"]
        label.setText(message)
        label.show()
        self.stale_label.setVisible(self.state is not None)

    def _clear_errors(self) -> None:
        for label in self.errors.values():
            label.hide()
        self.stale_label.hide()

    def recompute(self) -> bool:
        """Validate the form and compute the new state in the background; False (messages
        beside the fields, the last valid state kept) when a value is not allowed."""
        self._debounce.stop()
        self._clear_errors()
        try:
            config = self.settings()
        except InputError as exc:
            self._show_error(field_of(str(exc)), str(exc))
            return False
        self.jobs.request(config)
        return True

    def is_busy(self) -> bool:
        return self.jobs.is_busy()

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Process events until no computation runs (tests, closing); True when idle."""
        return self.jobs.wait_idle(timeout_ms)

    def _apply(self, state: PipelineState) -> None:
        old = self.state
        self.state = state
        result, frames = state.result, state.frames
        self.drawing.set_widths(state.config.widths)
        self.gantt.set_frames(frames)
        self.utilisation.set_result(result.units, result.utilization)
        self.summary.setHtml(summary_html(result))
        self.notes.setHtml(assumptions_html(state.config))
        self.comparison.set_results(state.comparison)
        self.animation_note.setText(state.animation_note)
        self.animation_note.setVisible(bool(state.animation_note))
        keep = self.player.frame if old is not None and old.frames is not None else 0
        if frames is None:
            self.player.set_frame_count(0)
            self.current_state = None
            self.drawing.render_frame(None)
            self.cycle_label.setText("")
        else:
            # "next layer" stops wherever a sample enters a layer
            self.player.set_markers(int(v) for v in frames.schedule.sample_layer_start.ravel())
            self.player.set_frame_count(frames.span, min(keep, frames.span - 1))
        self.sig_state_changed.emit()

    def render_frame(self, cycle: int) -> None:
        frames = self.frames
        if frames is None:
            return
        state = frames.state(cycle)
        self.current_state = state
        self.drawing.render_frame(state)
        self.gantt.render_frame(cycle)
        self.utilisation.render_frame(state.busy)
        self.cycle_label.setText(cycle_text(state, frames))

    # -- export ------------------------------------------------------------------------------------
    def export_view(self, path: str | None = None) -> str | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export pipeline view",
                                                  str(Path.home() / "pipeline.png"),
                                                  "PNG (*.png);;SVG (*.svg)")
            if not path:
                return None
        try:
            save_widget_image(self.body, path)
        except OSError as exc:
            self.sig_message.emit(str(exc))
            return None
        self.sig_message.emit(f"Wrote {path}")
        return path

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop playing and wait for a running computation (call when the window closes)."""
        self.player.pause()
        self._debounce.stop()
        self.jobs.drop_pending()
        self.wait_idle(timeout_ms)


# -- texts ---------------------------------------------------------------------------------------
def cycle_text(state: FrameState, frames: ScheduleFrames) -> str:
    if not state.active:
        return f"cycle {state.cycle:,}: idle"
    if frames.config.samples == 1:
        where = "layer " + ", ".join(str(k + 1) for k in state.layers)
    else:
        where = ", ".join(f"L{k + 1}·sample {s + 1}" for k, s in state.pairs[:4]) + \
            ("…" if len(state.pairs) > 4 else "")
    busy = ", ".join(f"{state.busy[k]:,} {k}{'s' if state.busy[k] != 1 else ''}"
                     for k in KINDS if state.busy[k])
    return f"cycle {state.cycle:,}: {where} — {busy} busy ({state.active:,} operations)"


def summary_html(result) -> str:
    c = result.config
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(l.name)}</td><td align=right><b>{l.cycles.value:,}</b></td>"
                   f"<td>{esc(l.cycles.explain())}</td></tr>" +
                   "".join(f"<tr><td></td><td></td><td><small>{esc(s.explain())}</small></td>"
                           f"</tr>" for s in l.steps)
                   for l in result.layers)
    lines = [
        f"<b>{esc(ARCH_NAMES[c.arch])}</b> — MLP {'-'.join(map(str, c.widths))}, "
        f"t_m = {c.t_m}, t_a = {c.t_a}, t_σ = {c.t_sigma}"
        + (f", Tn = {c.tn}, Ti = {c.ti}" if c.arch == "diannao" else "")
        + (", overlap" if c.overlap and c.arch == "per-neuron" else ""),
        f"<table cellspacing=4>{rows}</table>",
        f"latency of one sample: <b>{result.latency.value:,}</b> cycles = "
        f"{esc(result.latency.explain())}",
        f"initiation interval: <b>{result.initiation_interval.value:,}</b> = "
        f"{esc(result.initiation_interval.explain())}",
    ]
    if c.samples > 1:
        lines.append(f"{c.samples:,} samples: <b>{result.total.value:,}</b> cycles = "
                     f"{esc(result.total.explain())}")
    lines += [
        f"throughput: 1 / {result.initiation_interval.value:,} = "
        f"{result.throughput_per_cycle:.4g} samples per cycle",
    ]
    if c.clock_mhz:
        lines.append(f"at {c.clock_mhz:g} MHz: {result.throughput_per_second():,.0f} samples/s, "
                     f"{result.gops():,.3f} GOP/s ({result.operations_per_sample:,} operations "
                     f"per sample)")
    lines += [f"{k} utilisation ({result.units[k]:,} units): "
              f"{esc(result.utilization_formula(k))}" for k in KINDS]
    lines.append("<small>Units are not internally pipelined; "
                 + ("nfu-tree sums the m products without the bias"
                    if c.arch == "nfu-tree" else "the first add of a neuron adds the bias")
                 + ". All assumptions: the Assumptions tab.</small>")
    return "<br>".join(lines)


def assumptions_html(config: PipelineConfig) -> str:
    items = "".join(f"<li>{html.escape(a)}</li>" for a in assumptions(config))
    return (f"<h3>{html.escape(ARCH_NAMES[config.arch])}: assumptions</h3><ul>{items}</ul>"
            "<p>Every figure is a closed form checked in the tests against an event-level "
            "schedule of every multiply, add and nonlinear operation (its unit, start and end "
            "cycle) on many random configurations: the makespans and the busy unit-cycles "
            "agree exactly, and no unit ever runs two operations at once.</p>")
