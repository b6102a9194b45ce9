"""Big networks on the canvas: the Sugiyama layout on screen, edges routed around nodes,
zoom to fit, Ctrl+F search with jump-to-node, producer/consumer jumps."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.graph.network import Network
from gui.design.canvas import NodeItem
from gui.design.search import find_nodes


def open_preset(window, name):
    window.document.load_network(__import__("core.graph.presets", fromlist=["x"])
                                 .load_preset(name))
    QApplication.processEvents()


def visible_rect(view):
    return view.mapToScene(view.viewport().rect()).boundingRect()


def edges_through_nodes(scene) -> list:
    from PySide6.QtGui import QPainterPathStroker
    stroker = QPainterPathStroker()
    stroker.setWidth(1.5)
    bad = []
    for edge in scene.edges:
        line = stroker.createStroke(edge.path())  # the drawn line, not the area it encloses
        for item in scene.nodes.values():
            if item in (edge.src, edge.dst):
                continue
            if line.intersects(item.mapRectToScene(item.body()).adjusted(2, 2, -2, -2)):
                bad.append((edge.src.name, edge.dst.name, item.name))
    return bad


def test_resnet18_fits_and_no_edge_runs_through_a_node(window):
    open_preset(window, "resnet18")
    window.auto_layout()
    scene = window.canvas.scene_
    assert not edges_through_nodes(scene)
    assert visible_rect(window.canvas).contains(scene.itemsBoundingRect())


def test_a_skip_edge_laid_out_by_hand_is_routed_around(window):
    net = Network("hand")
    net.add_node("Input", "x", {"shape": [4]}, position=(0, 0))
    net.add_node("ReLU", "a", {}, ["x"], position=(0, 100))
    net.add_node("ReLU", "b", {}, ["a"], position=(0, 200))
    net.add_node("Add", "s", {}, ["b", "x"], position=(0, 300))
    window.document.load_network(net)
    scene = window.canvas.scene_
    assert not edges_through_nodes(scene)
    skip = next(e for e in scene.edges if (e.src.name, e.dst.name) == ("x", "s"))
    assert skip.path().boundingRect().right() > 92  # it left the column, beside the nodes
    # and drags re-route it: move b out of the way, the edge goes straight again
    window.document.move_nodes({"a": ((0, 100), (400, 100)), "b": ((0, 200), (400, 200))})
    skip = next(e for e in scene.edges if (e.src.name, e.dst.name) == ("x", "s"))
    assert skip.path().boundingRect().width() < 40


def test_find_nodes_by_name_then_type():
    from core.graph.presets import load_preset
    net = load_preset("resnet18")
    assert find_nodes(net, "conv1")[0] == "conv1"
    assert find_nodes(net, "LAYER1_0")[0].startswith("layer1_0")
    adds = find_nodes(net, "add")
    assert len(adds) == 8 and all(net.nodes[n].type == "Add" for n in adds)
    assert set(find_nodes(net, "batchnorm")) == {n for n, node in net.nodes.items()
                                                 if node.type == "BatchNorm2d"}
    assert find_nodes(net, "  ") == [] and find_nodes(net, "nothing-here") == []


def test_ctrl_f_jumps_to_matches_in_turn(window, qtbot):
    open_preset(window, "resnet18")
    window.auto_layout()
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.keyClick(window.canvas, Qt.Key_F, Qt.ControlModifier)
    assert window.search.hasFocus()
    qtbot.keyClicks(window.search, "fc")
    qtbot.keyClick(window.search, Qt.Key_Return)
    assert window.canvas.scene_.selected_names() == ["fc"]
    assert visible_rect(window.canvas).contains(window.canvas.scene_.nodes["fc"].pos())
    assert window.canvas.transform().m11() >= 0.75  # readable after the jump
    window.search.setText("Add")
    seen = [window.search.next_match() for _ in range(9)]
    assert len(set(seen[:8])) == 8 and seen[8] == seen[0]  # cycles through all eight
    assert window.search.next_match(step=-1) == seen[7]
    window.search.setText("zzz")
    assert window.search.next_match() is None


def test_node_menu_jumps_to_producer_and_consumer(window):
    open_preset(window, "resnet18")
    menu = window.node_menu("layer1_0_add")
    producers = next(a.menu() for a in menu.actions() if a.text() == "Go to &producer")
    assert {a.text() for a in producers.actions()} == {"layer1_0_bn2", "maxpool"}
    next(a for a in producers.actions() if a.text() == "maxpool").trigger()
    assert window.canvas.scene_.selected_names() == ["maxpool"]
    consumers = next(a.menu() for a in window.node_menu("fc").actions()
                     if a.text() == "Go to &consumer")
    assert not consumers.isEnabled()


def test_minimap_shows_when_part_is_hidden_and_moves_the_canvas(window, qtbot):
    open_preset(window, "resnet18")
    window.auto_layout()
    minimap = window.canvas.minimap
    assert not minimap.isVisible()  # the whole design is in view: nothing to navigate
    window.jump_to_node("fc")
    assert minimap.isVisible()
    target = window.canvas.scene_.nodes["layer1_0_add"].sceneBoundingRect().center()
    point = minimap.from_scene(target).toPoint()
    qtbot.mouseClick(minimap, Qt.LeftButton, pos=point)
    shown = visible_rect(window.canvas)
    assert shown.contains(target)
    assert minimap.visible_area() == shown
    window.act_minimap.trigger()  # View → Minimap off
    assert not minimap.isVisible()
    window.act_minimap.trigger()
    assert minimap.isVisible()


def test_far_out_nodes_paint_as_blocks(window):
    from PySide6.QtGui import QImage, QPainter
    open_preset(window, "resnet18")
    window.auto_layout()
    scene = window.canvas.scene_
    item = scene.nodes["conv1"]
    image = QImage(40, 20, QImage.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    scene.render(painter, image.rect(), item.sceneBoundingRect())  # about 0.2 scale
    painter.end()
    colours = {image.pixel(x, y) for x in range(5, 35) for y in range(5, 15)}
    assert len(colours) <= 3  # one block colour (plus antialiased border), no text
