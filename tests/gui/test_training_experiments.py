"""The Experiments tab: a batch-size sweep run from the panel's worker fills the table and
the plot with the engine's numbers; bad sweeps are refused beside the field or in the
tab's status line before anything trains. Uses the bundled MNIST sample."""

from __future__ import annotations

import csv

import numpy as np

from core.graph.presets import load_preset

SWEEP_MS = 120_000


def test_batch_size_sweep_fills_table_plot_and_export(qtbot, panel, tmp_path):
    view = panel.experiments
    panel.results_tabs.setCurrentWidget(view)
    view.kind.setCurrentIndex(view.kind.findData("batch_size"))
    view.values.setText("250, 1000")
    view.images.setText("1,000")
    with qtbot.waitSignal(panel.sig_run_ended, timeout=SWEEP_MS) as ended:
        view.run_button.click()
        assert not view.run_button.isEnabled() and not panel.start_button.isEnabled()
    assert ended.args == ["finished"]
    rows = view.rows
    assert [r.value for r in rows] == [250, 1000] and view.table.rowCount() == 2
    params = sum(p.numel() for p in _module("mlp").parameters())
    assert {r.params for r in rows} == {params}
    assert [r.inference_batch for r in rows] == [250, 1000]
    assert all(0 < r.test_acc <= 1 and r.status == "finished" for r in rows)
    assert view.run_button.isEnabled() and "Sweep finished: 2 runs" in view.status.text()
    view.metric.setCurrentIndex(view.metric.findData("inference_ms_per_batch"))
    x, y = view.curve.getData()
    assert np.allclose(10 ** x if view.plot.getPlotItem().ctrl.logXCheck.isChecked() else x,
                       [250, 1000])
    assert np.allclose(y, [r.inference_ms_per_batch for r in rows])
    out = view.export_table(str(tmp_path / "sweep.csv"))
    parsed = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [int(r["value"]) for r in parsed] == [250, 1000]
    assert int(parsed[0]["params"]) == params


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
