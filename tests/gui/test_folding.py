"""Folded repeated blocks on the canvas and in the analysis table (issue 14): one node ×N
with the sums over its members, expandable in place and foldable again, a view state that
neither the undo stack nor a saved file sees; the grouped table and its exports."""

from __future__ import annotations

import json

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from core.graph.analysis import analyze
from core.graph.blocks import find_folds
from core.graph.presets import load_preset


def open_preset(window, name):
    window.document.load_network(load_preset(name))
    QApplication.processEvents()


def fold_on(window):
    window.act_fold.setChecked(True)
    QApplication.processEvents()
    return window.canvas.scene_


def test_folding_shows_one_node_per_run_with_the_members_sums(window):
    open_preset(window, "bert-base")
    scene = fold_on(window)
    assert len(scene.blocks) == 1
    block = next(iter(scene.blocks.values()))
    assert block.fold.count == 12 and "×12" in block.fold.label()
    members = set(block.fold.nodes)
    assert not members & set(scene.nodes)  # its layers are hidden
    assert len(scene.nodes) == len(window.document.network) - len(members)
    params = sum(window.document.analysis.nodes[n].weight_elements
                 + window.document.analysis.nodes[n].bias_elements for n in members)
    assert f"{params / 1e6:.3g}M params" in block.lines[0]  # 85.1M
    assert block.lines[1].startswith(f"{len(block.fold.members[0])} layers each")
    assert f"params {params:,}" in block.toolTip()
    # edges into and out of the run end at the block; none dangles
    assert any(e.dst is block for e in scene.edges) and any(e.src is block for e in scene.edges)
    for edge in scene.edges:
        assert edge.src.scene() is scene and edge.dst.scene() is scene
    # the whole folded graph fits in view
    window.canvas.zoom_to_fit()
    visible = window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect()
    assert visible.contains(scene.itemsBoundingRect())


def test_double_click_expands_in_place_and_the_menu_folds_it_again(window, qtbot):
    open_preset(window, "resnet50")
    scene = fold_on(window)
    assert sorted(b.fold.count for b in scene.blocks.values()) == [2, 2, 3, 5]
    block = next(b for b in scene.blocks.values() if b.fold.count == 5)
    fold_id, members = block.fold.id, block.fold.nodes
    view = window.canvas
    view.centerOn(block)
    QApplication.processEvents()
    point = view.mapFromScene(block.sceneBoundingRect().center())
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=point)
    qtbot.waitUntil(lambda: fold_id not in scene.blocks, timeout=3000)
    assert set(members) <= set(scene.nodes) and len(scene.blocks) == 3
    from gui.design.canvas import EdgeItem
    assert any(isinstance(e, EdgeItem) and e.src.name == members[0] for e in scene.edges)
    # the open block's layers offer "Collapse …"
    menu = window.node_menu(members[3])
    collapse = [a for a in menu.actions() if a.text().startswith("&Collapse")]
    assert len(collapse) == 1
    collapse[0].trigger()
    assert fold_id in scene.blocks and not set(members) & set(scene.nodes)
    # folding is not an edit: nothing on the undo stack, the design still has every layer
    assert window.document.undo_stack.count() == 0
    assert len(window.document.network) == 176


def test_saving_while_folded_saves_the_layers(window, tmp_path):
    open_preset(window, "resnet18")
    plain = tmp_path / "plain.json"
    window.document.save(plain)
    fold_on(window)
    folded = tmp_path / "folded.json"
    window.document.save(folded)
    assert json.loads(folded.read_text()) == json.loads(plain.read_text())


def test_editing_inside_an_expanded_block_and_undo(window):
    open_preset(window, "resnet50")
    scene = fold_on(window)
    block = next(b for b in scene.blocks.values() if b.fold.count == 5)
    window.canvas.expand_block(block.fold.id)
    inside = "layer3_3_conv2"
    assert inside in scene.nodes
    window.canvas.scene_.select_names([inside])
    assert window.document.set_param(inside, "dilation", 2) is None
    window.document.set_param(inside, "padding", 2)
    # the edited block differs now: the run of 5 became two runs of 2; the first keeps
    # the open run's id (its first layer) and stays open, the second is a new closed run
    counts = sorted(b.fold.count for b in scene.blocks.values())
    assert counts == [2, 2, 2, 3]
    assert {inside, "layer3_1_conv1"} <= set(scene.nodes)
    assert "layer3_4_conv1" not in scene.nodes and "layer3_4_conv1" in scene.blocks
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert sorted(f.count for f in scene.folding.folds) == [2, 2, 3, 5]
    assert "layer3_1_conv1" in scene.folding.expanded  # the run of 5 is back, still open
    assert {"layer3_3_conv2", "layer3_5_conv1"} <= set(scene.nodes)


def test_search_jump_opens_the_fold_that_hides_the_layer(window):
    open_preset(window, "bert-base")
    scene = fold_on(window)
    window.jump_to_node("l7_intermediate")
    assert "l7_intermediate" in scene.nodes and scene.selected_names() == ["l7_intermediate"]
    window.act_expand_all.trigger()
    assert not scene.blocks
    window.act_fold.setChecked(False)
    assert len(scene.nodes) == len(window.document.network) and not scene.blocks


def test_drops_and_wires_avoid_folded_runs(window):
    open_preset(window, "resnet18")
    scene = fold_on(window)
    block = next(iter(scene.blocks.values()))
    before = len(window.document.network)
    name = window.canvas.drop_layer("ReLU", block.sceneBoundingRect().center())
    assert name is not None
    node = window.document.network.nodes[name]
    assert node.inputs == []  # not appended to the run's first layer
    assert len(window.document.network) == before + 1


def test_grouped_table_rows_sum_to_the_totals_and_expand(window):
    from core.common.tables import render
    open_preset(window, "resnet50")
    layers = window.analysis_panel.layers
    model = layers.model
    ungrouped = model.rowCount()
    layers.group.setChecked(True)
    analysis = window.document.analysis
    folds = find_folds(analysis)
    block_rows = [r for r, ref in enumerate(model.rows) if ref.block is not None]
    assert len(block_rows) == len(folds) == 4
    hidden_rows = sum(1 + (len(analysis.nodes[n].parts) if len(analysis.nodes[n].parts) > 1
                           else 0) for f in folds for n in f.nodes)
    assert model.rowCount() == ungrouped - hidden_rows + len(folds)
    for key, total in (("macs", analysis.totals.macs), ("params", analysis.totals.params)):
        column = next(c for c, col in enumerate(model.columns) if col.key == key)
        shown = sum(model._value(model.cell(r, column)) or 0
                    for r in range(model.rowCount() - 1) if model.rows[r].part is None)
        assert shown == total
    # the Explain box on an aggregated cell: the sum of the members, each named
    macs = next(c for c, col in enumerate(model.columns) if col.key == "macs")
    first = folds[0]
    html = model.explain(block_rows[0], macs)
    # (layers without MACs are left out of the sum)
    assert "layer1_1_conv1 + layer1_1_conv2 + layer1_1_conv3 + layer1_2_conv1" in html
    member_sum = sum(analysis.nodes[n].forward.macs.value for n in first.nodes)
    assert f"= {member_sum:,}</p>" in html
    # double-click the row: its members follow it, indented
    index = layers.proxy.mapFromSource(model.index(block_rows[0], 0))
    layers._double_clicked(index)
    listed = [ref.name for ref in model.rows[block_rows[0] + 1:]
              if ref.member_of == first.id and ref.part is None]
    assert listed == list(first.nodes)
    assert model.data(model.index(block_rows[0] + 1, 0)).startswith("    ")
    # exports follow what is shown
    text = render(layers.export_table("resnet50"), "md")
    assert f"▸ {first.label()}" in text and f"    {first.nodes[0]}" in text
    assert f"▸ {folds[1].label()}" in text and f"    {folds[1].nodes[0]}" not in text
    layers.group.setChecked(False)
    assert all(ref.block is None for ref in model.rows) and model.rowCount() == ungrouped
    assert "▸" not in render(layers.export_table(), "csv")


def test_opening_another_design_while_folded(window):
    open_preset(window, "resnet18")
    scene = fold_on(window)
    window.open_preset("bert-base")  # the menu's path: reset first, analysis after
    QApplication.processEvents()
    assert [b.fold.count for b in scene.blocks.values()] == [12]
    assert not any(n.startswith("layer") for n in scene.nodes)
    window.open_preset("lenet5")
    assert not scene.blocks and len(scene.nodes) == len(window.document.network)


def test_drags_while_folded_are_view_only(window, qtbot):
    open_preset(window, "resnet18")
    scene = fold_on(window)
    view = window.canvas
    item = scene.nodes["layer2_0_conv1"]
    view.centerOn(item)
    QApplication.processEvents()
    start = view.mapFromScene(item.sceneBoundingRect().center())
    before = item.pos()
    qtbot.mousePress(view.viewport(), Qt.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), start + QPoint(60, 20))
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, pos=start + QPoint(60, 20))
    assert item.pos() != before  # it moved on screen
    assert window.document.undo_stack.count() == 0
    assert window.document.network.nodes["layer2_0_conv1"].position is None
