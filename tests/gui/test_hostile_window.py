"""Hostile input through the window (issue 15): a file that cannot be opened leaves the
document exactly as it was; an unexpected exception becomes a message and a log entry;
each window autosaves on its own and only a dead window's autosave is offered back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from core.graph import io
from core.graph.presets import load_preset

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "hostile"


def snapshot(window):
    doc = window.document
    return (doc.network, io.dumps(doc.network), doc.path, doc.undo_stack.count(),
            doc.undo_stack.index())


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.name)
def test_open_keeps_the_document_unless_the_file_is_good(window, monkeypatch, path):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    window.document.set_param("fc1", "out_features", 33)  # one step of undo history
    before = snapshot(window)
    opened = window.open_file(str(path))
    if opened:
        assert window.document.network is not before[0] and window.document.path == path
        assert not shown
        return
    assert snapshot(window) == before, "a refused file changed the document"
    assert len(shown) == 1 and "\n" not in shown[0] and "\x1b" not in shown[0]
    assert not window.analysis_panel.layers.batch.signalsBlocked()
    window.document.set_param("fc1", "out_features", 34)  # the document still works
    assert window.document.analysis["fc1"].output_shape[-1] == 34


def test_a_view_failing_on_open_restores_the_previous_design(window, monkeypatch, tmp_path):
    good = tmp_path / "good.json"
    io.save(load_preset("mlp"), good)
    window.document.set_param("fc1", "out_features", 33)
    before = snapshot(window)

    sync = window.canvas.scene_.sync

    def broken_rebuild(*args):  # fails for the new design only
        if window.document.network is not before[0]:
            raise RuntimeError("the canvas cannot draw this")
        return sync(*args)
    monkeypatch.setattr(window.canvas.scene_, "sync", broken_rebuild)
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    assert not window.open_file(str(good))
    monkeypatch.undo()
    assert snapshot(window)[:3] == before[:3] and window.document.undo_stack.count() == before[3]
    assert "cannot be shown" in warnings[0] and "RuntimeError" in warnings[0]
    window.document.undo_stack.undo()  # the history survived
    assert window.document.network.nodes["fc1"].params["out_features"] != 33


def test_batch_default_beyond_the_field_does_not_block_it(window):
    network = load_preset("lenet5")
    network.defaults["batch"] = 10 ** 30  # io refuses it; code can still build one
    window.document.load_network(network)
    batch = window.analysis_panel.layers.batch
    assert not batch.signalsBlocked() and batch.value() == batch.maximum()
    window.analysis_panel.layers.batch.setValue(7)
    assert window.document.network.defaults["batch"] == 7


def test_uncaught_exception_is_logged_and_shown(window, tmp_path):
    from gui.errors import install_excepthook
    log = tmp_path / "errors.log"
    previous = install_excepthook(window.show_error, log)
    try:
        try:
            raise ValueError("boom \x1b[31m")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = previous
    assert "Traceback" in log.read_text() and "ValueError: boom" in log.read_text()
    message = window.statusBar().currentMessage()
    assert message.startswith("Unexpected error: ValueError: boom") and "\x1b" not in message
    assert window.error_box.isVisible() and not window.error_box.isModal() or \
        window.error_box.windowModality() != 0
    window.error_box.close()


def test_recovered_design_keeps_its_file(window, settings, monkeypatch, tmp_path):
    from gui.main_window import MainWindow
    path = tmp_path / "mine.json"
    assert window._save_to(path)
    window.document.set_param("fc1", "out_features", 21)
    window.autosave()
    window.recovery._lock.unlock()  # the window's process is gone
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    other = MainWindow(settings)
    assert other.offer_recovery()
    assert other.document.path == path and other.document.modified
    assert other.document.network.nodes["fc1"].params["out_features"] == 21
    other.document.undo_stack.setClean()
    other.close()


def test_autosave_is_dropped_once_the_design_is_saved(window, tmp_path):
    window.document.set_param("fc1", "out_features", 22)
    window.autosave()
    assert window.recovery.path.exists()
    assert window._save_to(tmp_path / "saved.json")
    window.autosave()
    assert not window.recovery.path.exists()


INSTANCE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from gui.recovery import RecoveryStore
    from core.graph.presets import load_preset
    store = RecoveryStore(Path(sys.argv[1]), tag="other")
    store.save(load_preset("mlp"), Path("/somewhere/mine.json"))
    print("ready", flush=True)
    time.sleep(60)
""")


def test_only_the_autosave_of_a_dead_instance_is_offered(tmp_path, qapp):
    from gui.recovery import RecoveryStore
    folder = tmp_path / "recovery"
    child = subprocess.Popen([sys.executable, "-c", INSTANCE, str(folder)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "ready"
        me = RecoveryStore(folder, tag="me")
        assert me.orphans() == []  # the other instance is alive: its autosave is its own
        assert (folder / "autosave-other.json").exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    orphans = me.orphans()
    assert orphans == [folder / "autosave-other.json"]
    recovered = me.load(orphans[0])
    assert recovered.source == Path("/somewhere/mine.json")
    assert [n for n in recovered.network.nodes] == list(load_preset("mlp").nodes)
    me.forget(orphans[0])
    assert me.orphans() == []


def test_stop_before_training_starts_builds_nothing(monkeypatch):
    """A stop asked for while the run is being set up ends it at once: no data loaded, no
    model built, no events."""
    from core.training import data as data_module
    from core.training import trainer
    from gui.training.panel import run_events

    def must_not_run(*_a, **_k):
        raise AssertionError("work done after the stop")
    monkeypatch.setattr(data_module, "load_mnist", must_not_run)
    monkeypatch.setattr(trainer, "as_trained_model", must_not_run)
    assert list(run_events(load_preset("mlp"), "", None, lambda: True, lambda: False)) == []
    sample = data_module.load_sample()
    config = trainer.TrainConfig(epochs=1)
    assert list(trainer.train(load_preset("mlp"), sample, config, lambda: True)) == []


def test_screenshot_leaves_no_temporary_folder(tmp_path, qapp):
    from gui.app import screenshot
    before = set(Path(tempfile.gettempdir()).glob("mlsys-shot-*"))
    assert screenshot(str(tmp_path / "shot.png"), "lenet5") == 0
    assert (tmp_path / "shot.png").read_bytes()[:4] == b"\x89PNG"
    assert set(Path(tempfile.gettempdir()).glob("mlsys-shot-*")) == before


def test_exports_write_atomically_and_report_failures(window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog
    target = tmp_path / "table.csv"
    target.write_text("old contents")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.export_table()
    assert target.read_text().startswith("layer,type,") and not list(tmp_path.glob(".*.tmp"))
    missing = tmp_path / "no-such-folder" / "code.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(missing), ""))
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    window.export_code()
    assert warnings and "code.py" in warnings[0] and not missing.exists()
