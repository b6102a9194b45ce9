"""The property form of the selected node: name, parameters (one widget per parameter
kind), shapes, and errors shown next to the field they concern — never a dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QLineEdit, QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from core.graph.catalog import layer_type
from core.common.explain import shape_text

from gui.widgets.field import ERROR_STYLE, add_field_row



def _pair_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return f"{value[0]},{value[1]}" if value[0] != value[1] else str(value[0])
    return str(value)


class PropertyPanel(QWidget):
    """Edits one node through the document; rebuilt when the selection changes."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.node_name: str | None = None
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self._building = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        outer.addWidget(scroll)
        self.body = QWidget()
        scroll.setWidget(self.body)
        self.form = QFormLayout(self.body)
        self.form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.show_node(None)

    # -- building -----------------------------------------------------------------------
    def _clear(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors, self.errors = {}, {}

    def show_node(self, name: str | None) -> None:
        self._building = True
        self._clear()
        self.node_name = name if name in self.document.network.nodes else None
        if self.node_name is None:
            hint = QLabel("Select a layer on the canvas to edit it.\n\nDrag layers from the "
                          "palette; drag from a node's bottom dot to another node to connect.")
            hint.setWordWrap(True)
            self.form.addRow(hint)
            self._building = False
            return
        node = self.document.network.nodes[self.node_name]
        kind = layer_type(node.type)
        title = QLabel(f"<b>{node.type}</b><br><i>{kind.doc}</i>")
        title.setWordWrap(True)
        self.form.addRow(title)
        self.node_error = QLabel()
        self.node_error.setWordWrap(True)
        self.node_error.setStyleSheet(ERROR_STYLE)
        self.form.addRow(self.node_error)
        name_edit = QLineEdit(node.name)
        name_edit.setToolTip("The layer's name (letters, digits and _)")
        name_edit.editingFinished.connect(lambda: self._rename(name_edit))
        self._add_field("name", "name", name_edit)
        for spec in kind.params:
            editor = self._editor_for(spec, node.params.get(spec.name, spec.default))
            editor.setToolTip(f"{spec.doc}\nAllowed: {spec.allowed()}")
            self._add_field(spec.name, spec.title, editor)
        self.shapes = QLabel()
        self.shapes.setWordWrap(True)
        self.shapes.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.form.addRow("shapes", self.shapes)
        self._building = False
        self.update_status()

    def _add_field(self, key: str, label: str, editor: QWidget) -> None:
        self.editors[key] = editor
        self.errors[key] = add_field_row(self.form, label, editor)

    def _editor_for(self, spec, value) -> QWidget:
        key = spec.name
        if spec.kind == "int":
            box = QSpinBox()
            box.setRange(int(spec.minimum if spec.minimum is not None else -10**6),
                         int(spec.maximum if spec.maximum is not None else 10**9))
            box.setValue(int(value))
            box.setKeyboardTracking(False)
            box.valueChanged.connect(lambda v, k=key: self._commit(k, v))
            return box
        if spec.kind == "float":
            box = QDoubleSpinBox()
            box.setDecimals(6 if (spec.maximum or 1) <= 1 and value < 0.01 else 3)
            box.setRange(spec.minimum if spec.minimum is not None else -1e9,
                         spec.maximum if spec.maximum is not None else 1e9)
            box.setSingleStep(0.05)
            box.setValue(float(value))
            box.setKeyboardTracking(False)
            box.valueChanged.connect(lambda v, k=key: self._commit(k, v))
            return box
        if spec.kind == "bool":
            box = QCheckBox()
            box.setChecked(bool(value))
            box.toggled.connect(lambda v, k=key: self._commit(k, v))
            return box
        if spec.kind in ("choice", "node"):
            box = QComboBox()
            options = list(spec.choices) if spec.kind == "choice" else [""] + [
                n for n in self.document.network.nodes if n != self.node_name]
            box.addItems([str(o) for o in options])
            box.setCurrentText(str(value))
            box.currentTextChanged.connect(lambda v, k=key: self._commit(k, v))
            return box
        edit = QLineEdit(_pair_text(value) if spec.kind == "pair" else
                         ",".join(str(v) for v in value) if spec.kind == "shape" else str(value))
        edit.setPlaceholderText("h,w or one number" if spec.kind == "pair" else "e.g. 1,28,28")
        edit.editingFinished.connect(lambda k=key, e=edit: self._commit(k, e.text()))
        return edit

    # -- editing ------------------------------------------------------------------------
    def _commit(self, key: str, value) -> None:
        if self._building or self.node_name is None:
            return
        error = self.document.set_param(self.node_name, key, value)
        if error:  # a valid value re-runs the analysis, whose status shows any error
            self._show_field_error(key, error)

    def _rename(self, edit: QLineEdit) -> None:
        if self._building or self.node_name is None or edit.text() == self.node_name:
            return
        old = self.node_name
        new = edit.text().strip()
        error = self.document.rename_node(old, new)
        if error:
            self._show_field_error("name", error)
        else:
            self.node_name = new

    def _show_field_error(self, key: str, error: str | None) -> None:
        label = self.errors.get(key)
        if label is None:
            return
        label.setText(error or "")
        label.setVisible(bool(error))

    # -- after each analysis --------------------------------------------------------------
    def update_status(self) -> None:
        """Show the node's analysis error (beside its parameter) and its shapes."""
        if self.node_name is None or self.node_name not in self.document.network.nodes:
            if self.node_name is not None:
                self.show_node(None)
            return
        analysis = self.document.analysis
        result = analysis.nodes.get(self.node_name) if analysis else None
        for label in self.errors.values():
            label.hide()
        self.node_error.setText("")
        if result is None:
            return
        if result.error is not None:
            label = self.errors.get(result.error.param)
            if label is not None:
                label.setText(result.error.detail)
                label.show()
            else:
                self.node_error.setText(result.error.detail)
        elif result.waiting_on:
            self.node_error.setText(f"waiting for {result.waiting_on}, which has an error")
        parts = []
        if result.input_shapes:
            parts.append("in: " + ", ".join(shape_text(s) for s in result.input_shapes))
        if result.output_shape is not None:
            parts.append("out: " + shape_text(result.output_shape))
        for pname, shape in result.param_shapes.items():
            parts.append(f"{pname}: {shape_text(shape)}")
        self.shapes.setText("\n".join(parts))
        self._sync_values()

    def _sync_values(self) -> None:
        """Reflect undo/redo in the editors without re-committing."""
        node = self.document.network.nodes[self.node_name]
        self._building = True
        for key, editor in self.editors.items():
            value = node.name if key == "name" else node.params.get(key)
            if isinstance(editor, QSpinBox) and editor.value() != value:
                editor.setValue(int(value))
            elif isinstance(editor, QDoubleSpinBox) and editor.value() != value:
                editor.setValue(float(value))
            elif isinstance(editor, QCheckBox) and editor.isChecked() != bool(value):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox) and editor.currentText() != str(value):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QLineEdit) and not editor.hasFocus():
                spec = layer_type(node.type).spec(key)
                text = (str(value) if spec is None else _pair_text(value) if spec.kind == "pair"
                        else ",".join(map(str, value)) if spec.kind == "shape" else str(value))
                if editor.text() != text:
                    editor.setText(text)
        self._building = False
