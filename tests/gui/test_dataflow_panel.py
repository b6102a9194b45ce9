"""The Dataflow workspace driven as a user would: the player, the reference counts, edits
(valid and not), the comparison with its exports, and the systolic mode."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from core.dataflow import Buffers, ConvLayer, analyse, build_trace
from gui.dataflow import DataflowPanel
from gui.dataflow.frames import TraceFrames
from gui.widgets.player import PlayerWidget

DEBOUNCE_WAIT_MS = 250  # longer than the form's debounce
REFERENCE = {"weight reads": 81, "input reads": 1620, "psum reads": 160, "output writes": 180}


@pytest.fixture
def panel(qtbot, shown):
    p = shown(DataflowPanel(), 1300, 850)
    qtbot.waitUntil(lambda: p.frames is not None, timeout=10_000)
    yield p
    p.shutdown()


def wait_new_trace(qtbot, panel, old):
    qtbot.waitUntil(lambda: panel.trace is not None and panel.trace is not old and not panel.is_busy(),
                    timeout=10_000)


def test_reference_counters_at_the_last_frame(panel):
    assert panel.frames.n_frames == panel.player.frame_count == 180
    panel.player.go_to_end()
    c = panel.current_state.counters
    got = {"weight reads": c["weight"]["reads"], "input reads": c["input"]["reads"],
           "psum reads": c["output"]["reads"], "output writes": c["output"]["writes"]}
    assert got == REFERENCE
    text = panel.counters.text()
    for shown in ("81 / 81", "1,620 / 1,620", "160 / 160", "180 / 180"):
        assert shown in text
    assert "weight-stationary" in panel.ranking_label.text()


def test_seek_equals_stepping(panel):
    player = panel.player
    target = 57
    player.set_frame(target)
    seeked = panel.current_state
    player.go_to_start()
    for _ in range(target):
        player.step_forward()
    assert player.frame == target
    assert panel.current_state == seeked
    assert panel.current_state is not seeked  # rebuilt, not cached
    # Stepping back to it from further on ends in the same picture too.
    player.set_frame(target + 9)
    for _ in range(9):
        player.step_back()
    assert panel.current_state == seeked
    # What the views draw is that state.
    grid = panel.grids["input"]
    assert np.array_equal(grid.heat, seeked.heat["input"])
    assert "c = " in panel.nest_view.html_text


def test_coarse_trace_frames_depend_only_on_the_frame():
    layer = ConvLayer(6, 7, 9, 3, 2)
    buffers = Buffers(9, 9, 1)
    result = analyse(layer, "ws", buffers, "lru")
    frames = TraceFrames(result, build_trace(layer, "ws", buffers, "lru", max_events=40))
    assert not frames.element_level
    last = frames.frame(frames.n_frames - 1)
    assert last.counters["input"]["reads"] == result.counts.memory_reads["input"]
    assert last.counters["output"]["writes"] == result.counts.memory_writes["output"]
    mid = frames.n_frames // 2
    direct = TraceFrames(result, frames.trace).frame(mid)  # a fresh cache, one seek
    for i in (frames.n_frames - 1, 0, mid + 3, mid):  # a cache warmed by other frames
        state = frames.frame(i)
    assert state == direct


def test_play_and_pause_run_on_the_timer(panel, qtbot):
    player = panel.player
    player.set_speed(100)
    player.play()
    assert player.is_playing()
    qtbot.waitUntil(lambda: player.frame >= 5, timeout=3000)
    player.pause()
    stopped = player.frame
    qtbot.wait(150)
    assert player.frame == stopped and not player.is_playing()
    assert panel.current_state.frame == stopped
    # Played to the end it stops by itself.
    player.set_speed(10000)
    player.play()
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=3000)
    assert player.frame == player.frame_count - 1


def test_player_caps_redraws_and_jumps_to_markers(qtbot):
    player = PlayerWidget()
    qtbot.addWidget(player)
    seen = []
    player.sig_frame.connect(seen.append)
    player.set_frame_count(1000)
    assert seen == [0]
    player.set_speed(10000)
    assert player.timer.interval() >= 30  # at most ~30 redraws a second whatever the speed
    player.set_markers([10, 400, 3])
    player.jump_to_next_marker()
    player.jump_to_next_marker()
    assert player.frame == 10
    player.set_frame(5000)
    assert player.frame == 999 and player.next_marker() is None


def test_next_reload_jumps_to_the_stationary_buffer_refill(panel):
    # Weight-stationary: the weight buffer is refilled once per channel (every 20 steps).
    assert panel.reload_box.currentData() == "weight"
    panel.player.go_to_start()
    panel.player.jump_to_next_marker()
    assert panel.player.frame == 20
    assert panel.current_state.step_counts["weight"]["read"] == 9


def test_changing_the_layer_rebuilds_the_trace(panel, qtbot):
    old = panel.trace
    assert panel.set_layer(8, 8, 4, 3, 2, stride=1, padding=1)
    wait_new_trace(qtbot, panel, old)
    assert panel.result.layer == ConvLayer(8, 8, 4, 3, 2, 1, 1)
    assert panel.player.frame_count == panel.frames.n_frames == panel.trace.n_steps
    assert panel.fields["padding"].value() == 1
    # An edit in the form rebuilds it too (after a short debounce).
    old = panel.trace
    panel.fields["filters"].setValue(3)
    wait_new_trace(qtbot, panel, old)
    assert panel.result.layer.filters == 3
    # So does the policy (LRU runs on the worker thread like everything else).
    old = panel.trace
    panel.policy_box.setCurrentIndex(panel.policy_box.findData("lru"))
    wait_new_trace(qtbot, panel, old)
    assert panel.trace.policy == "lru"


def test_invalid_values_show_a_message_beside_the_field_and_keep_the_trace(panel, qtbot):
    old = panel.trace
    panel.fields["input buffer"].setValue(4)
    assert panel.recompute() is False
    QApplication.processEvents()
    message = panel.errors["input buffer"]
    assert message.isVisible() and "input buffer: 4 elements is smaller than the 9" in message.text()
    assert not panel.errors["height"].isVisible()
    assert panel.stale_label.isVisible()
    qtbot.wait(DEBOUNCE_WAIT_MS)
    assert panel.trace is old and not panel.is_busy()
    panel.fields["input buffer"].setValue(9)
    panel.fields["height"].setValue(0)
    assert panel.recompute() is False
    QApplication.processEvents()
    assert "height: 0 is not allowed" in panel.errors["height"].text()
    assert not panel.errors["input buffer"].isVisible()
    panel.fields["height"].setValue(2)
    assert panel.recompute() is False
    QApplication.processEvents()
    assert "kernel: 3 is larger than the padded input height 2" in panel.errors["kernel"].text()
    assert panel.errors["kernel"].isVisible()
    # The editor may hand over non-square kernels: refused beside the field, nothing changes.
    assert panel.set_layer(6, 7, 9, (3, 5), 1) is False
    QApplication.processEvents()
    assert panel.errors["kernel"].isVisible() and "square" in panel.errors["kernel"].text()
    assert panel.fields["height"].value() == 2
    assert panel.trace is old
    # Fixing the field brings the views back in step with the form.
    assert panel.set_layer(6, 7, 9, (3, 3), 1)
    QApplication.processEvents()
    assert not panel.errors["kernel"].isVisible() and not panel.stale_label.isVisible()


def test_row_stationary_needs_bigger_buffers(panel):
    panel.dataflow_box.setCurrentIndex(panel.dataflow_box.findData("rs"))
    assert panel.recompute() is False
    QApplication.processEvents()
    assert "row-stationary needs" in panel.errors["input buffer"].text()


def test_comparison_has_one_bar_group_per_dataflow(panel):
    comparison = panel.comparison
    assert comparison.groups == ["ws", "is", "os", "rs (n/a)", "SA os 8×8"]
    assert len(comparison.access_bars) == 4  # input, weight, psum reads, output writes
    for bars in comparison.access_bars + comparison.energy_bars:
        assert len(bars.opts["x"]) == len(comparison.groups)
    ticks = comparison.access_plot.getAxis("bottom")._tickLevels[0]
    assert [label for _x, label in ticks][0] == "ws ★"  # ws is best for the reference layer
    ws = comparison.rows[0]
    assert (ws.reads, ws.writes) == ((1620, 81, 160), 180)
    # The systolic group follows the systolic tab's settings.
    panel.systolic.fields["array rows"].setValue(4)
    assert comparison.groups[-1] == "SA os 4×8"


def test_export_table_writes_csv_markdown_latex_and_png(panel, monkeypatch, tmp_path):
    answers = iter([(str(tmp_path / "cmp.csv"), "CSV (*.csv)"), (str(tmp_path / "cmp"), "Markdown (*.md)"),
                    (str(tmp_path / "cmp.tex"), "LaTeX (*.tex)"), (str(tmp_path / "chart.png"), "PNG (*.png)")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: next(answers))
    panel.tabs.setCurrentWidget(panel.comparison)
    panel.comparison.btn_table.click()
    lines = (tmp_path / "cmp.csv").read_text().splitlines()
    assert lines[0].startswith("dataflow,name,input reads,weight reads,psum reads,output writes")
    assert lines[1].startswith("ws,weight-stationary,1620,81,160,180,2041,")
    assert lines[4].startswith("rs,row-stationary,,,")
    panel.comparison.btn_table.click()
    assert "| ws | weight-stationary | 1,620 | 81 | 160 | 180 |" in (tmp_path / "cmp.md").read_text()
    panel.comparison.btn_table.click()
    assert r"\begin{tabular}" in (tmp_path / "cmp.tex").read_text()
    panel.comparison.btn_png.click()
    assert (tmp_path / "chart.png").stat().st_size > 1000
    assert "Wrote" in panel.comparison.status.text()


def test_export_reports_an_unwritable_path_beside_the_buttons(panel, monkeypatch, tmp_path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "missing" / "x.csv"), "CSV (*.csv)"))
    assert panel.comparison.export_table() is None
    assert "Cannot write" in panel.comparison.status.text()


def test_systolic_view_animates_small_layers(panel, qtbot):
    systolic = panel.systolic
    panel.tabs.setCurrentWidget(systolic)
    timeline = systolic.timeline
    assert systolic.player.frame_count == timeline.cycles == systolic.result.cycles + 1
    x, y = systolic.util_curve.getData()
    assert len(y) == timeline.cycles and np.isclose(y.max(), 100 * timeline.utilization.max())
    systolic.player.set_frame(100)
    state = systolic.current_state
    assert np.array_equal(state["busy"], timeline.busy[100]) and systolic.cursor.value() == 100
    systolic.player.jump_to_next_marker()  # next fold
    assert systolic.player.frame == timeline.fold_starts[2]
    # ceil and floor differ once the stride does not tile the input.
    panel.set_layer(7, 7, 2, 3, 2, stride=3)
    qtbot.waitUntil(lambda: systolic.layer is not None and systolic.layer.stride == 3, timeout=10_000)
    ceil = systolic.result.ofmap_h
    systolic.rounding.setCurrentIndex(systolic.rounding.findData("floor"))
    assert (ceil, systolic.result.ofmap_h) == (3, 2)
    systolic.fields["array columns"].setValue(0)
    QApplication.processEvents()
    assert "array columns: 0 is not allowed" in systolic.errors["array columns"].text()


def test_panel_renders_to_png_in_every_tab(panel, tmp_path):
    panel.player.set_frame(40)
    for index in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(index)
        QApplication.processEvents()
        path = tmp_path / f"tab{index}.png"
        assert panel.grab().save(str(path))
        assert path.stat().st_size > 5000


def test_deleting_the_panel_while_it_computes_is_harmless(qtbot):
    import shiboken6
    from PySide6.QtCore import QEvent, QThreadPool
    p = DataflowPanel()
    p.policy_box.setCurrentIndex(p.policy_box.findData("lru"))
    p.set_layer(32, 32, 16, 3, 16)  # about half a second of LRU simulation on the worker
    for key, value in (("input buffer", 512), ("weight buffer", 512), ("output buffer", 128)):
        p.fields[key].setValue(value)
    p.recompute()
    assert p.is_busy()
    p.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(p)
    assert QThreadPool.globalInstance().waitForDone(30_000)
    QApplication.processEvents()  # the result arrives for nobody
    # A new panel still works.
    q = DataflowPanel()
    qtbot.addWidget(q)
    qtbot.waitUntil(lambda: q.frames is not None, timeout=10_000)


def test_every_control_has_a_tooltip(panel):
    from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QComboBox, QSlider, QTabBar,
                                   QTableWidget, QTextEdit)
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QSlider, QTableWidget, QTextEdit)
    missing = [f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
               for w in panel.findChildren(QWidget) if isinstance(w, kinds)
               and not isinstance(w.parent(), (QTabBar, QTableWidget))  # Qt's scroll arrows, corner buttons
               and not w.toolTip()]
    assert missing == []
    tabs = panel.tabs
    assert all(tabs.tabToolTip(i) for i in range(tabs.count()))


def test_keyboard_drives_the_player(panel, qtbot):
    from PySide6.QtCore import Qt
    panel.nest_view.setFocus()
    qtbot.keyClick(panel.nest_view, Qt.Key_Right)
    qtbot.keyClick(panel.nest_view, Qt.Key_Right)
    assert panel.player.frame == 2
    qtbot.keyClick(panel.nest_view, Qt.Key_Left)
    assert panel.player.frame == 1
    qtbot.keyClick(panel.nest_view, Qt.Key_End)
    assert panel.player.frame == 179


def test_a_layer_from_the_editor_gets_the_buffers_it_needs(panel, qtbot):
    # LeNet-5's conv1 as the editor describes it: C×H×W = 1×28×28, pairs for kernel/stride/padding.
    old = panel.trace
    assert panel.set_layer(28, 28, 1, (5, 5), 6, (1, 1), (2, 2))
    QApplication.processEvents()
    assert panel.fields["input buffer"].value() == 25 and panel.fields["weight buffer"].value() == 25
    assert panel.note_label.isVisible() and "input buffer 25" in panel.note_label.text()
    wait_new_trace(qtbot, panel, old)
    assert panel.result.layer == ConvLayer(28, 28, 1, 5, 6, 1, 2)
    assert panel.result.counts.macs == 117_600  # DESIGN.md's reference for conv1


def test_dragging_the_slider_is_throttled_but_ends_on_the_last_position(qtbot):
    player = PlayerWidget()
    qtbot.addWidget(player)
    seen = []
    player.set_frame_count(500)
    player.sig_frame.connect(seen.append)
    for value in range(1, 200):
        player.slider.setValue(value)  # as a drag does, much faster than 30 a second
    assert len(seen) < 5
    qtbot.waitUntil(lambda: player.frame == 199, timeout=2000)
    assert seen[-1] == 199


def test_energy_costs_are_editable(panel, qtbot):
    """Eyeriss's defaults give 448,700 for the reference; DRAM at 100 gives 244,600
    (2,041 memory accesses × cost + 6,480 buffer accesses × 6 + 1,620 MACs)."""
    assert panel.settings().energy_costs().dram == 200
    assert panel.state.result.energy.total == 448_700
    old = panel.trace
    panel.cost_boxes[3].setValue(100.0)
    wait_new_trace(qtbot, panel, old)
    assert panel.state.result.energy.total == 244_600
    energies = {row.label: row for row in panel.comparison.rows}
    assert energies  # the comparison was recomputed with the same costs
    panel.reset_to_reference()
    qtbot.waitUntil(lambda: not panel.is_busy() and panel.state.result.energy.total == 448_700,
                    timeout=10_000)


def test_open_in_dataflow_lab_replaces_earlier_edits_with_the_layers_sizes(qtbot, settings):
    """Right-click conv1 → Open in Dataflow lab after edits there: the layer's sizes, the
    buffers it needs (not the old ones), no old error, the animation from its first step."""
    from gui.main_window import MainWindow
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    panel = win.ensure_dataflow_panel()
    qtbot.waitUntil(lambda: panel.state is not None and not panel.is_busy(), timeout=10000)
    panel.tabs.setCurrentIndex(2)
    panel.fields["input buffer"].setValue(5000)
    panel.fields["PE array columns"].setValue(40)
    panel.fields["stride"].setValue(0)  # invalid: a message beside the field
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not panel.errors["stride"].isHidden(), timeout=3000)
    old = panel.trace
    assert win.open_in_dataflow("conv1")
    wait_new_trace(qtbot, panel, old)
    assert panel.tabs.currentIndex() == 0
    assert panel.result.layer == ConvLayer(28, 28, 1, 5, 6, 1, 2)
    assert panel.fields["input buffer"].value() == 25  # what ws needs for 5×5 windows
    assert panel.fields["PE array columns"].value() == 14
    assert panel.errors["stride"].isHidden() and panel.stale_label.isHidden()
    assert panel.player.frame == 0
    win.document.undo_stack.setClean()
    win.close()


def test_many_filters_wrap_into_a_readable_weight_grid():
    """ResNet's conv1 (64 filters × 3 channels of 7×7) is drawn as a squarish grid, each
    filter's channels side by side, not a strip one filter wide."""
    from gui.dataflow.frames import operand_layouts
    layout = operand_layouts(ConvLayer(224, 224, 3, 7, 64, 2, 3))["weight"]
    rows, cols = layout.image_shape
    assert 0.5 <= cols / rows <= 2, (rows, cols)
    assert layout.columns % 3 == 0  # whole filters per row
    # the address of filter f, channel c sits in the plane the engine's order says
    ys, xs = layout.cells(np.array([(5 * 3 + 2) * 49]))
    py, px = divmod(5 * 3 + 2, layout.columns)
    assert (ys[0], xs[0]) == (py * 8, px * 8)
    few = operand_layouts(ConvLayer(6, 7, 9, 3, 2, 1, 0))["weight"]
    assert few.columns == 9  # two filters: one row each, as before
