"""The analysis area: per-layer table with its settings and Explain box, totals and memory,
the depthwise-separable comparison with its plot, and the gradient flow of the losses."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QLabel,
                               QSpinBox, QSplitter, QTableView, QTableWidget, QTableWidgetItem,
                               QTabWidget, QTextBrowser, QToolButton, QVBoxLayout, QWidget)

from core.graph.report import human_bytes

from gui.design.analysis_model import SORT_ROLE, AnalysisTableModel


GROUPED_SORT_TIP = ("Sorting is off while repeated blocks are grouped (a run's layers stay "
                    "under its row); untick \"group repeated blocks\" to sort")


class LayerTableWidget(QWidget):
    """Settings bar + sortable table + Explain box."""

    sig_node_selected = Signal(str)
    sig_export = Signal()

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.model = AnalysisTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectItems)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        # Size columns from the first rows only: measuring every cell of ResNet-50's
        # 800 rows on each edit took most of the edit time.
        self.table.horizontalHeader().setResizeContentsPrecision(40)
        self._explained = None  # (layer, part, column key) of the cell the Explain box shows
        self.explain = QTextBrowser()
        self.explain.setPlaceholderText("Select a cell: its formula with the "
                                        "layer's values.")
        self.explain.setMinimumWidth(260)
        self._build_bar()
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.explain)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(self.bar)
        layout.addWidget(splitter)
        self.table.selectionModel().currentChanged.connect(self._current_changed)
        QShortcut(QKeySequence.Copy, self.table, activated=self.copy_selection)

    def _build_bar(self) -> None:
        self.batch = QSpinBox()
        self.batch.setRange(1, 1_000_000)
        self.batch.setToolTip("Batch size B: forward counts and activation bytes scale with it")
        self.precision = QComboBox()
        self.precision.addItems(["fp32", "fp16", "bf16", "int8"])
        self.precision.setToolTip("Bytes per element for weights and activations")
        self.bias_adds = QCheckBox("bias adds")
        self.bias_adds.setChecked(True)
        self.bias_adds.setToolTip("Count one add per output for the bias (many textbooks "
                                  "ignore it)")
        self.mode = QComboBox()
        self.mode.addItems(["forward", "backward", "both"])
        self.mode.setToolTip("Which counts the table shows")
        from core.graph.blocks import RULE
        self.group = QCheckBox("group repeated blocks")
        self.group.setToolTip("One row per run of identical blocks (×N), its numbers the sums "
                              "over its layers; double-click the row to list them. Exports "
                              "follow what is shown. The table keeps the design's order "
                              "while grouped (no sorting).\n" + RULE)
        copy = QToolButton()
        copy.setText("Copy")
        copy.setToolTip("Copy the table as tab-separated text (Ctrl+C copies the selection)")
        copy.clicked.connect(self.copy_all)
        export = QToolButton()
        export.setText("Export…")
        export.setToolTip("Save the table as CSV, Markdown or LaTeX")
        export.clicked.connect(self.sig_export)
        self.bar = QHBoxLayout()
        for label, widget in (("batch", self.batch), ("precision", self.precision)):
            self.bar.addWidget(QLabel(label))
            self.bar.addWidget(widget)
        self.bar.addWidget(self.bias_adds)
        self.bar.addWidget(QLabel("show"))
        self.bar.addWidget(self.mode)
        self.bar.addWidget(self.group)
        self.bar.addStretch(1)
        self.bar.addWidget(copy)
        self.bar.addWidget(export)
        self.batch.valueChanged.connect(lambda v: self.document.set_default("batch", v))
        self.precision.currentTextChanged.connect(
            lambda v: self.document.set_default("precision", v))
        self.bias_adds.toggled.connect(lambda v: self.document.set_analysis_switches(bias_adds=v))
        self.mode.currentTextChanged.connect(self.model.set_mode)
        self.group.toggled.connect(self.set_grouped)
        self.table.doubleClicked.connect(self._double_clicked)

    def set_analysis(self, analysis) -> None:
        self.model.set_analysis(analysis)
        defaults = self.document.network.defaults
        for widget, value in ((self.batch, int(defaults.get("batch", 1))),
                              (self.precision, defaults.get("precision", "fp32"))):
            with QSignalBlocker(widget):  # unblocked even if a value is refused
                if isinstance(widget, QSpinBox):
                    widget.setValue(min(max(value, widget.minimum()), widget.maximum()))
                else:
                    widget.setCurrentText(value)
        # Re-fit after every change: values grow with edits ("1×28…"); the header measures
        # only the first rows (precision above), so this stays cheap on ResNet-50.
        self._fit_columns()
        self._refresh_explain()

    def _current_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        source = self.proxy.mapToSource(current)
        self.explain.setHtml(self.model.explain(source.row(), source.column()))
        ref = self.model.rows[source.row()]
        self._explained = (ref.name, ref.part, ref.block,
                           self.model.columns[source.column()].key)
        if ref.name:
            self.sig_node_selected.emit(ref.name)

    def clear_explain(self) -> None:
        self._explained = None
        self.explain.clear()

    def _refresh_explain(self) -> None:
        """After a new analysis, the Explain box shows the same cell's new value, or
        nothing when that number no longer exists (layer deleted, invalid, or a new file)."""
        explained, self._explained = getattr(self, "_explained", None), None
        if explained is None:
            return
        name, part, block, key = explained
        row = next((r for r, ref in enumerate(self.model.rows)
                    if (ref.name, ref.part, ref.block) == (name, part, block)), None)
        column = next((c for c, col in enumerate(self.model.columns) if col.key == key), None)
        if row is None or column is None or self.model.cell(row, column) in (None, ""):
            self.explain.clear()
            return
        self._explained = explained
        self.explain.setHtml(self.model.explain(row, column))
        index = self.proxy.mapFromSource(self.model.index(row, column))
        with QSignalBlocker(self.table.selectionModel()):
            self.table.setCurrentIndex(index)

    def _fit_columns(self) -> None:
        """Fit the columns to the first rows (cheap) and to every bold row: the totals and
        the folded runs, whose sums are the widest numbers and lie further down ("5,585,…")."""
        self.table.resizeColumnsToContents()
        model = self.model
        bold = [r for r, ref in enumerate(model.rows) if ref.name is None]
        for col in range(model.columnCount()):
            need = max((self.table.sizeHintForIndex(
                self.proxy.mapFromSource(model.index(r, col))).width() for r in bold),
                default=0) + 2 * self.table.showGrid()
            if need > self.table.columnWidth(col):
                self.table.setColumnWidth(col, need)

    def set_grouped(self, on: bool) -> None:
        """Grouped, the rows keep the design's order (sorting would pull a run's layers
        away from its row), and the header says why it does not sort."""
        if on:
            self.table.sortByColumn(-1, Qt.AscendingOrder)
            self.proxy.sort(-1)  # back to the design's order
        self.table.setSortingEnabled(not on)
        self.table.horizontalHeader().setToolTip(
            GROUPED_SORT_TIP if on else "Click a column to sort by it")
        self.model.set_grouped(on)
        self._fit_columns()
        self._refresh_explain()

    def _double_clicked(self, index) -> None:
        """On a folded run's row: list its layers under it (or fold them again)."""
        source = self.proxy.mapToSource(index)
        if self.model.toggle_block(source.row()):
            self._fit_columns()
            self._refresh_explain()

    def export_table(self, title: str = ""):
        """The table as shown (grouped or not, open runs listed), for CSV/MD/LaTeX."""
        from core.graph.report import layer_table
        model = self.model
        return layer_table(model.analysis, model.mode != "forward", title,
                           folds=model.folds if model.grouped else None,
                           expanded=set(model.expanded))

    def select_node(self, name: str) -> None:
        current = self.proxy.mapToSource(self.table.currentIndex())
        if current.isValid() and self.model.rows[current.row()].name == name:
            return  # already there: keep the cell the user picked
        for row, ref in enumerate(self.model.rows):
            if ref.name == name and ref.part is None:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                self.table.blockSignals(True)
                self.table.scrollTo(index)
                self.table.selectRow(index.row())
                self.table.blockSignals(False)
                return

    def table_text(self, rows=None, columns=None) -> str:
        rows = range(self.proxy.rowCount()) if rows is None else rows
        columns = range(self.proxy.columnCount()) if columns is None else columns
        lines = ["\t".join(str(self.proxy.headerData(c, Qt.Horizontal)) for c in columns)]
        for r in rows:
            lines.append("\t".join(str(self.proxy.index(r, c).data() or "") for c in columns))
        return "\n".join(lines) + "\n"

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.table_text())

    def copy_selection(self) -> None:
        indexes = self.table.selectionModel().selectedIndexes()
        if not indexes:
            return self.copy_all()
        rows = sorted({i.row() for i in indexes})
        columns = sorted({i.column() for i in indexes})
        QGuiApplication.clipboard().setText(self.table_text(rows, columns))


class TotalsWidget(QTextBrowser):
    """Totals in every convention and the memory budget."""

    def set_analysis(self, analysis) -> None:
        if analysis is None:
            self.setHtml("<i>The network has a cycle.</i>")
            return
        t, m, o = analysis.totals, analysis.memory, analysis.options
        rows = [("parameters", f"{t.params:,}"), ("MACs", f"{t.macs:,}"),
                ("mul / add / logic / special",
                 f"{t.mul:,} / {t.add:,} / {t.logic:,} / {t.special:,}"),
                ("FLOPs (mul + add + special)", f"{t.flops:,}")]
        rows += [(k, f"{v:,}") for k, v in t.tool_conventions().items()]
        rows += [("backward mul / add / logic",
                  f"{t.backward_mul:,} / {t.backward_add:,} / {t.backward_logic:,}"),
                 ("weights + biases", human_bytes(m.parameters)),
                 ("activations (all layer outputs)", human_bytes(m.activations)),
                 ("gradients", human_bytes(m.gradients)),
                 (f"{o.optimizer} optimizer state", human_bytes(m.optimizer_state)),
                 ("inference memory", human_bytes(m.inference)),
                 ("training memory", human_bytes(m.training))]
        errors = analysis.errors
        html = [f"<p>Batch {o.batch}, {o.precision}, bias adds "
                f"{'on' if o.bias_adds else 'off'}; 1 KB = 1024 B.</p>"]
        if errors:
            html.append(f"<p style='color:#d63031'>{len(errors)} layer(s) with errors are "
                        f"left out of the totals.</p>")
        html.append("<table cellspacing=4>" + "".join(
            f"<tr><td>{k}</td><td align=right><b>{v}</b></td></tr>" for k, v in rows)
            + "</table>")
        self.setHtml("".join(html))


class GradientFlowWidget(QTextBrowser):
    """Which losses send gradients to which layers (multi-loss graphs)."""

    def set_analysis(self, analysis) -> None:
        if analysis is None:
            self.setHtml("")
            return
        losses = analysis.losses
        html = ["<p>Gradient sources: " + (", ".join(f"<b>{l}</b>" for l in losses) or
                                            "none") + "</p>"]
        if losses == ["output"]:
            html.append("<p><i>No Loss node: every output counts as the objective. Add Loss "
                        "nodes to name objectives.</i></p>")
        html.append("<table cellspacing=4><tr><th align=left>layer</th>" + "".join(
            f"<th>{l}</th>" for l in losses) + "<th>input gradient</th></tr>")
        for name in analysis.order:
            r = analysis.nodes[name]
            if not (r.param_shapes or r.losses):
                continue
            cells = "".join(f"<td align=center>{'●' if l in r.losses else ''}</td>"
                            for l in losses)
            html.append(f"<tr><td>{name}</td>{cells}<td align=center>"
                        f"{'yes' if r.needs_input_grad else 'no'}</td></tr>")
        html.append("</table>")
        self.setHtml("".join(html))


class DSComparisonWidget(QWidget):
    """This network against its depthwise-separable version, with a per-layer plot."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.plot = None
        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(self.summary)
        left.addWidget(self.table)
        layout.addLayout(left, 3)
        self._plot_holder = QVBoxLayout()
        layout.addLayout(self._plot_holder, 2)
        self.comparison = None

    def _ensure_plot(self):
        if self.plot is None:
            import pyqtgraph as pg
            self.plot = pg.PlotWidget()
            self.plot.setLabel("left", "multiplies (log10)")
            self.plot.setLabel("bottom", "layer")
            from gui.widgets.plots import plain_axes
            plain_axes(self.plot)  # "layer (x0.001)" otherwise
            # the key is the title, above the plot: a legend inside covered the bars, and
            # the f(x) marks were drawn over it
            self.plot.setTitle("<span style='color:#2e86de'>■</span> standard x &nbsp; "
                               "<span style='color:#e67e22'>■</span> separable &nbsp; "
                               "× f(x) = x·(1/Cout + 1/K²)", size="9pt")
            self.plot.showGrid(y=True, alpha=0.3)
            self._plot_holder.addWidget(self.plot)
        return self.plot

    def refresh(self) -> None:
        from core.graph.dsconv import compare_depthwise_separable  # not at start-up
        try:
            self.comparison = compare_depthwise_separable(self.document.network,
                                                          self.document.options)
        except Exception as exc:
            self.summary.setText(f"Cannot compare: {exc}")
            return
        layers = self.comparison.layers
        headers = ["layer", "mul (standard) x", "mul (separable)", "x·(1/Cout + 1/K²)",
                   "ratio", "saved", "params", "params (separable)"]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(layers))
        for row, s in enumerate(layers):
            values = [s.name, f"{s.standard_mul:,}", f"{s.separable_mul:,}",
                      f"{float(s.predicted_mul):,.0f}" + (" ✓" if s.formula_holds else " ✗"),
                      f"{s.ratio:.2%}", f"{s.mul_reduction:.2%}", f"{s.standard_params:,}",
                      f"{s.separable_params:,}"]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(s.formula())
                if col:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        totals = self.comparison.totals()
        if layers:
            self.summary.setText(" · ".join(
                f"{k}: {a:,} → {b:,} (−{red:.1%})" for k, (a, b, red) in totals.items()))
        else:
            self.summary.setText("No plain Conv2d layers to convert (grouped and 1×1 "
                                 "convolutions are left as they are).")
        self._draw(layers)

    def _draw(self, layers) -> None:
        import math

        import pyqtgraph as pg
        plot = self._ensure_plot()
        plot.clear()
        if not layers:
            return
        xs = list(range(len(layers)))
        std = [math.log10(max(1, s.standard_mul)) for s in layers]
        sep = [math.log10(max(1, s.separable_mul)) for s in layers]
        pred = [math.log10(max(1.0, float(s.predicted_mul))) for s in layers]
        plot.addItem(pg.BarGraphItem(x=[x - 0.2 for x in xs], height=std, width=0.38,
                                     brush="#2e86de", name="standard x"))
        plot.addItem(pg.BarGraphItem(x=[x + 0.2 for x in xs], height=sep, width=0.38,
                                     brush="#e67e22", name="separable"))
        plot.plot([x + 0.2 for x in xs], pred, pen=None, symbol="x", symbolSize=12,
                  symbolBrush="k", name="f(x) = x·(1/Cout + 1/K²)")
        plot.getAxis("bottom").setTicks([[(x, s.name) for x, s in zip(xs, layers)]])
        plot.setYRange(0, max(std + sep + pred) * 1.05, padding=0)
        plot.setXRange(-0.7, len(layers) - 0.3, padding=0)


class AnalysisPanel(QTabWidget):
    """Tabs of the bottom analysis area."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.layers = LayerTableWidget(document)
        self.totals = TotalsWidget()
        self.gradients = GradientFlowWidget()
        self.ds = DSComparisonWidget(document)
        self.addTab(self.layers, "Layers")
        self.addTab(self.totals, "Totals && memory")
        self.addTab(self.gradients, "Gradient flow")
        self.addTab(self.ds, "Depthwise-separable")
        self.setTabToolTip(0, "Per-layer shapes and counts; select a cell for its formula")
        self.setTabToolTip(3, "This network against its depthwise-separable version")
        self.currentChanged.connect(lambda _: self._refresh_visible())

    def set_analysis(self, analysis) -> None:
        self.layers.set_analysis(analysis)
        self.totals.set_analysis(analysis)
        self.gradients.set_analysis(analysis)
        self._refresh_visible()

    def _refresh_visible(self) -> None:
        if self.currentWidget() is self.ds:  # the comparison analyses twice: only on view
            self.ds.refresh()
