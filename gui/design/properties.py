"""The property form of the selected node: name, parameters (one widget per parameter
kind), shapes, and errors shown next to the field they concern — never a dialog."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox,
                               QFormLayout, QLabel, QLineEdit, QScrollArea, QSpinBox,
                               QVBoxLayout, QWidget)

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
        self._shown: dict[str, str] = {}  # text last put into (or committed from) a field
        self._text_fields: dict[QWidget, str] = {}  # a field's text widget -> its key
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
        self._shown, self._text_fields = {}, {}

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
        text = editor.lineEdit() if isinstance(editor, QAbstractSpinBox) else editor
        if isinstance(text, QLineEdit):
            self._text_fields[text] = key
            self._shown[key] = editor.text()
            text.installEventFilter(self)

    # -- undo inside a field ----------------------------------------------------------------
    def pending(self, key: str) -> bool:
        """True while a field holds typed text that has not been committed."""
        editor = self.editors.get(key)
        if isinstance(editor, QAbstractSpinBox):
            return editor.text() != editor.textFromValue(editor.value())
        return isinstance(editor, QLineEdit) and editor.text() != self._shown.get(key)

    def eventFilter(self, watched, event) -> bool:
        """Ctrl+Z / Ctrl+Shift+Z in a field: the field's own undo while it holds typed
        text, the document's undo otherwise (the window's Undo action gets the key)."""
        if event.type() == QEvent.ShortcutOverride and watched in self._text_fields and (
                event.matches(QKeySequence.Undo) or event.matches(QKeySequence.Redo)):
            if not self.pending(self._text_fields[watched]):
                event.ignore()
                return True
        return super().eventFilter(watched, event)

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
        """A value a parameter cannot take ("abc", stride 0) is refused: its message stays
        beside the field and the field shows the kept value again. A value it can take but
        whose shapes do not work (kernel 50) is set, and the node turns red."""
        if self._building or self.node_name is None:
            return
        error = self.document.set_param(self.node_name, key, value)
        if error:
            kept = self._model_text(key)
            self._sync_values(force=True)
            self._show_field_error(key, f"{error} (kept {kept})" if kept else error)
        elif key in self._shown:
            self._shown[key] = self.editors[key].text()

    def _rename(self, edit: QLineEdit) -> None:
        if self._building or self.node_name is None or edit.text() == self.node_name:
            return
        old = self.node_name
        new = edit.text().strip()
        error = self.document.rename_node(old, new)
        if error:
            self._sync_values(force=True)
            self._show_field_error("name", f"{error} (kept {old})")
        else:
            self.node_name = new
            self._shown["name"] = new

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

    def _model_text(self, key: str) -> str:
        node = self.document.network.nodes[self.node_name]
        if key == "name":
            return node.name
        value = node.params.get(key)
        spec = layer_type(node.type).spec(key)
        if spec is None or value is None:
            return "" if value is None else str(value)
        return (_pair_text(value) if spec.kind == "pair" else ",".join(map(str, value))
                if spec.kind == "shape" else str(value))

    def _sync_values(self, force: bool = False) -> None:
        """Reflect undo/redo in the editors without re-committing (a field with typed,
        uncommitted text keeps it unless ``force``)."""
        node = self.document.network.nodes[self.node_name]
        self._building = True
        for key, editor in self.editors.items():
            value = node.name if key == "name" else node.params.get(key)
            if isinstance(editor, QSpinBox) and (editor.value() != value or force):
                editor.setValue(int(value))
                editor.lineEdit().setText(editor.textFromValue(int(value)))
            elif isinstance(editor, QDoubleSpinBox) and (editor.value() != value or force):
                editor.setValue(float(value))
                editor.lineEdit().setText(editor.textFromValue(float(value)))
            elif isinstance(editor, QCheckBox) and editor.isChecked() != bool(value):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox) and editor.currentText() != str(value):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QLineEdit) and (force or not self.pending(key)):
                text = self._model_text(key)
                if editor.text() != text:
                    editor.setText(text)
                self._shown[key] = text
        self._building = False
