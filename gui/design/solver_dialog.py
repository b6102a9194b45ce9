"""Conv solver dialog: input and output sizes in, every (kernel, stride, padding,
dilation) out, exact ones marked; picking one applies it to the selected layer."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDialog, QDialogButtonBox,
                               QFormLayout, QLabel, QLineEdit, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from core.common.errors import MlsysError
from core.graph.solver import parse_size, solve


class ConvSolverDialog(QDialog):
    def __init__(self, document=None, node: str | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Conv / pool configuration solver")
        self.document, self.node = document, node
        self.size_in = QLineEdit("8")
        self.size_out = QLineEdit("5")
        self.kernel = QLineEdit()
        self.kernel.setPlaceholderText("any")
        self.exact = QCheckBox("only exact (stride tiles the input)")
        self.max_dilation = QSpinBox()
        self.max_dilation.setRange(1, 8)
        for w, tip in ((self.size_in, "Input size: H or H,W"),
                       (self.size_out, "Wanted output size: H or H,W"),
                       (self.kernel, "Fix the kernel size (optional)"),
                       (self.max_dilation, "Try dilations up to this")):
            w.setToolTip(tip)
        self._prefill()
        form = QFormLayout()
        form.addRow("input", self.size_in)
        form.addRow("output", self.size_out)
        form.addRow("kernel", self.kernel)
        form.addRow("max dilation", self.max_dilation)
        form.addRow(self.exact)
        self.message = QLabel()
        self.message.setStyleSheet("color: #d63031;")
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["kernel", "stride", "padding", "dilation",
                                              "tiling"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.apply_button = self.buttons.addButton("Apply to " + (node or "selected layer"),
                                                   QDialogButtonBox.AcceptRole)
        self.apply_button.setEnabled(bool(node))
        self.apply_button.setToolTip("Set kernel, stride, padding and dilation of the selected "
                                     "layer (one undo step)")
        self.buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self.apply)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.table)
        layout.addWidget(self.buttons)
        for w in (self.size_in, self.size_out, self.kernel):
            w.textChanged.connect(self.recompute)
        self.exact.toggled.connect(self.recompute)
        self.max_dilation.valueChanged.connect(self.recompute)
        self.solutions = []
        self.resize(520, 520)
        self.recompute()

    def _prefill(self) -> None:
        if not (self.document and self.node and self.document.analysis):
            return
        result = self.document.analysis.nodes.get(self.node)
        if result and result.ok and len(result.input_shapes[0]) == 3:
            self.size_in.setText(",".join(map(str, result.input_shapes[0][1:])))
            self.size_out.setText(",".join(map(str, result.output_shape[1:])))

    def recompute(self) -> None:
        self.table.setRowCount(0)
        try:
            size_in = parse_size(self.size_in.text(), "input")
            size_out = parse_size(self.size_out.text(), "output")
            kernel = parse_size(self.kernel.text(), "kernel") if self.kernel.text().strip() \
                else None
            self.solutions = solve(size_in, size_out, kernel, self.max_dilation.value(),
                                   self.exact.isChecked())[:2000]
        except MlsysError as exc:
            self.message.setText(str(exc))
            self.solutions = []
            return
        self.message.setText("" if self.solutions else "No configuration gives that size.")
        self.table.setRowCount(len(self.solutions))
        for row, s in enumerate(self.solutions):
            for col, value in enumerate((s.kernel, s.stride, s.padding, s.dilation)):
                text = f"{value[0]}×{value[1]}" if isinstance(value, tuple) else str(value)
                self.table.setItem(row, col, QTableWidgetItem(text))
            tiling = QTableWidgetItem("exact" if s.exact else "floored")
            tiling.setForeground(Qt.darkGreen if s.exact else Qt.darkYellow)
            self.table.setItem(row, 4, tiling)

    def apply(self) -> None:
        row = self.table.currentRow()
        if not (self.document and self.node) or not (0 <= row < len(self.solutions)):
            self.message.setText("Pick a configuration first.")
            return
        s = self.solutions[row]
        node = self.document.network.nodes[self.node]
        stack = self.document.undo_stack
        stack.beginMacro(f"Apply solver configuration to {self.node}")
        for key in ("kernel", "stride", "padding", "dilation"):
            if key in node.params:
                value = getattr(s, key)
                error = self.document.set_param(self.node, key, list(value) if isinstance(
                    value, tuple) else value)
                if error:
                    self.message.setText(error)
        stack.endMacro()
        self.accept()
