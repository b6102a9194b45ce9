"""The Training panel after runs: overlays of earlier runs, hover read-outs, the Export
menu's files (checked by reading them back with independent readers), the download button
against a local mirror, and the device field. Uses the bundled MNIST sample."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

FIRST_RUN_MS = 60_000


def _train(qtbot, panel, **fields) -> str:
    for name, text in fields.items():
        field = panel.fields[name]
        if hasattr(field, "setCurrentText"):
            field.setCurrentText(text)
        else:
            field.setText(text)
    with qtbot.waitSignal(panel.sig_run_ended, timeout=FIRST_RUN_MS) as ended:
        assert panel.start()
    return ended.args[0]


@pytest.fixture
def two_runs(qtbot, panel):
    assert _train(qtbot, panel, epochs="2") == "finished"
    assert _train(qtbot, panel, epochs="1", optimizer="sgd") == "finished"
    return panel


def _curves(plot, prefix):
    return {c.name(): c for c in plot.listDataItems() if (c.name() or "").startswith(prefix)}


def test_overlay_draws_the_ticked_run_in_epochs_and_steps(qtbot, two_runs):
    panel = two_runs
    first = panel.history[0]
    assert not _curves(panel.plots.loss_plot, "#1")
    panel.history_table.set_overlay(1, True)
    curves = _curves(panel.plots.loss_plot, "#1")
    assert set(curves) == {"#1 mlp train", "#1 mlp test"}
    test_losses = [e["test_loss"] for e in first.epochs]
    assert np.allclose(curves["#1 mlp test"].yData, test_losses)
    assert np.allclose(curves["#1 mlp test"].xData, [1, 2])  # epochs
    acc = _curves(panel.plots.acc_plot, "#1")["#1 mlp test"]
    assert np.allclose(acc.yData, [100 * e["test_acc"] for e in first.epochs])
    smooth = _curves(panel.plots.batch_plot, "#1")["#1 mlp smoothed"]
    assert len(smooth.yData) == 12 and smooth.yData[0] == first.batch_losses[0]
    panel.plots.x_axis.setCurrentText("steps")
    curves = _curves(panel.plots.loss_plot, "#1")
    assert np.allclose(curves["#1 mlp test"].xData, [6, 12])
    panel.history_table.set_overlay(1, False)
    assert not _curves(panel.plots.loss_plot, "#1")


def test_hover_shows_the_nearest_point(qtbot, two_runs):
    plots = two_runs.plots
    plots.refresh()
    qtbot.wait(50)
    hover = plots.hovers[0]
    x, y = plots.curve_test_loss.xData[-1], plots.curve_test_loss.yData[-1]
    text = hover.show_at(x, y)
    assert text.startswith("test\nepoch 1")
    assert f"{y:.4g}" in text and hover.label.isVisible()
    view = plots.loss_plot.getViewBox()
    (x0, x1), (y0, y1) = view.viewRange()
    assert hover.show_at(x0 + 10 * (x1 - x0), y1 + 10 * (y1 - y0)) == ""
    assert not hover.label.isVisible()


def test_selecting_a_run_shows_its_confusion_matrix(qtbot, two_runs):
    panel = two_runs
    mine = [panel.results[r.index].evaluation.confusion_matrix() for r in panel.history]
    assert np.array_equal(panel.confusion_matrix, mine[1])  # the latest is shown
    panel.history_table.selectRow(0)
    assert np.array_equal(panel.confusion_matrix, mine[0])
    assert panel.selected_run()[0].index == 1


def test_exports_write_files_that_read_back(qtbot, two_runs, tmp_path):
    panel = two_runs
    exports = panel.exports
    png = exports.export_plots_png(str(tmp_path / "plots"))
    assert png.endswith(".png") and not QImage(png).isNull()
    assert QImage(png).width() > 600
    svg = exports.export_plots_svg(str(tmp_path / "plots.svg"))
    text = open(svg, encoding="utf-8").read()
    assert "<svg" in text and "Loss per epoch" in text

    table = exports.export_run_table(str(tmp_path / "runs.csv"))
    rows = list(csv.DictReader(open(table, encoding="utf-8")))
    assert [r["optimizer"] for r in rows] == ["adam", "sgd"]
    assert float(rows[0]["test acc (%)"]) == pytest.approx(100 * panel.history[0].test_acc,
                                                          abs=0.01)
    assert int(rows[1]["params"]) == panel.history[1].summary["params"]
    md = exports.export_run_table(str(tmp_path / "runs.md"))
    assert open(md, encoding="utf-8").read().count("\n| ") >= 3

    epochs = exports.export_epochs_csv(str(tmp_path / "epochs.csv"))
    rows = list(csv.DictReader(open(epochs, encoding="utf-8")))
    assert [(r["run"], r["epoch"]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1")]
    assert float(rows[1]["test_loss"]) == panel.history[0].epochs[1]["test_loss"]

    data = json.load(open(exports.export_json(str(tmp_path / "h.json")), encoding="utf-8"))
    assert data["format"] == "mlsys-studio-training-history"
    assert [len(r["batch_loss"]["loss"]) for r in data["runs"]] == [12, 6]
    assert data["runs"][1]["settings"]["optimizer"] == "sgd"


def test_checkpoint_and_onnx_of_the_selected_run(qtbot, two_runs, tmp_path):
    from core.training.data import load_sample
    from core.training.trainer import load_checkpoint
    panel = two_runs
    panel.history_table.selectRow(0)
    path = panel.exports.export_checkpoint(str(tmp_path / "run1.pt"))
    model = panel.results[1].model
    loaded = load_checkpoint(path)
    image = load_sample().test_images[0]
    assert np.allclose(loaded.predict(image).probabilities,
                       model.predict(image).probabilities, atol=1e-6)
    onnx = pytest.importorskip("onnx")
    out = panel.exports.export_onnx(str(tmp_path / "run1.onnx"))
    graph = onnx.load(out)
    onnx.checker.check_model(graph)
    assert "Wrote ONNX" in panel.status_label.text()


def test_export_errors_go_to_the_status_line(qtbot, panel, tmp_path):
    assert panel.exports.export_checkpoint(str(tmp_path / "x.pt")) is None
    assert "train one first" in panel.status_label.text()
    assert panel.exports.export_json(str(tmp_path / "x.json")) is None
    assert "Nothing to export yet" in panel.status_label.text()
    assert _train(qtbot, panel) == "finished"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert panel.exports.export_json(str(blocker / "inside.json")) is None
    assert "Cannot write histories" in panel.status_label.text()
    assert panel.exports.export_plots_png(str(blocker / "p.png")) is None
    assert "Cannot write plots" in panel.status_label.text()


def test_menu_lists_every_export(qtbot, panel):
    texts = [a.text() for a in panel.export_button.menu().actions() if a.text()]
    for part in ("PNG", "SVG", "Run table", "CSV", "JSON", "Checkpoint", "ONNX", "Netron"):
        assert any(part in t for t in texts), part


def _mirror(tmp_path):
    from core.training.data import SAMPLE_DIR
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    md5 = {}
    for path in SAMPLE_DIR.glob("*.gz"):
        shutil.copyfile(path, mirror / path.name)
        md5[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    return mirror.as_uri() + "/", md5


def test_download_button_fetches_with_progress_and_selects_the_folder(qtbot, panel, tmp_path,
                                                                    monkeypatch):
    import core.training.data as data_module
    url, md5 = _mirror(tmp_path)
    monkeypatch.setattr(data_module, "_mnist_sources", lambda: ([url], list(md5.items())))
    monkeypatch.setattr(data_module, "CHUNK_BYTES", 8192)
    seen = []
    panel.downloader.sig_event.connect(seen.append)
    target = tmp_path / "data"
    with qtbot.waitSignal(panel.downloader.sig_running, timeout=30_000,
                          check_params_cb=lambda running: not running):
        assert panel.download(str(target))
        assert panel.download_button.text() == "Cancel download"
    assert panel.folder.text() == str(target)
    assert "3,000/1,000" in panel.dataset_label.text()
    assert sum(type(s).__name__ == "DownloadProgress" and s.done_bytes > 0 for s in seen) > 4
    assert not panel.download_progress.isVisible()
    assert panel.download_button.text() == "Download…"
    assert "Downloaded MNIST" in panel.status_label.text()


def test_download_without_network_says_what_to_do(qtbot, panel, tmp_path, monkeypatch):
    import core.training.data as data_module
    monkeypatch.setattr(data_module, "_mnist_sources",
                        lambda: ([(tmp_path / "no-mirror").as_uri() + "/"],
                                 [("train-images-idx3-ubyte.gz", None)]))
    with qtbot.waitSignal(panel.downloader.sig_running, timeout=30_000,
                          check_params_cb=lambda running: not running):
        panel.download(str(tmp_path / "data"))
    text = panel.status_label.text()
    assert text.startswith("cannot download MNIST") and "choose it" in text
    assert panel.folder.text() == ""


def test_cuda_without_a_gpu_is_refused_beside_the_device(qtbot, panel):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    panel.device.setCurrentText("cuda")
    assert not panel.start()
    label = panel.field_errors["device"]
    assert label.isVisible() and "device 'cuda' is not allowed: use one of cpu" in label.text()
    panel.device.setCurrentText("cpu")
    assert panel.read_config() is not None and not label.isVisible()


def test_history_checkbox_is_the_overlay_switch(qtbot, two_runs):
    panel = two_runs
    item = panel.history_table.item(1, 0)
    assert item.flags() & Qt.ItemIsUserCheckable
    with qtbot.waitSignal(panel.history_table.sig_overlays) as got:
        item.setCheckState(Qt.Checked)
    assert [r.index for r in got.args[0]] == [2]
    assert _curves(panel.plots.loss_plot, "#2")


def test_results_tabs_follow_the_run_and_the_confusion_cells(qtbot, two_runs):
    panel = two_runs
    matrix = panel.confusion_matrix
    wrong = int(matrix.sum() - np.trace(matrix))
    assert panel.gallery.misclassified_count() == wrong
    assert panel.classifier.model() is panel.results[2].model
    off = matrix - np.diag(np.diag(matrix))
    i, j = np.unravel_index(int(off.argmax()), off.shape)
    panel.confusion_table.cellClicked.emit(int(i), int(j))
    assert panel.results_tabs.currentWidget() is panel.gallery
    assert panel.gallery.current_filter() == (i, j)
    assert len(panel.gallery.shown_indices()) == min(int(off[i, j]), 200)
    evaluation = panel.results[2].evaluation
    shown = panel.gallery.shown_indices()
    assert (evaluation.labels[shown] == i).all() and (evaluation.predictions[shown] == j).all()
    panel.history_table.selectRow(0)
    assert panel.classifier.model() is panel.results[1].model
    first = panel.results[1].evaluation
    assert panel.gallery.misclassified_count() == int((first.labels != first.predictions).sum())


def test_open_in_netron_exports_onnx_and_starts_netron_in_its_own_process(qtbot, panel,
                                                                          monkeypatch):
    pytest.importorskip("onnx")
    from gui.training import exports as exports_module
    started = []
    monkeypatch.setattr(exports_module, "netron_available", lambda: True)
    from gui.widgets import netron
    monkeypatch.setattr(netron.subprocess, "Popen", started.append)
    assert not panel.exports.open_in_netron()  # nothing trained yet
    assert _train(qtbot, panel) == "finished"
    assert panel.exports.open_in_netron()
    (command,) = started
    assert command[1:3] == ["-m", "netron"] and command[3].endswith("mlp_run1.onnx")
    import onnx
    onnx.checker.check_model(onnx.load(command[3]))
    monkeypatch.setattr(exports_module, "netron_available", lambda: False)
    assert not panel.exports.open_in_netron()
    assert "pip install netron" in panel.status_label.text()


def test_open_checkpoint_adds_an_evaluated_run(qtbot, two_runs, tmp_path):
    """A saved checkpoint comes back as a run whose predictions and test evaluation equal
    the run it was saved from; hostile files are refused on the status line."""
    panel = two_runs
    panel.history_table.selectRow(0)
    path = panel.exports.export_checkpoint(str(tmp_path / "run1.pt"))
    original = panel.results[1]
    assert panel.open_checkpoint(path)
    record = panel.history[-1]
    assert record.status == "loaded" and record.index == 3 and len(record.batch_losses) == 0
    loaded = panel.results[record.index]
    assert np.array_equal(loaded.evaluation.predictions, original.evaluation.predictions)
    assert "test accuracy" in panel.status_label.text()
    for hostile in ("/dev/zero", str(tmp_path), str(tmp_path / "missing.pt")):
        assert not panel.open_checkpoint(hostile)
        assert "Cannot open checkpoint" in panel.status_label.text()
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04not a pickle")
    assert not panel.open_checkpoint(str(garbage))
    assert len(panel.history) == 3
