"""The Experiments tab: a batch size × learning rate grid with repeats, run from the panel's
worker, fills the mean ± std table and the plot's error bars with the sweep's numbers; a
stop ends a process-pool sweep and its workers; bad sweeps are refused beside the field or in the
tab's status line before anything trains. Uses the bundled MNIST sample."""

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
    view.kind.setCurrentIndex(view.kind.findData("batch_size"))
    view.values.setText("250, 1000")
    view.kind2.setCurrentIndex(view.kind2.findData("lr"))
    view.values2.setText("0.001, 0.01")
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
    view.kind.setCurrentIndex(view.kind.findData("lr"))
    view.values.setText("0.001, 0.002, 0.003, 0.004")
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
    view.kind.setCurrentIndex(view.kind.findData("kernel"))
    assert view.values.text() == "3, 5, 7"  # the kind's example
    view.values.setText("3, 4")
    view.run_button.click()
    assert view.values_error.isVisible() and "kernel" in view.values_error.text()
    view.values.setText("3")
    view.images.setText("-5")
    view.run_button.click()
    assert view.images_error.isVisible() and "train images" in view.images_error.text()
    assert panel.controller.thread is None


def test_untrainable_design_is_refused_before_training(qtbot, panel):
    panel.document_provider = lambda: load_preset("transformer")
    panel.model_combo.setCurrentText("current design")
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    view.kind.setCurrentIndex(view.kind.findData("width"))
    view.run_button.click()
    assert panel.controller.thread is None
    assert "transformer" in view.status.text().lower() and view.status.styleSheet()
