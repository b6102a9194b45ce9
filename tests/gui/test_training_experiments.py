"""The Experiments tab: a batch size × learning rate grid with repeats, run from the panel's
worker, fills the mean ± std table and the plot's error bars with the sweep's numbers; a
stop ends a process-pool sweep and its workers; bad sweeps are refused beside the field or in the
tab's status line before anything trains; any number of dimensions with the grid size live;
Pause holds a sweep and Resume finishes it; each point's epoch curve is drawn; a small
sweep on the pool suggests inline. Uses the bundled MNIST sample."""

from __future__ import annotations

import csv
import multiprocessing
import statistics

import numpy as np
import pytest

from core.graph.presets import load_preset

SWEEP_MS = 120_000


def test_a_grid_with_repeats_fills_table_error_bars_and_export(qtbot, panel, tmp_path):
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    view.set_dimensions([("batch_size", "250, 1000"), ("lr", "0.001, 0.01")])
    view.repeats.setValue(2)
    view.executor.setCurrentIndex(view.executor.findData("inline"))
    view.images.setText("1,000")
    with qtbot.waitSignal(panel.sig_run_ended, timeout=SWEEP_MS) as ended:
        view.run_button.click()
        assert not view.run_button.isEnabled() and not panel.start_button.isEnabled()
    assert ended.args == ["finished"]
    assert len(view.rows) == 8 and view.table.rowCount() == 4
    assert [a.settings for a in view.aggregates] == [
        {"batch_size": 250, "lr": 0.001}, {"batch_size": 250, "lr": 0.01},
        {"batch_size": 1000, "lr": 0.001}, {"batch_size": 1000, "lr": 0.01}]
    params = sum(p.numel() for p in _module("mlp").parameters())
    assert {r.params for r in view.rows} == {params}
    assert "± acc" in [view.table.horizontalHeaderItem(c).text()
                       for c in range(view.table.columnCount())]
    # the plot: one series per learning rate over batch size, error bars = sample std
    series = dict((legend, (x, mean, std)) for legend, x, mean, std in view.series("test_acc"))
    x, mean, std = series["lr 0.01"]
    assert list(x) == [250, 1000]
    accs = [r.test_acc for r in view.rows if r.settings == {"batch_size": 250, "lr": 0.01}]
    assert mean[0] == pytest.approx(100 * statistics.mean(accs))
    assert std[0] == pytest.approx(100 * statistics.stdev(accs))
    assert len(view.error_bars) == 2
    bars = view.error_bars[1].opts
    assert np.allclose(bars["top"], std) and np.allclose(bars["y"], mean)
    assert list(bars["x"]) == [0, 1]  # evenly spaced, ticks say the values
    assert view.curves[1].getData()[1] == pytest.approx(mean)
    assert "Sweep finished: 8 runs" in view.status.text()
    out = view.export_table(str(tmp_path / "sweep.csv"))
    parsed = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(r["batch_size"], r["lr"]) for r in parsed] == [
        ("250", "0.001"), ("250", "0.01"), ("1000", "0.001"), ("1000", "0.01")]
    assert int(parsed[0]["params"]) == params and parsed[0]["runs"] == "2/2"


def test_stop_ends_a_pool_sweep_and_its_workers(qtbot, panel):
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    view.set_dimensions([("lr", "0.001, 0.002, 0.003, 0.004")])
    view.repeats.setValue(3)
    view.executor.setCurrentIndex(view.executor.findData("pool"))
    with qtbot.waitSignal(panel.sig_run_ended, timeout=SWEEP_MS) as ended:
        view.run_button.click()
        qtbot.waitUntil(lambda: "runs on pool" in view.status.text(), timeout=SWEEP_MS)
        panel.stop()
    assert ended.args == ["stopped"]
    assert len(view.rows) < 12
    qtbot.waitUntil(lambda: not [p for p in multiprocessing.active_children()
                                 if p.name.startswith("Spawn")], timeout=10_000)
    assert view.run_button.isEnabled()


def _module(name):
    from core.torchbridge.build import build_model
    return build_model(load_preset(name))


def test_bad_values_are_shown_beside_the_field(qtbot, panel):
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    row = view.dims[0]
    row.kind.setCurrentIndex(row.kind.findData("kernel"))
    assert row.values.text() == "3, 5, 7"  # the kind's example
    row.values.setText("3, 4")  # checked as it is edited, before any click
    assert row.error.isVisible() and "kernel" in row.error.text() \
        and "odd whole numbers" in row.error.text()
    assert not view.run_button.isEnabled()
    view.run_button.click()
    row.values.setText("3")
    assert not row.error.isVisible() and view.run_button.isEnabled()
    view.images.setText("-5")
    view.run_button.click()
    assert view.images_error.isVisible() and "train images" in view.images_error.text()
    assert panel.controller.thread is None


def test_untrainable_design_is_refused_before_training(qtbot, panel):
    panel.document_provider = lambda: load_preset("transformer")
    panel.model_combo.setCurrentText("current design")
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    view.set_dimensions([("width", "0.5, 1")])
    view.run_button.click()
    assert panel.controller.thread is None
    assert "transformer" in view.status.text().lower() and view.status.styleSheet()


# -- any number of dimensions --------------------------------------------------------------
def test_dimensions_are_added_removed_and_sized_live(qtbot, panel):
    from core.training.experiments import SWEEP_KINDS
    from core.training.sweeps import MAX_POINTS
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    view.set_dimensions([("batch_size", "32, 64, 128"), ("lr", "0.001, 0.003, 0.01, 0.03")])
    third = view.add_dimension()
    assert third.current_kind() == "width"  # the first kind not used yet
    third.values.setText("1, 2")
    view.repeats.setValue(2)
    assert view.size_label.text() == "3 × 4 × 2 × 2 repeats = 48 runs"
    assert view.run_button.isEnabled()
    request = view.read_request()
    assert request.grid.kinds == ("batch_size", "lr", "width")
    assert request.grid.size() * request.repeats == 3 * 4 * 2 * 2
    # above the core's limit: refused with the limit named
    twelve = ", ".join(str(2 ** k) for k in range(12))
    view.dims[0].values.setText(twelve)
    view.repeats.setValue(3)
    runs = 12 * 4 * 2 * 3
    assert runs > MAX_POINTS
    assert f"= {runs} runs" in view.size_label.text() and str(MAX_POINTS) in \
        view.size_label.text()
    assert not view.run_button.isEnabled() and view.read_request() is None
    view.dims[0].values.setText("32")
    assert view.size_label.text() == "1 × 4 × 2 × 3 repeats = 24 runs"
    # the same dimension twice: named beneath the row
    third.kind.setCurrentIndex(third.kind.findData("lr"))
    assert not third.error.isHidden() and "lr" in third.error.text() and "twice" in \
        third.error.text()
    assert not view.run_button.isEnabled()
    view.remove_dimension(third)
    assert len(view.dims) == 2 and view.run_button.isEnabled()
    while view.add_dimension() is not None:
        pass
    assert len(view.dims) == len(SWEEP_KINDS) and not view.add_button.isEnabled()
    for row in list(view.dims[1:]):
        row.remove.click()
    assert len(view.dims) == 1 and not view.dims[0].remove.isEnabled()


def _rows(grid, accuracy):
    """PointRows of ``grid`` (one repeat) with test accuracy ``accuracy(settings)``."""
    from core.training.sweeps import PointRow, point_label
    return [PointRow(i, s, point_label(s), 0, 1, "finished", 10, 20, 1, 1.0, 1.0, 100.0,
                     accuracy(s), 0.5) for i, s in enumerate(grid.points(), 1)]


def test_the_plot_has_a_series_per_combination_of_the_other_dimensions(qtbot, panel,
                                                                      tmp_path):
    from core.training.sweeps import aggregate, parse_grid
    view = panel.experiments
    grid = parse_grid(["batch_size=32,64,128", "lr=0.001,0.01", "width=1,2"])
    def acc(s):
        return 0.5 + s["batch_size"] / 1000 + s["lr"] + s["width"] / 100
    rows = _rows(grid, acc)
    view.start(grid, len(rows))
    for k, row in enumerate(rows, 1):
        view.update(row, aggregate(rows[:k], grid, 1))
    series = {legend: (x, mean) for legend, x, mean, _ in view.series("test_acc")}
    assert sorted(series) == sorted(f"lr {lr:g}, width ×{w:g}" for lr in (0.001, 0.01)
                                    for w in (1, 2))
    for lr in (0.001, 0.01):
        for w in (1, 2):
            x, mean = series[f"lr {lr:g}, width ×{w:g}"]
            assert list(x) == [32, 64, 128]
            assert mean == pytest.approx([100 * acc({"batch_size": b, "lr": lr, "width": w})
                                          for b in (32, 64, 128)])
    assert len(view.curves) == 4 and len(view.error_bars) == 4
    assert view.plot.getAxis("bottom").labelText == "batch size"
    # savable: PNG and SVG of the plot on show
    png = view.save_plot(str(tmp_path / "grid.png"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    view.plots.setCurrentIndex(1)
    svg = view.save_plot(str(tmp_path / "curves.svg"))
    assert "<svg" in open(svg, encoding="utf-8").read()


# -- pause ---------------------------------------------------------------------------------
def test_pause_holds_a_sweep_after_its_running_point_and_resume_finishes_it(qtbot, panel):
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    view.set_dimensions([("lr", "0.001, 0.002, 0.003, 0.004, 0.005")])
    view.executor.setCurrentIndex(view.executor.findData("inline"))
    with qtbot.waitSignal(panel.sig_run_ended, timeout=SWEEP_MS) as ended:
        view.run_button.click()
        qtbot.waitUntil(lambda: len(view.rows) >= 1, timeout=SWEEP_MS)
        assert panel.pause_button.isEnabled()
        panel.pause_button.click()
        qtbot.waitUntil(lambda: "paused after" in view.status.text(), timeout=SWEEP_MS)
        held = len(view.rows)
        assert held < 5
        assert f"paused after {held} of 5 points" in view.status.text()
        qtbot.wait(1500)  # nothing starts while paused
        assert len(view.rows) == held
        panel.pause_button.click()  # Resume
        assert panel.pause_button.text() == "Pause"
    assert ended.args == ["finished"]
    assert len(view.rows) == 5


# -- per-point curves ----------------------------------------------------------------------
def test_each_finished_point_draws_its_epoch_curve(qtbot, panel):
    from core.training.run_store import RunStore
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    panel.epochs.setText("2")
    panel.seed.setText("7")
    view.set_dimensions([("lr", "0.001, 0.01")])
    view.executor.setCurrentIndex(view.executor.findData("inline"))
    with qtbot.waitSignal(panel.sig_run_ended, timeout=SWEEP_MS) as ended:
        view.run_button.click()
    assert ended.args == ["finished"]
    assert [c.name() for c in view.point_curves] == ["lr 0.001", "lr 0.01"]
    store = RunStore()
    for curve, row in zip(view.point_curves, sorted(view.rows, key=lambda r: r.index)):
        stored = store.get(row.run_id).epochs
        x, y = curve.getData()
        assert list(x) == [e["epoch"] for e in stored] == [1, 2]
        assert list(y) == pytest.approx([e["test_loss"] for e in stored])
    view.curve_metric.setCurrentIndex(view.curve_metric.findData("test_acc"))
    last = max(view.rows, key=lambda r: r.index)  # the final epoch's accuracy is the row's
    assert view.point_curves[1].getData()[1][-1] == pytest.approx(100 * last.test_acc)


# -- the executor hint ---------------------------------------------------------------------
def test_a_small_sweep_on_the_pool_suggests_inline(qtbot, panel, monkeypatch):
    view = panel.experiments
    assert view.executor.currentData() == "pool"  # the default stays the pool
    monkeypatch.setattr(view, "workers", lambda: 2)
    view.set_dimensions([("lr", "0.001, 0.01, 0.1")])  # 3 runs < 2 × 2 workers
    assert view.executor_hint.isVisibleTo(view) and "inline" in view.executor_hint.text()
    assert "3 runs for 2 workers" in view.executor_hint.text()
    view.repeats.setValue(2)  # 6 runs
    assert not view.executor_hint.isVisibleTo(view)
    view.images.setText("1000")
    assert view.executor_hint.isVisibleTo(view) and "1,000 train images a run" in \
        view.executor_hint.text()
    view.executor.setCurrentIndex(view.executor.findData("inline"))
    assert not view.executor_hint.isVisibleTo(view)
    assert panel.experiments.executor.findData("pool") >= 0
