"""The Dataflow workspace's Mapping tab driven as a user would: factor edits and loop drags
with the mouse (evaluate() is the oracle of every number shown), undo/redo with the keys,
an overflowing tile, Find best with its Pareto plot, JSON load/save and the table export,
and the animation playing the edited mapping."""

from __future__ import annotations

import json
import random

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from core.dataflow import Buffers, ConvLayer, PEArray
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.mapping import DIM_EXTENTS
from core.dataflow.mapping_eval import Overflow, evaluate, validate
from gui.dataflow.mapping_edits import move_loop, products_ok, set_factor
from gui.dataflow.mapping_tab import MappingTab

LAYER = ConvLayer(6, 7, 4, 3, 4)
HIERARCHY = Hierarchy(Buffers(200, 36, 30), PEArray(4, 4))


@pytest.fixture
def tab(qtbot, shown):
    t = shown(MappingTab(), 1000, 620)
    t.set_problem(LAYER, HIERARCHY)
    QApplication.processEvents()
    yield t
    t.shutdown()


def settle(qtbot, ms: int = 30) -> None:
    QApplication.processEvents()
    qtbot.wait(ms)


def expected_counts(tab) -> dict:
    """evaluate()'s counts as the table shows them ({} for an invalid mapping: empty table)."""
    if validate(tab.mapping, tab.layer, tab.hierarchy):
        return {}
    cost = evaluate(tab.mapping, tab.layer, tab.hierarchy)
    return {(level, op): {"reads": c.reads, "writes": c.writes, "fills": c.fills,
                          "psum reads": c.psum_reads, "updates": c.updates, "forwards": c.forwards}
            for level, per_op in cost.counts.items() for op, c in per_op.items()}


def first_loop(tab, level: int, dims=("f", "c", "y", "x")) -> int:
    """Index of the first loop of ``level`` over one of ``dims`` with a factor above 1."""
    loops = tab.mapping.levels[level].loops
    return next(i for i, loop in enumerate(loops) if loop.dim in dims and loop.factor > 1)


def drag(qtbot, row, target_widget, target_pos: QPoint) -> None:
    """Press on the row, move in several steps to ``target_pos`` of ``target_widget``, release."""
    start = QPoint(row.name.geometry().center().x(), row.height() // 2)  # on the loop's name
    end = row.mapFromGlobal(target_widget.mapToGlobal(target_pos))
    qtbot.mousePress(row, Qt.LeftButton, pos=start)
    for k in range(1, 7):
        qtbot.mouseMove(row, start + (end - start) * k / 6)
        qtbot.wait(5)
    qtbot.mouseRelease(row, Qt.LeftButton, pos=end)
    settle(qtbot)


def test_the_starting_mapping_is_valid_and_its_counts_are_evaluates(tab):
    assert validate(tab.mapping, LAYER, HIERARCHY) == []
    assert tab.cost is not None
    assert tab.shown_counts() == expected_counts(tab)


def test_a_factor_edit_shows_evaluates_counts_of_the_edited_mapping(tab, qtbot):
    before = tab.mapping
    shown_before = tab.shown_counts()
    dims = [loop.dim for loop in tab.mapping.levels[0].loops if loop.factor > 1]
    dim = next(d for d in ("x", "y", "f", "c") if d in dims)
    index = next(i for i, loop in enumerate(tab.mapping.levels[0].loops) if loop.dim == dim)
    row = tab.editor.row(0, index)
    row.factor.stepBy(-1)  # the spin box's arrow: the next smaller divisor
    settle(qtbot)
    assert tab.mapping != before
    assert products_ok(tab.mapping, DIM_EXTENTS(LAYER))  # the remainder went somewhere
    assert tab.mapping.levels[0].loops[index].factor < before.levels[0].loops[index].factor
    assert validate(tab.mapping, LAYER, HIERARCHY) == []  # the buffer takes the remainder
    assert tab.shown_counts() == expected_counts(tab)
    assert tab.shown_counts() != shown_before


def test_dragging_a_loop_to_another_level_and_undo_restores_it_exactly(tab, qtbot):
    before = tab.mapping
    index = first_loop(tab, 0)
    loop = before.levels[0].loops[index]
    row = tab.editor.row(0, index)
    buffer_box = tab.editor.boxes[1]
    drag(qtbot, row, buffer_box, QPoint(buffer_box.width() // 2, buffer_box.height() - 6))
    moved = tab.mapping
    assert moved.name == f"{before.name} (edited)"  # no longer the textbook nest it was
    assert loop not in moved.levels[0].loops or moved.levels[0].loops.count(loop) < before.levels[0].loops.count(loop)
    assert moved.levels[1].loops[-1] == loop
    assert tab.shown_counts() == expected_counts(tab)
    tab.setFocus()
    qtbot.keyClick(tab, Qt.Key_Z, Qt.ControlModifier)
    settle(qtbot)
    assert tab.mapping == before
    assert tab.shown_counts() == expected_counts(tab)
    qtbot.keyClick(tab, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    settle(qtbot)
    assert tab.mapping == moved


def test_dragging_within_a_level_reorders_its_loops(tab, qtbot):
    loops = tab.mapping.levels[0].loops
    assert len(loops) >= 2
    memory = tab.editor.boxes[0]
    last = tab.editor.row(0, len(loops) - 1)
    drag(qtbot, tab.editor.row(0, 0), memory, QPoint(memory.width() // 2, last.geometry().bottom() - 2))
    assert tab.mapping.levels[0].loops == loops[1:] + loops[:1]
    tab.document.undo_stack.undo()
    assert tab.mapping.levels[0].loops == loops


def test_a_drop_outside_the_editor_changes_nothing(tab, qtbot):
    before = tab.mapping
    drag(qtbot, tab.editor.row(0, 0), tab.table, QPoint(20, 20))
    assert tab.mapping == before
    assert not tab.document.undo_stack.canUndo()


def test_an_overflowing_factor_turns_the_bar_red_and_shows_the_message(tab, qtbot):
    # Every filter and channel into the buffer: all 4·4·3·3 = 144 weights against 36 places.
    for dim in ("c", "f"):
        loops = tab.mapping.levels[0].loops
        index = next((i for i, loop in enumerate(loops) if loop.dim == dim and loop.factor > 1), None)
        if index is not None:
            tab.editor.row(0, index).factor.setValue(1)
            settle(qtbot)
    problems = [p for p in validate(tab.mapping, LAYER, HIERARCHY) if isinstance(p, Overflow)]
    assert problems, tab.mapping
    p = problems[0]
    box = next(b for b in tab.editor.boxes if b.name == p.level)
    bar = box.bars[p.operand]
    assert bar.overflows and (bar.needed, bar.capacity) == (p.needed, p.capacity)
    assert box.message.isVisible() and p.message in box.message.text()
    image = bar.grab().toImage()
    colour = image.pixelColor(3, bar.height() // 2)
    assert colour.red() > 180 and colour.green() < 90  # red, not the usual blue
    assert tab.cost is None and "Not a valid mapping" in tab.summary.text()
    while tab.document.undo_stack.canUndo():
        tab.document.undo_stack.undo()
    settle(qtbot)
    assert not bar.overflows and not box.message.isVisible()


def test_random_edits_keep_every_product_and_undo_walks_back(tab, qtbot):
    rng = random.Random(7)
    extents = DIM_EXTENTS(LAYER)
    history = [tab.mapping]
    for _ in range(12):
        m = tab.mapping
        candidates = [(lv, i) for lv, level in enumerate(m.levels) for i in range(len(level.loops))]
        lv, i = rng.choice(candidates)
        if rng.random() < 0.5:
            dst = rng.randrange(len(m.levels))
            tab.document.move_loop(lv, i, dst, rng.randrange(len(m.levels[dst].loops) + 1))
        else:
            loop = m.levels[lv].loops[i]
            divisors = [d for d in range(1, extents[loop.dim] + 1) if extents[loop.dim] % d == 0]
            tab.document.set_factor(lv, i, rng.choice(divisors))
        assert products_ok(tab.mapping, extents)
        if tab.mapping != history[-1]:
            history.append(tab.mapping)
        if tab.cost is not None:
            assert tab.shown_counts() == expected_counts(tab)
    while tab.document.undo_stack.canUndo():
        tab.document.undo_stack.undo()
        history.pop()
        assert tab.mapping == history[-1]
    assert len(history) == 1


def test_set_factor_sends_the_remainder_to_the_memory_loop():
    from core.dataflow.textbook import textbook_mapping
    m = textbook_mapping("ws", LAYER, HIERARCHY)
    extents = DIM_EXTENTS(LAYER)
    for lv, level in enumerate(m.levels):
        for i, loop in enumerate(level.loops):
            for d in (1, extents[loop.dim]):
                edited = set_factor(m, lv, i, d, extents)
                assert edited.levels[lv].loops[i].factor == d
                assert products_ok(edited, extents)
    # a factor that does not divide the extent is kept, and the product says so
    edited = set_factor(m, 0, 0, 5, {**extents, m.levels[0].loops[0].dim: 4})
    assert not products_ok(edited, {**extents, m.levels[0].loops[0].dim: 4})


def test_move_loop_indices_are_the_shown_positions():
    from core.dataflow.textbook import textbook_mapping
    m = textbook_mapping("ws", LAYER, HIERARCHY)
    loops = m.levels[0].loops
    assert move_loop(m, 0, 0, 0, 1) == m  # just below itself: nothing moves
    assert move_loop(m, 0, 0, 0, len(loops)).levels[0].loops == loops[1:] + loops[:1]
    back = move_loop(move_loop(m, 0, 0, 1, 0), 1, 0, 0, 0)
    assert back == m


def test_save_and_load_round_trip_and_a_bad_file_is_one_line(tab, qtbot, tmp_path):
    path = tmp_path / "m.json"
    assert tab.save_to(path) == str(path)
    saved = tab.mapping
    tab.document.move_loop(0, 0, 1, 0)
    assert tab.mapping != saved
    assert tab.load_from(path)
    assert tab.mapping == saved
    data = json.loads(path.read_text())
    data["levels"][0]["loops"][0]["factor"] = "lots"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert not tab.load_from(bad)
    assert tab.mapping == saved
    text = tab.status.text()
    assert text.startswith("Cannot load bad.json") and "\n" not in text and "Traceback" not in text
    (tmp_path / "junk.json").write_text("{not json")
    assert not tab.load_from(tmp_path / "junk.json")
    assert tab.mapping == saved


def test_load_and_save_dialogs(tab, monkeypatch, tmp_path):
    path = tmp_path / "saved"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert tab.save_dialog() == str(path) + ".json"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path) + ".json", ""))
    tab.document.move_loop(0, 0, 1, 0)
    assert tab.load_dialog()
    assert validate(tab.mapping, LAYER, HIERARCHY) == []


@pytest.mark.parametrize("suffix", [".csv", ".md", ".tex"])
def test_the_counts_table_exports(tab, monkeypatch, tmp_path, suffix):
    path = tmp_path / f"counts{suffix}"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert tab.export_table() == str(path)
    text = path.read_text()
    cost = evaluate(tab.mapping, LAYER, HIERARCHY)
    reads = cost.counts["memory"]["input"].reads
    shown = {".csv": str(reads), ".md": f"{reads:,}", ".tex": f"{reads:,}".replace(",", "{,}")}[suffix]
    assert shown in text


def test_find_best_fills_the_pareto_plot_and_a_click_loads_that_mapping(tab, qtbot):
    assert tab.mapper is not None
    tab.result_tabs.setCurrentIndex(1)
    assert tab.find_best()
    qtbot.waitUntil(lambda: tab.result is not None and not tab.jobs.is_running(), timeout=60_000)
    result = tab.result
    assert tab.mapping.levels == result.best.levels
    assert tab.progress.value() == result.evaluated
    points = tab.scatter.points()
    assert len(points) == len(result.pareto) >= 1
    assert sorted((p.pos().x(), p.pos().y()) for p in points) == sorted(
        (float(c.cycles), float(c.energy.total)) for _m, c in result.pareto)
    i = len(points) - 1
    target = result.pareto[i]
    if target[0].levels == tab.mapping.levels and len(points) > 1:
        i, target = 0, result.pareto[0]
    settle(qtbot, 100)
    vb = tab.plot.plotItem.vb
    scene = vb.mapViewToScene(QPointF(target[1].cycles, target[1].energy.total))
    pos = tab.plot.mapFromScene(scene)
    qtbot.mouseClick(tab.plot.viewport(), Qt.LeftButton, pos=pos)
    settle(qtbot)
    assert tab.mapping.levels == target[0].levels
    assert tab.animate_box.isChecked()
    tab.document.undo_stack.undo()
    assert tab.mapping.levels == result.best.levels


def test_stop_ends_a_search(tab, qtbot):
    assert tab.mapper is not None
    assert tab.find_best()
    tab.stop_button.click()
    qtbot.waitUntil(lambda: not tab.jobs.is_running(), timeout=5_000)
    assert tab.find_button.isEnabled()


def test_the_pareto_plot_saves_as_png_and_svg(tab, monkeypatch, tmp_path):
    for name in ("p.png", "p.svg"):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, n=name, **k: (str(tmp_path / n), ""))
        assert tab.export_plot() == str(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 500
    assert not tab.plot.getAxis("bottom").autoSIPrefix and not tab.plot.getAxis("left").autoSIPrefix


def test_every_control_has_a_tooltip(tab):
    from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QComboBox, QTabBar, QTableWidget,
                                   QWidget)
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QTableWidget)
    missing = [type(w).__name__ for w in tab.findChildren(QWidget) if isinstance(w, kinds)
               and not isinstance(w.parent(), (QTabBar, QTableWidget)) and not w.toolTip()]
    assert missing == []


# -- inside the Dataflow workspace ------------------------------------------------------------
@pytest.fixture
def panel(qtbot, shown):
    from gui.dataflow import DataflowPanel
    p = shown(DataflowPanel(), 1300, 850)
    qtbot.waitUntil(lambda: p.frames is not None, timeout=10_000)
    yield p
    p.shutdown()


def test_the_tab_follows_the_labs_layer_and_hierarchy(panel, qtbot):
    tab = panel.mapping_tab
    assert tab.layer == panel.state.layer
    assert tab.hierarchy.buffers == panel.state.buffers
    panel.set_layer(8, 8, 3, 3, 2)
    qtbot.waitUntil(lambda: tab.layer is not None and tab.layer.height == 8, timeout=10_000)
    assert products_ok(tab.mapping, DIM_EXTENTS(tab.layer))
    assert not tab.document.undo_stack.canUndo()  # a new layer starts a new history


def test_the_animation_plays_the_edited_mapping(panel, qtbot):
    tab = panel.mapping_tab
    panel.tabs.setCurrentWidget(tab)
    dataflow_frames = panel.frames
    tab.animate_box.setChecked(True)
    qtbot.waitUntil(lambda: panel.frames is not dataflow_frames and not panel.mapping_jobs.is_busy(),
                    timeout=10_000)
    assert panel.frames.result.nest.dataflow == "mapping"
    panel.tabs.setCurrentIndex(0)
    panel.player.go_to_end()
    memory = evaluate(tab.mapping, tab.layer, tab.hierarchy).counts["memory"]  # the oracle
    c = panel.current_state.counters
    assert [c[op]["reads"] for op in ("input", "weight")] == [memory[op].reads for op in ("input", "weight")]
    assert c["output"]["reads"] == memory["output"].psum_reads
    assert c["output"]["writes"] == memory["output"].writes
    assert any(line.text.startswith("# buffer") for line in panel.nest_view.lines)  # Mapping.lines()
    assert "Mapping" in panel.ranking_label.text()
    # An edit re-animates; turning it off gives the dataflow back.
    before = panel.frames
    tab.document.move_loop(0, 0, 0, len(tab.mapping.levels[0].loops))
    qtbot.waitUntil(lambda: panel.frames is not before and not panel.mapping_jobs.is_busy(), timeout=10_000)
    tab.animate_box.setChecked(False)
    assert panel.frames is panel.state.frames


def test_pe_registers_add_a_third_level(tab, qtbot):
    tab.registers_box.setChecked(True)
    settle(qtbot)
    assert tab.hierarchy.level_names == ("memory", "buffer", "registers")
    assert tab.hierarchy.registers.capacity("weight") == tab.register_fields["weight"].value()
    assert [box.name for box in tab.editor.boxes] == [level.name for level in tab.mapping.levels]
    if tab.cost is not None:
        assert tab.shown_counts() == expected_counts(tab)
    tab.register_fields["weight"].setValue(3)  # same levels: the mapping stays, its check changes
    settle(qtbot)
    assert tab.hierarchy.registers.capacity("weight") == 3
    tab.registers_box.setChecked(False)
    settle(qtbot)
    assert tab.hierarchy.level_names == ("memory", "buffer")


def test_a_mapping_for_another_hierarchy_loads_and_says_what_is_wrong(tab, qtbot, tmp_path):
    data = tab.mapping.to_dict()
    data["levels"].append({"name": "registers", "bypass": [], "loops": []})
    path = tmp_path / "three.json"
    path.write_text(json.dumps(data))
    assert tab.load_from(path)
    assert len(tab.editor.boxes) == 3
    assert tab.cost is None and tab.problems
    assert "not a level of this hierarchy" in tab.editor.boxes[2].title.text()


def test_double_clicking_a_bar_toggles_the_operands_bypass(tab, qtbot):
    tab.registers_box.setChecked(True)
    settle(qtbot)
    box = tab.editor.boxes[2]
    level = tab.mapping.levels[2]
    op = "weight"
    was = op in level.bypass
    qtbot.mouseDClick(box.bars[op], Qt.LeftButton)
    settle(qtbot)
    assert (op in tab.mapping.levels[2].bypass) != was
    assert box.bars[op].bypassed != was
    assert tab.shown_counts() == expected_counts(tab)
    tab.setFocus()
    qtbot.keyClick(tab, Qt.Key_Z, Qt.ControlModifier)
    assert tab.mapping.levels[2] == level


def test_starting_points_textbook_and_mappers_best(tab, qtbot):
    from core.dataflow.textbook import textbook_mapping
    box = tab.start_box
    box.setCurrentIndex(box.findData("textbook:os"))
    box.activated.emit(box.currentIndex())
    assert tab.mapping == textbook_mapping("os", LAYER, HIERARCHY)
    tab.document.undo_stack.undo()
    assert tab.mapping == textbook_mapping("ws", LAYER, HIERARCHY)
    assert tab.mapper is not None and box.findData("best:ws") >= 0
    box.setCurrentIndex(box.findData("best:is"))
    box.activated.emit(box.currentIndex())
    assert tab.within_box.currentData() == "is"
    qtbot.waitUntil(lambda: tab.result is not None and not tab.jobs.is_running(), timeout=60_000)
    assert tab.mapping.levels == tab.result.best.levels


def test_a_memory_bandwidth_bounds_the_cycles(tab, qtbot):
    tab.bandwidth_box.setValue(1)
    settle(qtbot)
    assert tab.hierarchy.memory_bandwidth == 1
    cost = evaluate(tab.mapping, LAYER, tab.hierarchy)
    assert tab.cost.cycles == cost.cycles >= cost.memory_accesses
    assert f"{cost.cycles:,} cycles" in tab.summary.text()
    tab.bandwidth_box.setValue(0)
    settle(qtbot)
    assert tab.hierarchy.memory_bandwidth is None


def test_the_animation_plays_a_mapping_with_kernel_loops_at_the_memory_level(panel, qtbot):
    from core.dataflow.mapping import MapLevel, MapLoop, Mapping
    tab = panel.mapping_tab
    for key in ("input buffer", "weight buffer", "output buffer"):
        panel.fields[key].setValue(500)
    panel.recompute()
    qtbot.waitUntil(lambda: tab.hierarchy.buffers.output == 500, timeout=10_000)
    layer = tab.layer  # the reference layer: 6×7×9, one 3×3 filter
    e = DIM_EXTENTS(layer)
    mapping = Mapping((MapLevel("memory", (MapLoop("r", 3), MapLoop("y", 2), MapLoop("y", 2))),
                       MapLevel("buffer", (MapLoop("c", e["c"]), MapLoop("x", e["x"]), MapLoop("s", 3)))),
                      "kernel rows outside")
    tab.load_mapping(mapping)
    assert validate(tab.mapping, layer, tab.hierarchy) == []
    tab.animate_box.setChecked(True)
    qtbot.waitUntil(lambda: panel.frames.result.nest.dataflow == "mapping" and not panel.mapping_jobs.is_busy(),
                    timeout=10_000)
    assert panel.frames.n_frames == 12 and [l.dim for l in panel.frames.result.nest.loops] == ["r", "y", "y"]
    panel.player.go_to_end()
    memory = evaluate(tab.mapping, layer, tab.hierarchy).counts["memory"]
    c = panel.current_state.counters
    assert (c["input"]["reads"], c["weight"]["reads"]) == (memory["input"].reads, memory["weight"].reads)
    assert (c["output"]["reads"], c["output"]["writes"]) == (memory["output"].psum_reads, memory["output"].writes)
    assert panel.current_state.macs == layer.macs
