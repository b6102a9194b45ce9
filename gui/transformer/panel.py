"""The Transformer workspace: the configuration form (the course's configuration by default),
the block diagram with the bits on its edges, the plots, the ledger and the figures beyond
the course; a button runs the built module under forward hooks and compares it with the
ledger (in a thread: one inference pass, size-limited)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpinBox,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from core.common.errors import MlsysError
from core.transformer.config import NORMS, PRECISION_BITS, TransformerConfig
from core.transformer.ledger import Ledger, build_ledger, crossover
from core.transformer.memory import beyond_table

from gui.transformer.demo import DemoTab
from gui.transformer.diagram import BlockDiagram, bits_text
from gui.transformer.plots import LedgerPlots
from gui.transformer.tables import ExportableTable
from gui.widgets.field import add_field_row
from gui.widgets.worker import JobController

DEBOUNCE_MS = 150
GUI_RUN_LIMIT = 20_000_000  # elements crossing all edges in one hooked forward pass
IMAGE_FILTER = "PNG image (*.png);;SVG image (*.svg)"

# key, label, default, minimum, maximum, tooltip
FIELDS = (
    ("encoder_layers", "encoder layers", 1, 1, 24, "Encoder layers (self-attention + FFN)"),
    ("decoder_layers", "decoder layers", 1, 1, 24, "Decoder layers (masked self-attention, "
                                                   "cross-attention, FFN)"),
    ("d_model", "d_model", 256, 1, 65536, "Embedding size: every s × d_model edge grows with it"),
    ("heads", "heads", 8, 1, 512, "Attention heads h (must divide d_model); the scores carry "
                                  "h × s_q × s_k values"),
    ("ffn", "FFN width", 0, 0, 262144, "Hidden width of the feed-forward block; "
                                       "'4 × d_model' follows d_model"),
    ("vocab", "vocabulary", 1000, 1, 1_000_000, "Tokens in the vocabulary (embeddings and the "
                                                "final projection)"),
    ("src_len", "source length s", 128, 1, 1_000_000, "Source sequence length s (encoder)"),
    ("tgt_len", "target length t", 128, 1, 1_000_000, "Target sequence length t (decoder)"),
    ("batch", "batch b", 1, 1, 65536, "Samples per batch: elements and bits include it; shapes "
                                      "are per sample"),
)


class HookCheck(QThread):
    """Builds the module and runs one hooked forward pass; ``finished_check(result)`` with
    (measured, note) or the MlsysError that refused it."""

    finished_check = Signal(object)

    def __init__(self, cfg: TransformerConfig, parent=None):
        super().__init__(parent)
        self.cfg = cfg

    def run(self):
        from core.transformer.hooks import measure_edges
        try:
            result = measure_edges(self.cfg, limit=GUI_RUN_LIMIT)
        except MlsysError as exc:
            result = exc
        self.finished_check.emit(result)


class TransformerPanel(QWidget):
    sig_message = Signal(str)
    sig_open_design = Signal(object)   # a core.graph Network

    def __init__(self, parent=None):
        super().__init__(parent)
        self.controller = JobController(self)  # runs the training demo's generator
        self.setToolTip("Transformer lab: the bits that cross between the blocks of an "
                        "encoder-decoder")
        self.config = TransformerConfig()
        self.auto_ffn = True
        self.ledger: Ledger = build_ledger(self.config)
        self.check_thread: HookCheck | None = None
        self._build()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.apply_form)
        self.refresh()

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        form_box = QGroupBox("Configuration")
        form = QFormLayout(form_box)
        form.setVerticalSpacing(3)
        self.spins: dict[str, QSpinBox] = {}
        self.errors: dict[str, QLabel] = {}
        for key, label, default, low, high, tip in FIELDS:
            spin = QSpinBox()
            spin.setRange(low, high)
            spin.setValue(default)
            spin.setToolTip(tip)
            spin.setGroupSeparatorShown(True)
            if key == "ffn":
                spin.setSpecialValueText("4 × d_model")
            spin.valueChanged.connect(self._edited)
            self.spins[key] = spin
            self.errors[key] = add_field_row(form, label, spin)
        self.precision = QComboBox()
        self.precision.addItems(list(PRECISION_BITS))
        self.precision.setCurrentText("fp16")
        self.precision.setToolTip("Bits of every input, output and intermediate value "
                                  "(fp32 32, fp16/bf16 16, int8 8)")
        self.precision.currentTextChanged.connect(self._edited)
        self.errors["precision"] = add_field_row(form, "precision", self.precision)
        self.norm = QComboBox()
        self.norm.addItems(list(NORMS))
        self.norm.setToolTip("post: LayerNorm(x + sublayer(x)) as in Vaswani et al.; pre: "
                             "x + sublayer(LayerNorm(x)) with a final norm per stack")
        self.norm.currentTextChanged.connect(self._edited)
        self.errors["norm"] = add_field_row(form, "norm", self.norm)
        self.devices = QSpinBox()
        self.devices.setRange(1, 4096)
        self.devices.setValue(4)
        self.devices.setToolTip("Devices t for the tensor-parallel traffic (Beyond the course)")
        self.devices.valueChanged.connect(self._edited)
        add_field_row(form, "tensor-parallel t", self.devices)
        self.general_error = QLabel()
        self.general_error.setWordWrap(True)
        self.general_error.setStyleSheet("color: #d63031;")
        self.general_error.hide()

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.check_button = QPushButton("Check with forward hooks")
        self.check_button.setToolTip("Build the torch module, run one forward pass with hooks on "
                                     "every block and compare the measured bits (numel × "
                                     "element size × 8) with the ledger")
        self.check_button.clicked.connect(self.start_check)
        self.check_result = QLabel()
        self.check_result.setWordWrap(True)
        self.design_button = QPushButton("Open in Design")
        self.design_button.setToolTip("Open this configuration as a network in the Design "
                                      "workspace (per-layer counts, memory, code)")
        self.design_button.clicked.connect(self.open_design)
        self.reset_button = QPushButton("Course defaults")
        self.reset_button.setToolTip("1 encoder + 1 decoder layer, 8 heads, d_model 256, fp16")
        self.reset_button.clicked.connect(self.reset_form)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(form_box)
        left_layout.addWidget(self.general_error)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.design_button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.check_button)
        left_layout.addWidget(self.check_result)
        left_layout.addWidget(self.summary)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(285)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)

        self.diagram = BlockDiagram()
        self.diagram.edge_clicked.connect(self.select_edge)
        self.edge_detail = QLabel("Hover an edge for its formula; click it to select it.")
        self.edge_detail.setWordWrap(True)
        self.edge_detail.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.labels_box = QCheckBox("bits on edges")
        self.labels_box.setChecked(True)
        self.labels_box.setToolTip("Write each edge's bits beside it")
        self.labels_box.toggled.connect(self._toggle_labels)
        diagram_export = QPushButton("Export diagram…")
        diagram_export.setToolTip("Save the whole diagram as PNG or SVG")
        diagram_export.clicked.connect(lambda: self.export_diagram())
        fit = QPushButton("Fit")
        fit.setToolTip("Fit the diagram into the view (wheel zooms, drag pans)")
        fit.clicked.connect(self.diagram.fit)
        diagram_page = QWidget()
        dl = QVBoxLayout(diagram_page)
        dl.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(self.edge_detail, 1)
        row.addWidget(self.labels_box)
        row.addWidget(fit)
        row.addWidget(diagram_export)
        dl.addLayout(row)
        dl.addWidget(self.diagram, 1)

        self.plots = LedgerPlots()
        plots_page = QWidget()
        pl = QVBoxLayout(plots_page)
        pl.setContentsMargins(4, 4, 4, 4)
        plots_export = QPushButton("Export plots…")
        plots_export.setToolTip("Save the three plots as PNG or SVG")
        plots_export.clicked.connect(lambda: self.export_plots())
        self.plots.layout().itemAt(0).layout().addWidget(plots_export)
        pl.addWidget(self.plots, 1)

        self.ledger_table = ExportableTable(
            "transformer_ledger", "Every edge between two consecutive blocks: per-sample "
                                  "shape, elements × batch, bits and formula")
        self.ledger_table.row_clicked.connect(self._table_row)
        self.ledger_table.message.connect(self.sig_message)
        self.totals = ExportableTable(
            "transformer_totals", "Bits by edge kind, per layer (edges consumed there), per "
                                  "block (edges it sends) and for the whole model")
        self.totals.message.connect(self.sig_message)
        self.beyond = ExportableTable(
            "transformer_beyond", "KV cache per generated token and in total; stored "
                                  "activations of one layer (Korthikanti et al. 2022) term by "
                                  "term; tensor-parallel traffic with a ring all-reduce")
        self.beyond.message.connect(self.sig_message)

        self.demo = DemoTab(self.controller)
        self.demo.message.connect(self.sig_message)

        self.tabs = QTabWidget()
        self.tabs.addTab(diagram_page, "Diagram")
        self.tabs.addTab(plots_page, "Plots")
        self.tabs.addTab(self.ledger_table, "Ledger")
        self.tabs.addTab(self.totals, "Totals")
        self.tabs.addTab(self.beyond, "Beyond the course")
        self.tabs.addTab(self.demo, "Training demo")
        for i, tip in enumerate(("Encoder and decoder blocks; edges carry bits",
                                 "Bits against d_model and sequence length",
                                 "The communication ledger (exportable)",
                                 "Totals per kind, layer, block and model",
                                 "KV cache, stored activations, tensor parallelism",
                                 "Train a small model to reverse digit sequences")):
            self.tabs.setTabToolTip(i, tip)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 980])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- form ---------------------------------------------------------------------------------
    def _edited(self, *_):
        self.timer.start()

    def form_values(self) -> dict:
        values = {key: spin.value() for key, spin in self.spins.items()}
        if values["ffn"] == 0:
            values["ffn"] = 4 * values["d_model"]
        values["precision"] = self.precision.currentText()
        values["norm"] = self.norm.currentText()
        return values

    def apply_form(self) -> bool:
        """Validate the form; on success show the new configuration (else keep the last)."""
        for label in list(self.errors.values()) + [self.general_error]:
            label.hide()
        try:
            cfg = TransformerConfig(**self.form_values())
        except MlsysError as exc:
            message = str(exc)
            field = next((k for k in self.errors if message.startswith(k)), None)
            target = self.errors[field] if field else self.general_error
            target.setText(message)
            target.show()
            return False
        self.config = cfg
        self.auto_ffn = self.spins["ffn"].value() == 0
        self.refresh()
        return True

    def set_config(self, cfg: TransformerConfig, auto_ffn: bool = False) -> None:
        """Fill the form from ``cfg`` and show it."""
        for key, spin in self.spins.items():
            spin.blockSignals(True)
            spin.setValue(0 if key == "ffn" and auto_ffn else getattr(cfg, key))
            spin.blockSignals(False)
        for combo, value in ((self.precision, cfg.precision), (self.norm, cfg.norm)):
            combo.blockSignals(True)
            combo.setCurrentText(value)
            combo.blockSignals(False)
        self.apply_form()

    def reset_form(self) -> None:
        self.set_config(TransformerConfig(), auto_ffn=True)

    # -- showing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        cfg = self.config
        self.ledger = build_ledger(cfg)
        self.diagram.set_ledger(self.ledger)
        self.plots.set_config(cfg, self.auto_ffn)
        self.ledger_table.set_table(self.ledger.table())
        self.totals.set_table(self.ledger.totals_table())
        self.beyond.set_table(beyond_table(cfg, self.devices.value()))
        self.check_result.setText("")
        kinds = self.ledger.bits_by_kind()
        cross = crossover(cfg)
        lines = [f"<b>{len(self.ledger.edges)} edges, {self.ledger.total_bits:,} bits</b> "
                 f"({bits_text(self.ledger.total_bits)}) at {cfg.precision}, batch {cfg.batch}"]
        lines.append("By kind: " + " · ".join(f"{kind} {bits_text(bits)}"
                                              for kind, bits in kinds.items()))
        lines.append(f"One scores edge outgrows one s × d_model edge from s = {cross.per_edge}; "
                     f"all s² edges outgrow all d_model edges from s = {cross.total} "
                     f"(s = t).")
        layers = [f"{k} {bits_text(v)}" for k, v in self.ledger.bits_by_layer().items()]
        if len(layers) > 8:   # the Ledger tab has them all
            layers = layers[:4] + ["…"] + layers[-3:]
        lines.append("Per layer: " + ", ".join(layers))
        self.summary.setText("<br>".join(lines))

    def _toggle_labels(self, on: bool) -> None:
        self.diagram.show_labels = on
        self.diagram.set_ledger(self.ledger)

    def select_edge(self, index: int) -> None:
        edge = self.ledger.edges[index]
        self.edge_detail.setText(f"<b>{edge.src} → {edge.dst}</b>: "
                                 f"{'×'.join(map(str, edge.shape))} per sample, {edge.kind}; "
                                 f"{edge.formula} bits")
        self.ledger_table.select_row(index)

    def _table_row(self, row: int) -> None:
        if row < len(self.ledger.edges):
            self.diagram.select_edge(row)
            self.select_edge(row)

    # -- actions ------------------------------------------------------------------------------
    def start_check(self) -> None:
        if self.check_thread is not None and self.check_thread.isRunning():
            return
        self.check_button.setEnabled(False)
        self.check_result.setText("Running the module under hooks…")
        self.check_thread = HookCheck(self.config, self)
        self.check_thread.finished_check.connect(self._check_done)
        self.check_thread.start()

    def _check_done(self, result) -> None:
        from core.transformer.hooks import compare
        self.check_button.setEnabled(True)
        if isinstance(result, Exception):
            self.check_result.setText(f"<span style='color:#d63031'>{result}</span>")
            return
        measured, note = result
        # Where torch computes in another dtype (int8, or a dtype the CPU lacks) the bits
        # differ by design: compare elements, and the note says why.
        int8 = bool(note)
        equal, problems = compare(self.ledger, measured, elements_only=int8)
        total = len(self.ledger.edges)
        if not problems:
            what = "elements" if int8 else "bits"
            text = (f"<span style='color:#2b8a3e'>✓ all {equal} edges equal the hooks "
                    f"({what}, torch on CPU, {measured[0].dtype if measured else '?'})</span>")
        else:
            text = (f"<span style='color:#d63031'>✗ {equal} of {total} edges equal; "
                    + "; ".join(problems[:4]) + "</span>")
        if note:
            text += f"<br>{note}"
        self.check_result.setText(text)

    def open_design(self) -> None:
        from core.transformer.design import build_design
        self.sig_open_design.emit(build_design(self.config))

    def _image_path(self, title: str, stem: str) -> str | None:
        path, chosen = QFileDialog.getSaveFileName(self, title, str(Path.home() / f"{stem}.png"),
                                                   IMAGE_FILTER)
        if path and not path.lower().endswith((".png", ".svg")):
            path += ".svg" if "SVG" in chosen else ".png"
        return path or None

    def _export(self, widget, path, title, stem) -> str | None:
        path = path or self._image_path(title, stem)
        if not path:
            return None
        try:
            widget.export_image(path)
        except OSError as exc:
            self.sig_message.emit(str(exc))
            return None
        self.sig_message.emit(f"Wrote {path}")
        return path

    def export_diagram(self, path: str | None = None) -> str | None:
        return self._export(self.diagram, path, "Export diagram", "transformer_diagram")

    def export_plots(self, path: str | None = None) -> str | None:
        return self._export(self.plots, path, "Export plots", "transformer_plots")

    def shutdown(self) -> bool:
        """Stop the demo and wait for it and for a running hook check (one forward pass,
        size-limited); True if both ended in time."""
        ended = self.demo.shutdown()
        if self.check_thread is not None:
            ended = self.check_thread.wait(5000) and ended
        return ended
