"""The Pipeline workspace driven as a user would: the reference layer, seek == step, form
edits (valid and not), the big MLP, the comparison and its exports, "from design" and the
editor's "Open in Pipeline lab"."""

from __future__ import annotations

import numpy as np
import pytest

from core.graph.analysis import analyze
from core.graph.presets import load_preset
from core.pipeline import KINDS, PipelineConfig, build_schedule
from gui.pipeline import PipelinePanel
from gui.pipeline import panel as panel_module
from gui.pipeline.frames import ScheduleFrames


@pytest.fixture
def panel(shown):
    p = shown(PipelinePanel(lambda: analyze(load_preset("mlp"))), 1280, 720)
    assert p.wait_idle()
    yield p
    p.shutdown()


def same_picture(a, b) -> bool:
    return (a.cycle == b.cycle and a.busy == b.busy and a.active == b.active
            and all(np.array_equal(x, y) for x, y in zip(a.neurons, b.neurons))
            and all(np.array_equal(x, y) for x, y in zip(a.edges, b.edges)))


def settle(panel, started=True):
    assert started is True and panel.wait_idle()


def test_reference_layer(panel):
    panel.reset_to_reference()
    settle(panel)
    assert panel.result.total.value == 101
    assert panel.player.frame_count == 101
    assert "10 × (8 + 2) + 1 = 101" in panel.summary.toPlainText()
    assert panel.gantt.mode == "detailed"


def test_seek_equals_stepping(panel):
    player = panel.player
    target = 137
    player.set_frame(target)
    seeked = panel.current_state
    cursor = panel.gantt.cursor.value()
    bars = list(panel.utilisation.values_now)
    player.go_to_start()
    for _ in range(target):
        player.step_forward()
    assert player.frame == target
    assert panel.current_state is not seeked and same_picture(panel.current_state, seeked)
    assert panel.gantt.cursor.value() == cursor and panel.utilisation.values_now == bars
    player.set_frame(target + 7)
    for _ in range(7):
        player.step_back()
    assert same_picture(panel.current_state, seeked)
    assert panel.drawing.state is panel.current_state


def test_frames_agree_with_the_schedule_operation_by_operation():
    config = PipelineConfig((7, 5, 3), "diannao", tn=2, ti=3, samples=2)
    schedule = build_schedule(config)
    frames = ScheduleFrames(schedule)
    for cycle in range(0, schedule.makespan, 3):
        running = schedule.active(cycle)
        state = frames.state(cycle)
        assert state.active == running.size
        for code, kind in enumerate(KINDS):
            assert state.busy[kind] == int(np.sum(schedule.kind[running] == code))


@pytest.mark.parametrize("max_bins", [10_000, 7])
def test_gantt_bins_hold_the_busy_unit_cycles_of_each_group(monkeypatch, max_bins):
    from gui.pipeline import frames as frames_module
    monkeypatch.setattr(frames_module, "MAX_BINS", max_bins)
    config = PipelineConfig((9, 6, 4), "per-neuron", overlap=True, t_a=11, samples=2)
    schedule = build_schedule(config)
    frames = ScheduleFrames(schedule)
    w = frames.per_bin
    expected = np.zeros_like(frames.busy_per_bin)
    for k, layer, start, end in zip(schedule.kind, schedule.layer, schedule.start, schedule.end):
        for cycle in range(start, end):  # one unit-cycle at a time
            expected[k * 2 + layer, cycle // w] += 1
    assert np.array_equal(frames.busy_per_bin, expected)
    fraction, _ = frames.binned_fraction()
    assert fraction.max() <= 1 and fraction.min() >= 0


def test_huge_latencies_leave_the_animation_off(panel):
    panel.fields["t_m"].setValue(1_000_000)
    settle(panel, panel.set_widths((3000, 1000)))
    assert panel.frames is None
    assert "more than the player" in panel.animation_note.text()


def test_form_change_rebuilds_the_schedule(panel, qtbot):
    panel.reset_to_reference()
    settle(panel)
    old = panel.frames
    panel.fields["t_m"].setValue(9)
    qtbot.waitUntil(lambda: panel.frames is not old, timeout=5000)
    assert panel.player.frame_count == 10 * (9 + 2) + 1
    panel.arch_box.setCurrentIndex(panel.arch_box.findData("nfu"))
    qtbot.waitUntil(lambda: panel.result.arch == "nfu", timeout=5000)
    assert panel.player.frame_count == 9 + 10 * 2 + 1


def test_bad_values_keep_the_last_state(panel, qtbot):
    old = panel.state
    panel.widths_edit.setText("10,0")
    assert panel.recompute() is False
    assert panel.state is old
    assert "layer width 2" in panel.errors["widths"].text()
    assert panel.errors["widths"].isVisible() and panel.stale_label.isVisible()
    panel.widths_edit.setText("10,8")
    panel.fields["tn"].setValue(0)
    assert panel.recompute() is False
    assert "Tn" in panel.errors["tn"].text() and panel.errors["tn"].isVisible()
    panel.fields["tn"].setValue(4)
    settle(panel, panel.recompute())
    assert not panel.errors["tn"].isVisible() and panel.state is not old


def test_next_layer_marker(panel):
    panel.widths_edit.setText("10,8,6,5")
    settle(panel, panel.recompute())
    panel.player.go_to_start()
    panel.player.jump_to_next_marker()
    assert panel.player.frame == 101
    assert panel.current_state.layers == (1,)


def test_stream_markers_stop_where_samples_enter_layers(panel):
    panel.fields["samples"].setValue(3)
    settle(panel, panel.recompute())
    # 10-8-6-5, no overlap: layers of 101, 81, 61 cycles, a sample every 101 cycles
    starts = [0, 101, 182, 202, 283, 303, 384]
    panel.player.go_to_start()
    for expected in starts[1:]:
        panel.player.jump_to_next_marker()
        assert panel.player.frame == expected
    panel.player.set_frame(200)
    # sample 2 is in layer 1 (101–202), sample 1 in layer 3 (182–243)
    assert panel.current_state.pairs == ((0, 1), (2, 0))
    assert "L1·sample 2" in panel.cycle_label.text()


def test_big_mlp_is_aggregated(panel):
    settle(panel, panel.set_widths((784, 1024, 1024, 10)))
    assert panel.player.frame_count == 28_323
    assert panel.gantt.mode == "aggregated"
    panel.player.set_frame(9000)
    assert panel.current_state.busy["adder"] == 1024
    assert panel.current_state.neurons[2].max() == 1  # layer 2's neurons are adding


def test_above_the_animation_limit_the_figures_stay(panel, monkeypatch):
    monkeypatch.setattr(panel_module, "ANIMATION_LIMIT", 100)
    settle(panel, panel.set_widths((10, 8, 6, 5)))
    assert panel.frames is None and panel.player.frame_count == 0
    assert "limit of 100" in panel.animation_note.text()
    assert "243" in panel.summary.toPlainText()


def test_comparison_and_exports(panel, tmp_path):
    comparison = panel.comparison
    assert [r.arch for r in comparison.results] == ["per-neuron", "nfu", "nfu-tree", "diannao"]
    assert comparison.summary.rowCount() == 4
    for suffix, marker in ((".csv", "arch,latency"), (".md", "| arch |"),
                           (".tex", r"\toprule")):
        path = comparison.export_tables(str(tmp_path / f"cmp{suffix}"))
        assert marker in open(path, encoding="utf-8").read()
    for suffix in (".png", ".svg"):
        path = comparison.export_charts(str(tmp_path / f"charts{suffix}"))
        assert (tmp_path / f"charts{suffix}").stat().st_size > 1000, path
        path = panel.export_view(str(tmp_path / f"view{suffix}"))
        assert (tmp_path / f"view{suffix}").stat().st_size > 1000, path


def test_only_the_newest_request_is_shown(panel):
    for widths in ((12, 9), (30, 20, 10), (10, 8)):
        panel.set_widths(widths)
    settle(panel)
    assert panel.result.config.widths == (10, 8) and panel.player.frame_count == 101


def test_assumptions_are_stated(panel):
    text = panel.notes.toPlainText()
    assert "bias" in text and "not themselves pipelined" in text


def test_from_design_reads_the_linear_chain(panel):
    settle(panel, panel.load_from_design())
    assert panel.widths_edit.text() == "784,256,256,256,10"
    assert "fc1 → fc2 → fc3 → fc4" in panel.source_label.text()


def test_main_window_opens_a_linear_chain_in_the_pipeline_lab(window):
    from gui.main_window import WORKSPACES
    index = WORKSPACES.index("Pipeline")
    assert window.workspace_bar.isTabEnabled(index)
    assert window.pipeline_panel is None  # built on first use
    window.document.load_network(load_preset("lenet5"))
    menu = window.node_menu("fc1")
    action = next(a for a in menu.actions() if a.text() == "Open in Pipeline lab")
    assert action.isEnabled()
    conv = next(a for a in window.node_menu("conv1").actions()
                if a.text() == "Open in Pipeline lab")
    assert not conv.isEnabled()
    assert window.open_in_pipeline("fc2")
    assert window.pipeline_panel.wait_idle()
    assert window.pipeline_panel.result.config.widths == (120, 84, 10)
    assert window.current_page() is window.pipeline_panel
    assert window.pipeline_panel.widths_edit.text() == "120,84,10"
