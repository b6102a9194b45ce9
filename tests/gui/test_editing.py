"""Shortcuts and editing details of the Design workspace (issue 14): one action per key,
Ctrl+Z in a property field, refused values reverted, the Explain box, column fitting,
inserting on an edge without overlap, New at natural size, plurals, the shortcut list."""

from __future__ import annotations

from collections import defaultdict

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction, QShortcut
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit, QSpinBox

from gui.design.canvas import NODE_H
from gui.main_window import WORKSPACES, plural


def active_keys(window) -> dict[str, list]:
    """Key → the objects it would trigger in the window as shown now."""
    keys = defaultdict(list)
    for action in window.findChildren(QAction):
        if action.parent() is window or action.menu() is None and action.shortcut():
            for seq in action.shortcuts():
                if action not in keys[seq.toString()]:
                    keys[seq.toString()].append(action)
    for shortcut in window.findChildren(QShortcut):
        if shortcut.parent().isVisible() and shortcut.key().toString():
            keys[shortcut.key().toString()].append(shortcut)
    for button in window.findChildren(QAbstractButton):
        if button.isVisible() and button.shortcut().toString():
            keys[button.shortcut().toString()].append(button)
    keys.pop("", None)
    return keys


@pytest.mark.parametrize("name", WORKSPACES)
def test_no_two_actions_share_a_shortcut(window, qtbot, name):
    window.show_workspace(WORKSPACES.index(name))
    QApplication.processEvents()
    clashes = {k: [getattr(o, "text", lambda: type(o).__name__)() for o in objs]
               for k, objs in active_keys(window).items() if len(objs) > 1}
    assert not clashes
    assert window.act_solver.shortcut() != window.act_save_as.shortcut()


def test_the_shortcut_list_names_every_bound_action(window):
    from gui.widgets.shortcuts import menu_shortcuts, shortcuts_html
    rows = menu_shortcuts(window.menuBar())
    names = {action for _, action, _ in rows}
    assert {"Save As…", "Conv Solver…", "Undo", "Zoom to Fit"} <= names
    assert len({keys for *_, keys in rows}) == len(rows)  # and the list shows no clash
    window.act_shortcuts.trigger()
    assert "Conv Solver" in window.shortcuts_dialog.text.toPlainText()
    assert "Conv Solver" in shortcuts_html(window.menuBar())
    window.shortcuts_dialog.close()


def focus_field(window, qtbot, node: str, key: str):
    window.select_node(node)
    window.activateWindow()
    qtbot.waitActive(window)
    editor = window.properties.editors[key]
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus if not isinstance(editor, QSpinBox)
                    else lambda: editor.lineEdit().hasFocus() or editor.hasFocus())
    return editor


def test_ctrl_z_in_a_property_field_undoes_the_design(window, qtbot):
    doc = window.document
    editor = focus_field(window, qtbot, "conv1", "stride")
    assert isinstance(editor, QLineEdit)
    editor.setText("2")
    editor.editingFinished.emit()
    assert doc.network.nodes["conv1"].params["stride"] in (2, [2, 2], (2, 2))
    assert editor.hasFocus()
    qtbot.keyClick(editor, Qt.Key_Z, Qt.ControlModifier)
    assert doc.network.nodes["conv1"].params["stride"] in (1, [1, 1], (1, 1))
    assert editor.text() == "1"  # the focused field shows the undone value
    # typed, uncommitted text: Ctrl+Z is the field's own undo, the design is untouched
    before = doc.undo_stack.index()
    editor.setFocus()
    qtbot.keyClicks(editor, "7")
    qtbot.keyClick(editor, Qt.Key_Z, Qt.ControlModifier)
    assert doc.undo_stack.index() == before
    assert editor.text() == "1"


@pytest.mark.parametrize("key,text", [("stride", "abc"), ("stride", "0"), ("padding", "-1")])
def test_a_refused_value_is_reverted_with_its_message(window, qtbot, key, text):
    doc = window.document
    window.select_node("conv1")
    editor = window.properties.editors[key]
    old = editor.text()
    before = doc.undo_stack.index()
    editor.setText(text)
    editor.editingFinished.emit()
    assert doc.undo_stack.index() == before
    assert editor.text() == old  # the field shows what the model holds
    error = window.properties.errors[key]
    assert error.isVisibleTo(window.properties) and key in error.text().lower() \
        or f"kept {old}" in error.text()
    assert f"kept {old}" in error.text()


def test_a_value_that_breaks_shapes_turns_the_node_red(window):
    window.select_node("conv1")
    editor = window.properties.editors["kernel"]
    editor.setText("50")
    editor.editingFinished.emit()
    assert window.canvas.scene_.nodes["conv1"].error
    assert window.properties.errors["kernel"].text()


def explain_cell(window, name: str, key: str):
    layers = window.analysis_panel.layers
    model = layers.model
    row = next(r for r, ref in enumerate(model.rows) if ref.name == name and ref.part is None)
    col = next(c for c, column in enumerate(model.columns) if column.key == key)
    layers.table.setCurrentIndex(layers.proxy.mapFromSource(model.index(row, col)))
    return layers.explain.toPlainText()


def test_explain_box_follows_edits_and_clears_when_the_number_is_gone(window):
    layers = window.analysis_panel.layers
    assert "117,600" in explain_cell(window, "conv1", "macs")
    window.document.set_param("conv1", "out_channels", 12)  # new number, same cell
    assert "235,200" in layers.explain.toPlainText()
    window.document.set_param("conv1", "kernel", 50)  # invalid: the number is gone
    assert layers.explain.toPlainText() == ""
    window.document.undo_stack.undo()
    assert "235,200" not in layers.explain.toPlainText()
    explain_cell(window, "conv2", "macs")
    window.document.remove_nodes(["conv2"])
    assert layers.explain.toPlainText() == ""
    explain_cell(window, "conv1", "macs")
    window.new_design()  # modified: the fixture's prompt is answered below
    assert layers.explain.toPlainText() == ""


@pytest.fixture(autouse=True)
def discard_changes(monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)


def test_columns_refit_after_an_edit(window):
    table = window.analysis_panel.layers.table
    model = window.analysis_panel.layers.model
    col = next(c for c, column in enumerate(model.columns) if column.key == "input")
    window.document.set_param("input", "shape", "3,2240,2240")
    assert table.columnWidth(col) >= table.sizeHintForColumn(col)
    assert table.columnWidth(col) >= table.fontMetrics().horizontalAdvance("3×2240×2240")


def overlaps(a, b) -> bool:
    return a.sceneBoundingRect().intersects(b.sceneBoundingRect())


def test_dropping_on_an_edge_makes_room(window):
    view, doc = window.canvas, window.document
    edge = next(e for e in view.scene_.edges if (e.src.name, e.dst.name) == ("conv1", "relu1"))
    name = view.drop_layer("BatchNorm2d", edge.path().pointAtPercent(0.5))
    nodes = view.scene_.nodes
    assert doc.network.nodes["relu1"].inputs == [name]
    for other in ("conv1", "relu1", "pool1"):
        assert not overlaps(nodes[name], nodes[other]), other
    assert nodes["relu1"].pos().y() > nodes[name].pos().y() + NODE_H
    assert nodes["pool1"].pos().y() > nodes["relu1"].pos().y() + NODE_H  # downstream moved too
    doc.undo_stack.undo()  # one step: node, rewiring and moves
    assert name not in doc.network
    assert not overlaps(nodes["conv1"], nodes["relu1"])
    assert nodes["relu1"].pos().y() < nodes["pool1"].pos().y()


def test_new_design_opens_at_natural_size(window, qtbot):
    window.new_design()
    qtbot.wait(20)
    window.canvas.zoom_to_fit()
    assert window.canvas.transform().m11() == pytest.approx(1.0)


def test_zoom_to_fit_fits_a_long_network(window, qtbot):
    from core.graph.network import Network
    net = Network("long")
    net.add_node("Input", "input", {"shape": [8]}, position=(0, 0))
    previous = "input"
    for i in range(200):
        net.add_node("ReLU", f"r{i}", {}, [previous], position=(0, 96.0 * (i + 1)))
        previous = f"r{i}"
    window.document.load_network(net)
    window.canvas.zoom_to_fit()
    view = window.canvas
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(view.scene_.itemsBoundingRect())


def test_status_line_pluralises(window):
    assert plural(1, "layer") == "1 layer" and plural(2, "layer") == "2 layers"
    assert plural(1234, "layer") == "1,234 layers"
    window.new_design()
    assert window.status.text().startswith("1 layer ·")


def test_undo_redo_and_layout_have_icons_that_say_so(window):
    from PySide6.QtGui import QColor
    from gui.widgets.icons import drawn_icon
    images = [a.icon().pixmap(32, 32).toImage() for a in (window.act_undo, window.act_redo,
                                                          window.act_layout)]
    assert all(not image.isNull() for image in images)
    assert images[0] != images[1]  # redo is undo mirrored, not the same picture
    with pytest.raises(ValueError):
        drawn_icon("play", QColor("black"))


def test_back_in_design_the_canvas_is_where_it_was(window, qtbot):
    view = window.canvas
    view.resetTransform()
    view.centerOn(view.scene_.nodes["fc2"])
    QApplication.processEvents()
    before = view.mapToScene(view.viewport().rect().center())
    window.show_workspace(WORKSPACES.index("Dataflow"))
    qtbot.wait(20)
    window.show_workspace(0)
    qtbot.wait(50)
    after = view.mapToScene(view.viewport().rect().center())
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2
    assert len(view.scene_.nodes) == len(window.document.network)


def test_depthwise_separable_chart_keeps_its_key_off_the_bars(window, qtbot):
    panel = window.analysis_panel
    panel.setCurrentIndex(next(i for i in range(panel.count())
                               if panel.tabText(i) == "Depthwise-separable"))
    qtbot.wait(20)
    ds = panel.currentWidget()
    plot = ds._ensure_plot()
    assert plot.plotItem.legend is None  # no legend inside the plot area
    title = plot.plotItem.titleLabel.text
    assert "standard" in title and "separable" in title and "f(x)" in title


def test_open_in_dataflow_shows_the_animation_tab(window):
    panel = window.ensure_dataflow_panel()
    panel.tabs.setCurrentIndex(2)
    assert window.open_in_dataflow("conv2")
    assert panel.tabs.currentIndex() == 0


def test_coarse_buffer_caption_does_not_contradict_the_capacity():
    from gui.dataflow.views import coarse_fill_text
    assert coarse_fill_text(0, 200) == "no fill"
    assert coarse_fill_text(1, 200) == "1 element filled"
    assert coarse_fill_text(150, 200) == "150 elements filled"
    text = coarse_fill_text(4704, 200)
    assert "4,704 elements filled" not in text and "≈24 fills" in text  # ceil(4704/200)
