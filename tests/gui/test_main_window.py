"""The real widgets driven as a user would: drops, edits, undo, files, prompts."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox, QSpinBox

from gui.design.mime import LAYER_TYPE, decode_layer_type, layer_type_mime


def drop(view, type_name: str, scene_pos: QPointF):
    """Synthesize the drag-enter and drop events a palette drag delivers."""
    mime = layer_type_mime(type_name)
    point = view.mapFromScene(scene_pos)
    enter = QDragEnterEvent(point, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(point), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(view.viewport(), event)
    return event


def macs_of(window, name):
    model = window.analysis_panel.layers.model
    for row, ref in enumerate(model.rows):
        if ref.name == name and ref.part is None:
            col = next(i for i, c in enumerate(model.columns) if c.key == "macs")
            return model.index(row, col).data()
    raise KeyError(name)


def test_mime_round_trip():
    assert decode_layer_type(layer_type_mime("Conv2d")) == "Conv2d"
    assert decode_layer_type(QMimeData()) is None
    assert layer_type_mime("ReLU").hasFormat(LAYER_TYPE)


def test_drop_on_empty_canvas_adds_a_layer(window):
    view = window.canvas
    before = len(window.document.network)
    drop(view, "Linear", QPointF(900, 900))
    assert len(window.document.network) == before + 1
    new = [n for n in window.document.network.nodes if n.startswith("fc")][-1]
    assert "not connected" in window.document.analysis.errors[new]
    assert new in view.scene_.nodes
    window.document.undo_stack.undo()
    assert len(window.document.network) == before


def test_drop_on_an_edge_inserts_between(window):
    view, doc = window.canvas, window.document
    edge = next(e for e in view.scene_.edges if (e.src.name, e.dst.name) == ("conv1", "relu1"))
    point = edge.path().pointAtPercent(0.5)
    drop(view, "BatchNorm2d", point)
    bn = doc.network.nodes["relu1"].inputs[0]
    assert doc.network.nodes[bn].type == "BatchNorm2d"
    assert doc.network.nodes[bn].inputs == ["conv1"]
    assert doc.analysis[bn].output_shape == (6, 28, 28)
    doc.undo_stack.undo()  # one undo step removes it and rewires
    assert doc.network.nodes["relu1"].inputs == ["conv1"] and bn not in doc.network


def test_drop_on_a_node_appends_after_it(window):
    view, doc = window.canvas, window.document
    item = view.scene_.nodes["fc2"]
    drop(view, "Softmax", item.pos() + QPointF(0, 30))
    softmax = [n for n, node in doc.network.nodes.items() if node.type == "Softmax"][0]
    assert doc.network.nodes[softmax].inputs == ["fc2"]
    assert doc.analysis[softmax].forward.special.value == 10


def test_editing_a_parameter_updates_the_table_and_undo_merges(window, qtbot):
    window.select_node("conv1")
    panel = window.properties
    assert panel.node_name == "conv1"
    assert macs_of(window, "conv1") == "117,600"
    box = panel.editors["out_channels"]
    assert isinstance(box, QSpinBox)
    box.setValue(7)
    box.setValue(8)
    assert macs_of(window, "conv1") == "156,800"  # 8 × 28 × 28 × 25
    doc = window.document
    assert doc.undo_stack.count() == 1  # two edits of one field: one undo step
    doc.undo_stack.undo()
    assert macs_of(window, "conv1") == "117,600" and box.value() == 6
    doc.undo_stack.redo()
    assert macs_of(window, "conv1") == "156,800"


def test_invalid_value_shows_message_and_app_stays_usable(window):
    window.select_node("conv1")
    panel = window.properties
    kernel = panel.editors["kernel"]
    assert isinstance(kernel, QLineEdit)
    kernel.setText("40")
    kernel.editingFinished.emit()
    QApplication.processEvents()  # the form shows new rows on the next event loop turn
    error = window.document.analysis["conv1"].error
    assert error is not None and "kernel 40×40 is larger than its 28×28 input" in str(error)
    assert panel.errors["kernel"].isVisibleTo(panel)
    assert "larger than" in panel.errors["kernel"].text()
    assert window.canvas.scene_.nodes["conv1"].error
    assert window.canvas.scene_.nodes["relu1"].shape_line == "waiting for conv1"
    kernel.setText("abc")
    kernel.editingFinished.emit()
    assert "kernel 'abc' is not allowed" in panel.errors["kernel"].text()
    kernel.setText("3")
    kernel.editingFinished.emit()
    assert window.document.analysis.errors == {}
    assert not panel.errors["kernel"].isVisibleTo(panel)


def test_connect_by_dragging_a_wire(window):
    doc, view = window.document, window.canvas
    name = doc.add_node("ReLU", (500, 300))
    view.start_wire("fc2", view.scene_.nodes["fc2"].output_port())
    assert view.finish_wire(view.scene_.nodes[name].pos() + QPointF(0, 30)) is None
    assert doc.network.nodes[name].inputs == ["fc2"]
    view.start_wire(name, view.scene_.nodes[name].output_port())
    message = view.finish_wire(view.scene_.nodes["fc2"].pos() + QPointF(0, 30))
    assert "cycle" in message


def test_delete_duplicate_and_select_all(window):
    doc = window.document
    window.select_node("relu4")
    window.duplicate_selection()
    copy = window.canvas.scene_.selected_names()[0]
    assert doc.network.nodes[copy].inputs == ["fc1"] and copy != "relu4"
    window.delete_selection()
    assert copy not in doc.network
    window.select_all()
    assert len(window.canvas.scene_.selected_names()) == len(doc.network)


def test_convert_to_depthwise_separable_is_one_undo_step(window):
    doc = window.document
    window.convert_ds()
    assert doc.network.nodes["conv2"].type == "DepthwiseSeparableConv2d"
    assert doc.analysis["conv2"].forward.mul.value == 24_600
    doc.undo_stack.undo()
    assert all(doc.network.nodes[n].type == "Conv2d" for n in ("conv1", "conv2", "conv3"))


def test_save_and_load_round_trip(window, tmp_path, monkeypatch):
    path = tmp_path / "my.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.document.set_param("fc1", "out_features", 100)
    assert window.isWindowModified()
    assert window.save()
    assert not window.isWindowModified() and "my.json" in window.windowTitle()
    data = json.loads(path.read_text())
    assert next(n for n in data["nodes"] if n["name"] == "fc1")["params"]["out_features"] == 100
    window.open_preset("mlp")
    assert window.open_file(path)
    assert window.document.network.nodes["fc1"].params["out_features"] == 100
    assert str(path.resolve()) in window._recent()


def test_opening_a_broken_file_warns_and_keeps_work(window, tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    before = len(window.document.network)
    assert not window.open_file(bad)
    assert "not valid JSON" in warnings[0]
    assert len(window.document.network) == before


@pytest.mark.parametrize("answer,closes", [(QMessageBox.Cancel, False),
                                           (QMessageBox.Discard, True)])
def test_close_with_unsaved_changes_asks(window, monkeypatch, answer, closes):
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[1]) or answer)
    window.document.set_param("fc1", "out_features", 50)
    assert window.close() is closes
    assert asked == ["Unsaved changes"]


def test_autosave_and_recovery(window, qtbot, settings, monkeypatch):
    """A window that dies leaves its autosave; the next window offers it, with its path."""
    from gui.main_window import MainWindow
    window.document.path = None
    window.document.set_param("fc1", "out_features", 77)
    window.autosave()
    autosave = window.recovery.path
    assert autosave.exists()
    window.recovery._lock.unlock()  # what the lock looks like once its process is gone
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    other = MainWindow(settings)
    assert other.offer_recovery()
    assert other.document.network.nodes["fc1"].params["out_features"] == 77
    assert other.document.modified and not autosave.exists()
    other.document.undo_stack.setClean()
    other.close()


def test_explain_box_shows_formula(window):
    layers = window.analysis_panel.layers
    model = layers.model
    row = next(i for i, r in enumerate(model.rows) if r.name == "conv2" and r.part is None)
    col = next(i for i, c in enumerate(model.columns) if c.key == "add")
    layers.table.setCurrentIndex(layers.proxy.mapFromSource(model.index(row, col)))
    text = layers.explain.toPlainText()
    assert "16 × 10 × 10 × (6 × 5 × 5 − 1) + 16 × 10 × 10" in text and "240,000" in text


def test_batch_and_precision_selectors(window):
    layers = window.analysis_panel.layers
    layers.batch.setValue(4)
    assert window.document.analysis.options.batch == 4
    assert macs_of(window, "conv1") == "470,400"
    layers.precision.setCurrentText("fp16")
    assert window.document.analysis.memory.parameters == 2 * 61_706
    layers.bias_adds.setChecked(False)
    assert window.document.analysis.totals.add == 4 * 410_002
    window.document.undo_stack.undo()  # precision is part of the design: undoable
    assert window.document.analysis.options.precision == "fp32"


def test_sorting_keeps_totals_last(window):
    layers = window.analysis_panel.layers
    col = next(i for i, c in enumerate(layers.model.columns) if c.key == "macs")
    layers.table.sortByColumn(col, Qt.DescendingOrder)
    first = layers.proxy.index(0, 0).data()
    last = layers.proxy.index(layers.proxy.rowCount() - 1, 0).data()
    assert first == "total" or last == "total"
    assert layers.proxy.index(1, 0).data() == "conv2" or first == "conv2"


def test_model_passes_qtmodeltester(window, qtmodeltester):
    model = window.analysis_panel.layers.model
    qtmodeltester.check(model)
    model.set_mode("both")
    qtmodeltester.check(model)


def test_ds_comparison_tab(window):
    panel = window.analysis_panel
    panel.setCurrentWidget(panel.ds)
    table = panel.ds.table
    assert table.rowCount() == 3
    assert table.item(0, 2).text() == "24,304"
    assert "✓" in table.item(2, 3).text()


def test_solver_dialog_applies_to_the_layer(window, qtbot):
    from gui.design.solver_dialog import ConvSolverDialog
    window.select_node("pool1")
    dialog = ConvSolverDialog(window.document, "pool1", window)
    qtbot.addWidget(dialog)
    assert dialog.size_in.text() == "28,28" and dialog.size_out.text() == "14,14"
    dialog.kernel.setText("4")
    dialog.table.selectRow(0)
    dialog.apply()
    params = window.document.network.nodes["pool1"].params
    assert params["kernel"] == 4 and window.document.analysis["pool1"].output_shape == (6, 14,
                                                                                         14)
    window.document.undo_stack.undo()
    assert window.document.network.nodes["pool1"].params["kernel"] == 2


def test_palette_filter(window):
    tree = window.layer_palette.tree
    tree.apply_filter("conv")
    visible = [tree.topLevelItem(i).child(j).text(0) for i in range(tree.topLevelItemCount())
               for j in range(tree.topLevelItem(i).childCount())
               if not tree.topLevelItem(i).child(j).isHidden()]
    assert "Conv2d" in visible and "ReLU" not in visible


def test_export_table_and_code(window, tmp_path, monkeypatch):
    csv_path, code_path = tmp_path / "t.csv", tmp_path / "m.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(csv_path), ""))
    window.export_table()
    assert "416520" in csv_path.read_text()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(code_path), ""))
    window.export_code()
    assert "class Lenet5(nn.Module)" in code_path.read_text()
    assert window.render_canvas_png(tmp_path / "c.png") and (tmp_path / "c.png").stat().st_size


def test_screenshot_command(tmp_path):
    import subprocess
    import sys
    out = tmp_path / "shot.png"
    result = subprocess.run([sys.executable, "-m", "gui.launcher", "--screenshot", str(out),
                             "--preset", "cnn"], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    from PySide6.QtGui import QImage
    image = QImage(str(out))
    assert image.width() >= 1000 and image.height() >= 600


def test_new_design_and_append_from_palette(window, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    window.new_design()
    doc = window.document
    assert list(doc.network.nodes) == ["input"]
    window.select_node("input")
    window.append_layer("Conv2d")
    window.append_layer("ReLU")
    assert doc.analysis.errors == {} and len(doc.network) == 3
    assert doc.network.nodes["relu1"].inputs == ["conv1"]


def test_compare_with_a_saved_design(window, tmp_path):
    from core.graph import io
    from core.graph.presets import load_preset
    path = tmp_path / "ds.json"
    io.save(load_preset("lenet5-ds"), path)
    assert window.compare_with_design(str(path))
    table = window.compare_dialog.table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert table.item(rows["conv1"], 4).text() == "117,600"  # MACs of this design
    assert table.item(rows["conv1"], 5).text() == "24,304"   # MACs of the saved one
    assert table.item(rows["total"], 6).text() == "85.1%"
    window.compare_dialog.close()


def test_training_workspace_is_reachable_and_close_joins_its_thread(window, qtbot,
                                                                    monkeypatch):
    from gui.main_window import WORKSPACES
    monkeypatch.delenv("MLSYS_MNIST_DIR", raising=False)
    window.show_workspace(WORKSPACES.index("Training"))
    assert window.current_page() is window.training_panel
    assert not window.analysis_dock.isVisible()
    window.show_workspace(0)
    assert window.analysis_dock.isVisible()
    panel = window.training_panel
    panel.start()
    qtbot.waitUntil(lambda: panel.controller.is_running(), timeout=10_000)
    window.document.undo_stack.setClean()
    assert window.close()
    assert not panel.controller.is_running()


def test_open_a_conv_in_the_dataflow_lab(window, qtbot):
    from gui.main_window import WORKSPACES
    menu = window.node_menu("conv2")
    action = next(a for a in menu.actions() if a.text() == "Open in Dataflow lab")
    assert action.isEnabled()
    assert not next(a for a in window.node_menu("relu1").actions()
                    if a.text() == "Open in Dataflow lab").isEnabled()
    assert window.open_in_dataflow("conv2")
    assert window.workspace_bar.currentIndex() == WORKSPACES.index("Dataflow")
    assert window.current_page() is window.dataflow_panel
    assert not window.palette_dock.isVisible()
