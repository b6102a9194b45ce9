"""The Training panel: runs in a worker thread, live plots, stop/pause/shutdown, validation
beside the fields, errors reaching the UI, run history. Uses the bundled MNIST sample."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from core.graph.presets import load_preset
from gui.training import panel as panel_module

FIRST_RUN_MS = 60_000  # the first run in a process imports torch and builds tensors


def _kind(name):
    return lambda event: type(event).__name__ == name


def _wait_ended(qtbot, panel, timeout=FIRST_RUN_MS):
    with qtbot.waitSignal(panel.sig_run_ended, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def test_run_plots_epochs_and_records_history(qtbot, panel):
    panel.epochs.setText("2")
    with qtbot.waitSignal(panel.controller.sig_event, timeout=FIRST_RUN_MS,
                          check_params_cb=_kind("EpochEvent")):
        assert panel.start()
    assert panel.is_running() or panel.history  # may already be done on a fast machine
    with qtbot.waitSignal(panel.sig_run_ended, timeout=FIRST_RUN_MS) as ended:
        pass
    assert ended.args == ["finished"]
    assert not panel.is_running()
    assert panel.plots.train_loss.n == 2 and panel.plots.test_acc.n == 2
    assert panel.plots.batch_loss.n == 12
    assert panel.plots.redraws >= 1
    assert panel.history_table.rowCount() == 1
    record = panel.history[0]
    assert record.status == "finished" and record.model == "mlp"
    assert record.summary["inference_ms_per_batch"] > 0 and 0 < record.test_acc <= 1
    assert record.settings["batch_size"] == 500
    mlp = load_preset("mlp")
    shape = "×".join(map(str, mlp.node(mlp.input_names()[0]).params["shape"]))
    assert (record.input_shape, record.output_shape) == (shape, "10")
    assert len(record.batch_losses) == 12 and record.steps_per_epoch == 6
    cells = [panel.history_table.item(0, c).text() for c in range(panel.history_table.columnCount())]
    assert "—" not in cells[:15] and cells[1] == "mlp" and cells[15:17] == [shape, "10"]
    assert panel.confusion_matrix.sum() == 1000  # the sample's test split
    assert "bundled sample" in panel.dataset_label.text()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    panel.results_tabs.setCurrentWidget(panel.confusion_table)
    qtbot.wait(50)
    shot = Path(__file__).resolve().parents[2] / "build" / "training_panel_finished.png"
    shot.parent.mkdir(exist_ok=True)
    assert panel.grab().save(str(shot))


def test_stop_within_a_second_and_screenshot(qtbot, panel, tmp_path):
    panel.model_combo.setCurrentText("lenet5")
    panel.batch_size.setText("100")
    panel.epochs.setText("50")
    epochs = []
    panel.controller.sig_event.connect(epochs.append)
    with qtbot.waitSignal(panel.controller.sig_event, timeout=FIRST_RUN_MS,
                          check_params_cb=_kind("EpochEvent")):
        panel.start()
    qtbot.waitUntil(lambda: sum(type(e).__name__ == "EpochEvent" for e in epochs) >= 2,
                    timeout=30_000)
    qtbot.wait(300)  # a few batches into epoch 3, and a plot refresh
    shot = Path(__file__).resolve().parents[2] / "build" / "training_panel_running.png"
    shot.parent.mkdir(exist_ok=True)
    assert panel.grab().save(str(shot))
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.sig_run_ended, timeout=5000) as ended:
        panel.stop_button.click()
    seconds = time.perf_counter() - t0
    assert ended.args == ["stopped"]
    assert seconds < 1.0, f"stop took {seconds:.2f} s"
    assert panel.history[-1].status == "stopped"
    assert panel.history[-1].summary["inference_ms_per_batch"] is None


def test_pause_and_resume(qtbot, panel):
    panel.epochs.setText("200")
    events = []
    panel.controller.sig_event.connect(events.append)
    batches = []
    panel.controller.sig_batches.connect(batches.append)
    with qtbot.waitSignal(panel.controller.sig_batches, timeout=FIRST_RUN_MS):
        panel.start()
    with qtbot.waitSignal(panel.controller.sig_event, timeout=3000,
                          check_params_cb=_kind("Paused")):
        panel.pause_button.click()
    assert panel.pause_button.text() == "Resume"
    count = len(batches)
    qtbot.wait(400)
    assert len(batches) == count  # nothing trains while paused
    assert panel.is_running()
    assert "paused" in panel.progress.format() and "ETA" not in panel.progress.format()
    with qtbot.waitSignal(panel.controller.sig_event, timeout=3000,
                          check_params_cb=_kind("Resumed")):
        panel.pause_button.click()
    assert "paused" not in panel.progress.format()
    qtbot.waitUntil(lambda: len(batches) > count, timeout=5000)
    assert "ETA" in panel.progress.format()
    with qtbot.waitSignal(panel.sig_run_ended, timeout=5000):
        panel.stop()


def test_stop_while_paused(qtbot, panel):
    panel.epochs.setText("200")
    with qtbot.waitSignal(panel.controller.sig_batches, timeout=FIRST_RUN_MS):
        panel.start()
    panel.pause_button.click()
    with qtbot.waitSignal(panel.sig_run_ended, timeout=3000) as ended:
        panel.stop_button.click()
    assert ended.args == ["stopped"]
    assert panel.pause_button.text() == "Pause" and not panel.pause_button.isChecked()


def test_shutdown_stops_and_joins(qtbot, panel):
    panel.epochs.setText("200")
    with qtbot.waitSignal(panel.controller.sig_event, timeout=FIRST_RUN_MS,
                          check_params_cb=_kind("Started")):
        panel.start()
    thread = panel.controller.thread
    assert thread is not None and thread.isRunning()
    t0 = time.perf_counter()
    assert panel.shutdown(5000)
    assert time.perf_counter() - t0 < 2.0
    assert not thread.isRunning()
    assert panel.controller.thread is None


def test_twenty_start_stop_cycles_leave_no_thread(qtbot, panel):
    panel.epochs.setText("200")
    threads = []
    for _ in range(20):
        with qtbot.waitSignal(panel.sig_run_ended, timeout=FIRST_RUN_MS):
            assert panel.start()
            threads.append(panel.controller.thread)  # keeps the wrapper alive to ask it
            panel.stop()
        assert not panel.is_running()
    assert len({id(t) for t in threads}) == 20
    assert sum(t.isRunning() for t in threads) == 0
    assert panel.controller.thread is None
    assert panel.start_button.isEnabled()


@pytest.mark.parametrize("field, text, expected", [
    ("batch_size", "0", "batch_size 0 is not allowed"),
    ("batch_size", "many", "not a whole number"),
    ("lr", "abc", "not a number"),
    ("lr", "-1", "lr -1.0 is not allowed"),
    ("epochs", "0", "is not allowed"),
    ("seed", "-3", "seed -3 is not allowed"),
])
def test_invalid_hyper_parameter_shows_message_beside_field(qtbot, panel, field, text,
                                                             expected):
    panel.fields[field].setText(text)
    panel.start_button.click()
    label = panel.field_errors[field]
    assert label.isVisible() and expected in label.text()
    assert panel.controller.thread is None and not panel.is_running()
    assert "Fix the highlighted fields" in panel.status_label.text()
    panel.fields[field].setText({"lr": "", "batch_size": "500", "epochs": "1",
                                 "seed": "0"}[field])
    assert panel.read_config() is not None
    assert not label.isVisible()


def test_generator_error_reaches_the_ui(qtbot, panel, monkeypatch):
    def broken(network, folder, config, should_stop, should_pause, tensorboard=None):
        yield from ()
        raise RuntimeError("the data folder vanished")
    monkeypatch.setattr(panel_module, "run_events", broken)
    errors = []
    panel.controller.sig_error.connect(errors.append)
    with qtbot.waitSignal(panel.sig_run_ended, timeout=5000) as ended:
        panel.start()
    assert errors == ["the data folder vanished"]
    assert ended.args == ["error"]
    assert "the data folder vanished" in panel.status_label.text()
    assert panel.history_table.rowCount() == 0
    assert panel.start_button.isEnabled()


def test_untrainable_design_error_reaches_the_ui(qtbot, panel):
    panel.document_provider = lambda: load_preset("transformer")
    panel.model_combo.setCurrentText("current design")
    errors = []
    panel.controller.sig_error.connect(errors.append)
    with qtbot.waitSignal(panel.sig_run_ended, timeout=FIRST_RUN_MS):
        panel.start()
    assert len(errors) == 1 and "transformer" in errors[0].lower()
    assert "could not run" in panel.status_label.text()
    assert panel.status_label.styleSheet()  # shown as an error


def test_history_gets_a_row_per_finished_run_including_current_design(qtbot, panel):
    panel.batch_size.setText("1000")
    assert panel.start()
    assert _wait_ended(qtbot, panel) == "finished"
    panel.model_combo.setCurrentText("current design")
    panel.optimizer.setCurrentText("sgd")
    assert panel.start()
    assert _wait_ended(qtbot, panel) == "finished"
    assert panel.history_table.rowCount() == 2
    assert [h.settings["optimizer"] for h in panel.history] == ["adam", "sgd"]
    assert panel.history[1].settings["lr"] == 0.05
    assert panel.history[1].summary["params"] > 0
    qtbot.wait(50)
    shot = Path(__file__).resolve().parents[2] / "build" / "training_panel_history.png"
    shot.parent.mkdir(exist_ok=True)
    assert panel.grab().save(str(shot))


def test_automatic_threads_leave_a_core_for_the_window(qtbot, panel):
    import os
    panel.threads.setText("")
    config = panel.read_config()
    cores = os.cpu_count() or 2
    assert config.threads == max(1, min(8, cores - 1))
    assert config.threads < cores or cores == 1
    assert f"auto ({config.threads})" == panel.threads.placeholderText()
    panel.threads.setText("3")
    assert panel.read_config().threads == 3


def test_a_run_from_the_window_is_kept_in_the_run_store(qtbot, panel, tmp_path, monkeypatch):
    from core.training.run_store import RunStore
    monkeypatch.setenv("MLSYS_RUN_STORE", str(tmp_path / "runs.sqlite"))
    panel.start()
    qtbot.waitUntil(lambda: not panel.controller.is_running(), timeout=120_000)
    (run,) = RunStore(tmp_path / "runs.sqlite").list_runs()
    record = panel.history[-1]
    assert run.status == record.status == "finished" and run.model == "mlp"
    stored = RunStore(tmp_path / "runs.sqlite").get(run.id)
    assert [e["test_acc"] for e in stored.epochs] == [e["test_acc"] for e in record.epochs]
    assert stored.batch_losses == [float(v) for v in record.batch_losses]


def test_past_runs_lists_the_store_and_overlays_a_stored_run(qtbot, panel, tmp_path,
                                                             monkeypatch):
    """A run kept in the store by the command line shows up in Past runs; renaming, tags,
    the filter and delete act on the store; ticking it draws its epochs on the plots."""
    from core.cli.parser import main
    from core.training.run_store import RunStore
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("MLSYS_RUN_STORE", str(path))
    from core.training.data import SAMPLE_DIR
    assert main(["train", "mlp", "--epochs", "2", "--batch-size", "500", "--format", "json",
                 "--data", str(SAMPLE_DIR)]) == 0
    view = panel.past_runs
    panel.results_tabs.setCurrentWidget(view)
    assert [r.model for r in view.runs] == ["mlp"] and view.table.rowCount() == 1
    view.table.selectRow(0)
    assert view.rename_selected("baseline") and view.tag_selected("course, lab2")
    stored = RunStore(path).get(view.runs[0].id)
    assert stored.name == "baseline" and stored.tags == ["course", "lab2"]
    view.filter.setText("lab3")
    assert view.table.isRowHidden(0)
    view.filter.setText("lab2 mlp")
    assert not view.table.isRowHidden(0)
    view.table.item(0, 0).setCheckState(Qt.Checked)
    (overlay,) = panel.plots.overlays
    assert [e["test_acc"] for e in overlay.epochs] == [e["test_acc"] for e in stored.epochs]
    assert overlay.label.endswith("baseline (stored)")
    view.table.selectRow(0)
    assert view.delete_selected(confirm=False)
    assert RunStore(path).list_runs() == [] and panel.plots.overlays == []


def test_current_design_that_cannot_train_is_said_when_chosen(shown, monkeypatch):
    from core.graph.presets import load_preset
    from gui.training.panel import CURRENT_DESIGN, TrainingPanel
    design = {"net": load_preset("resnet18")}  # 3x224x224: not an MNIST input
    widget = TrainingPanel(lambda: design["net"])
    shown(widget, 1300, 800)
    error = widget.field_errors["model"]
    assert not error.isVisible()
    widget.model_combo.setCurrentText(CURRENT_DESIGN)
    assert error.isVisible() and "3×224×224" in error.text()  # before any Start
    design["net"] = load_preset("lenet5")
    widget.model_combo.setCurrentText("mlp")
    widget.model_combo.setCurrentText(CURRENT_DESIGN)
    assert not error.isVisible()
    broken = load_preset("lenet5")
    broken.set_param("conv1", "kernel", 50)
    design["net"] = broken
    widget.check_design()
    assert error.isVisible() and "conv1" in error.text()
    assert widget.shutdown(5000)



def test_the_run_in_progress_has_a_live_row_that_becomes_its_final_row(qtbot, panel):
    """Shown at Start ("running · epoch 1/3"), updated as epochs end (epochs done, test
    accuracy), not selectable, and replaced by the final row (no duplicate)."""
    from core.training.run_history import HISTORY_HEADERS
    column = {h: i for i, h in enumerate(HISTORY_HEADERS)}
    panel.epochs.setText("3")
    table = panel.history_table
    assert panel.start()
    assert table.rowCount() == 1 and table.records == []  # at once, before any epoch
    assert table.item(0, column["status"]).text() == "running · epoch 1/3"
    with qtbot.waitSignal(panel.controller.sig_event, timeout=FIRST_RUN_MS,
                          check_params_cb=_kind("EpochEvent")):
        pass
    row = [table.item(0, c).text() for c in range(table.columnCount())]
    assert table.rowCount() == 1 and table.records == []
    assert row[column["status"]] in ("running · epoch 1/3", "running · epoch 2/3")
    assert row[column["epochs"]] == "1/3"  # epochs done / planned
    assert row[column["test acc (%)"]] != "—"  # the finished epoch's accuracy
    assert row[column["model"]] == "mlp"
    table.selectRow(0)
    assert table.selected_record() is None  # the running row has no results to show yet
    assert _wait_ended(qtbot, panel) == "finished"
    assert table.rowCount() == 1 and table.running_row is None  # replaced, not duplicated
    assert table.item(0, column["status"]).text() == "finished" and len(panel.history) == 1


def test_the_longest_progress_text_fits_inside_the_bar_at_1280x720(shown, monkeypatch):
    """The bar's text ("100%  epoch 999  ETA ≤ 10:00:00") fits in the bar with room for
    its chunk, so it never runs over the bar's ends at the smallest supported window."""
    from PySide6.QtWidgets import QApplication
    monkeypatch.delenv("MLSYS_MNIST_DIR", raising=False)
    widget = shown(panel_module.TrainingPanel(lambda: load_preset("mlp")), 1280, 720)
    QApplication.processEvents()
    bar = widget.progress
    text = f"100%  epoch 999  ETA ≤ {panel_module.format_seconds(36_000)}"
    assert bar.fontMetrics().horizontalAdvance(text) + 16 <= bar.contentsRect().width()
    assert bar.isTextVisible() and bar.alignment() & Qt.AlignHCenter
    assert widget.shutdown(5000)


def test_a_window_run_writes_tensorboard_logs_when_ticked(qtbot, panel, tmp_path):
    """TensorBoard's own reader gives back the run's test accuracy per epoch."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    assert not panel.tensorboard_folder.isEnabled()
    panel.tensorboard_box.setChecked(True)
    assert panel.tensorboard_folder.isEnabled()
    panel.tensorboard_folder.setText(str(tmp_path / "board"))
    panel.start()
    qtbot.waitUntil(lambda: not panel.controller.is_running(), timeout=120_000)
    (folder,) = (tmp_path / "board").iterdir()
    assert folder.name.startswith("mlp-")
    logs = EventAccumulator(str(folder))
    logs.Reload()
    record = panel.history[-1]
    assert [s.value for s in logs.Scalars("accuracy/test")] == pytest.approx(
        [e["test_acc"] if isinstance(e, dict) else e.test_acc for e in record.epochs])
    panel.tensorboard_folder.setText("")
    assert panel.read_tensorboard() is False and "folder" in panel.status_label.text()
