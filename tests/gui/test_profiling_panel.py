"""The Profiling workspace: a tiny profile run to completion in the worker thread, live
plots and tables filled, the roofline's hover and click selecting the table row, sorting,
exports, field errors, Stop, and the lazily built tab of the main window."""

from __future__ import annotations

import math

from pathlib import Path

import pytest

from core.graph.analysis import analyze
from core.graph.presets import load_preset
from core.profiling import machine


@pytest.fixture
def profiling(shown, monkeypatch):
    from gui.profiling import ProfilingPanel
    monkeypatch.setitem(machine.GEMM_SIZE, "cpu", 64)  # tiny peak kernels: seconds, not more
    monkeypatch.setitem(machine.COPY_MIB, "cpu", 1)
    panel = ProfilingPanel(lambda: load_preset("lenet5"))
    panel.model_combo.setCurrentText("lenet5")
    panel.batches.setText("1,4")
    panel.repeats.setText("3")
    panel.warmup.setText("1")
    panel.budget.setText("0.05")
    panel.threads.setText("1")
    panel.memory.setChecked(False)  # the CPU profiler costs seconds; core tests cover it
    shown(panel, 1280, 720)
    yield panel
    assert panel.shutdown(5000)


def run_to_end(qtbot, panel):
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.is_running() and panel.result is not None,
                    timeout=60_000)
    return panel.result


def test_tiny_profile_fills_plots_tables_roofline_and_summary(qtbot, profiling, tmp_path):
    result = run_to_end(qtbot, profiling)
    assert result.status == "finished"
    assert profiling.batch_view.rowCount() == 2
    xs, ys = profiling.batch_plots.latency_curve.getData()
    assert list(xs) == [1, 4] and list(ys) == [b.latency_ms for b in result.batches]
    _, tput = profiling.batch_plots.throughput_curve.getData()
    assert list(tput) == [b.throughput_per_s for b in result.batches]
    analysis = analyze(load_preset("lenet5"))
    rows = [n for n in analysis.order if analysis[n].type != "Input"]
    assert profiling.layer_view.rowCount() == len(rows)
    plotted = [l for l in result.layers if l.cost.flops]
    assert len(profiling.roofline.layers) == len(plotted)
    assert "batch 4" in profiling.summary.toPlainText()
    macs = [profiling.layer_view.horizontalHeaderItem(c).text()
            for c in range(profiling.layer_view.columnCount())].index("MACs")
    conv1 = next(r for r in range(len(rows)) if profiling.layer_view.item(r, 0).text() == "conv1")
    assert profiling.layer_view.item(conv1, macs).toolTip() == next(
        l.cost.formula for l in result.layers if l.name == "conv1")
    assert "Cout" in profiling.layer_view.item(conv1, macs).toolTip()
    assert profiling.progress.value() == profiling.progress.maximum()

    # hover and click on a roofline point select its row
    layer = profiling.roofline.layers[0]
    x, y = math.log10(layer.cost.intensity), math.log10(layer.attained_flops)
    assert layer.name in profiling.roofline.show_at(x, y)
    assert profiling.roofline.click_at(x, y) == layer.name
    assert profiling.selected_layer() == layer.name

    # sorting by measured time puts the slowest layer first
    measured = [profiling.layer_view.horizontalHeaderItem(c).text()
                for c in range(profiling.layer_view.columnCount())].index("measured ms")
    from PySide6.QtCore import Qt
    profiling.layer_view.sortItems(measured, Qt.DescendingOrder)
    slowest = max(result.layers, key=lambda l: l.measured_ms)
    assert profiling.layer_view.item(0, 0).text() == slowest.name

    # every export writes its file
    e = profiling.exports
    assert e.export_batch_table(str(tmp_path / "b.csv"))
    assert (tmp_path / "b.csv").read_text().startswith("batch,")
    assert e.export_layer_table(str(tmp_path / "l.md"))
    assert "| layer |" in (tmp_path / "l.md").read_text()
    assert e.export_group_table(str(tmp_path / "g.tex"))
    assert r"\toprule" in (tmp_path / "g.tex").read_text()
    for name in ("p.png", "p.svg"):
        assert e.export_batch_plots(str(tmp_path / name))
        assert e.export_roofline(str(tmp_path / ("r" + name)))
    assert all((tmp_path / n).stat().st_size > 0 for n in ("p.png", "p.svg", "rp.png", "rp.svg"))
    assert e.export_summary(str(tmp_path / "s.txt"))
    assert "Highest throughput" in (tmp_path / "s.txt").read_text()


def test_bad_fields_are_shown_beside_them(profiling):
    profiling.batches.setText("0,x")
    profiling.threads.setText("many")
    assert not profiling.start()
    assert profiling.field_errors["batches"].isVisible()
    assert "threads" in profiling.field_errors["threads"].text()
    assert not profiling.is_running()
    profiling.batches.setText("1")
    profiling.threads.setText("1")
    profiling.input_shape.setText("0,0")
    assert not profiling.start()
    assert "input shape" in profiling.field_errors["input"].text()


def test_stop_ends_a_long_profile(qtbot, profiling):
    profiling.repeats.setText("100000")
    profiling.budget.setText("3600")
    profiling.roofline_box.setChecked(False)
    assert profiling.start()
    qtbot.waitUntil(lambda: profiling.progress.maximum() > 0, timeout=30_000)  # Started
    profiling.stop()
    qtbot.waitUntil(lambda: not profiling.is_running(), timeout=10_000)
    assert profiling.result is not None and profiling.result.status == "stopped"


def test_unknown_model_reaches_the_status_line(qtbot, profiling):
    profiling.model_combo.setCurrentText("no-such-model")
    assert profiling.start()
    qtbot.waitUntil(lambda: not profiling.is_running(), timeout=30_000)
    assert "no-such-model" in profiling.status_label.text()


def test_main_window_builds_the_tab_on_first_use(window):
    from gui.main_window import WORKSPACES
    index = WORKSPACES.index("Profiling")
    assert window.profiling_panel is None and window.workspace_bar.isTabEnabled(index)
    window.show_workspace(index)
    assert window.profiling_panel is not None
    assert window.current_page() is window.profiling_panel


def test_onnx_and_netron_export_the_profiled_network(qtbot, profiling, tmp_path, monkeypatch):
    from gui.profiling import exports
    assert profiling.exports.export_onnx(str(tmp_path / "none.onnx")) is None  # no run yet
    written = []
    monkeypatch.setattr(exports, "export_onnx", lambda network, p: (
        written.append(network.name), p.write_bytes(b"onnx")))
    monkeypatch.setattr(exports, "netron_available", lambda: True)
    launched = []
    from gui.widgets import netron
    monkeypatch.setattr(netron.subprocess, "Popen", lambda args: launched.append(args))
    profiling.per_layer.setChecked(False)
    profiling.roofline_box.setChecked(False)
    run_to_end(qtbot, profiling)
    assert profiling.exports.export_onnx(str(tmp_path / "m.onnx"))
    assert written == ["lenet5"] and (tmp_path / "m.onnx").read_bytes() == b"onnx"
    assert profiling.exports.open_in_netron()
    assert launched[0][1:3] == ["-m", "netron"] and launched[0][3].endswith("lenet5.onnx")
    folder = Path(launched[0][3]).parent
    profiling.exports.cleanup()  # closing the workspace removes the temporary export
    assert not folder.exists()


def test_a_window_profile_is_recorded_in_the_run_store(qtbot, profiling, tmp_path,
                                                       monkeypatch):
    from core.profiling.report import as_json
    from core.training.run_store import RunStore
    monkeypatch.setenv("MLSYS_RUN_STORE", str(tmp_path / "runs.sqlite"))
    result = run_to_end(qtbot, profiling)
    qtbot.waitUntil(lambda: profiling.stored_run_id is not None, timeout=5_000)
    run = RunStore(tmp_path / "runs.sqlite").get(profiling.stored_run_id)
    assert run.kind == "profile" and run.model == "lenet5" and run.status == "finished"
    assert run.settings["batches"] == [1, 4]
    stored = [b["latency_ms"] for b in run.summary["batches"]]
    assert stored == [b["latency_ms"] for b in as_json(result)["batches"]]
