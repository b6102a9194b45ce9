"""GUI test fixtures: isolated settings, QStandardPaths test mode, and no modal dialog can
ever block a test run (each test that expects one patches it with its answer)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QStandardPaths


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected modal dialog: {args[1:3]}")
    for name in ("question", "warning", "information", "critical", "about"):
        monkeypatch.setattr(QMessageBox, name, unexpected)
    for name in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, unexpected)
    monkeypatch.setattr(QInputDialog, "getText", unexpected)


@pytest.fixture
def shown(qtbot):
    """``shown(widget, width, height)``: the widget owned by qtbot, sized, shown and
    exposed (what every widget test starts from)."""
    def show(widget, width: int, height: int):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        return widget
    return show


@pytest.fixture
def settings(tmp_path):
    QStandardPaths.setTestModeEnabled(True)
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    from gui.main_window import MainWindow
    win = MainWindow(settings)
    win.resize(1300, 850)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.document.undo_stack.setClean()  # the fixture closes without a prompt
    win.close()
    win.deleteLater()


@pytest.fixture
def panel(shown, monkeypatch):
    """A Training panel on the bundled sample, set for short runs (6 steps an epoch)."""
    from core.graph.presets import load_preset
    from gui.training.panel import TrainingPanel
    monkeypatch.delenv("MLSYS_MNIST_DIR", raising=False)
    widget = TrainingPanel(lambda: load_preset("mlp"))
    widget.model_combo.setCurrentText("mlp")
    widget.batch_size.setText("500")  # 6 steps per epoch on the 3,000-image sample
    widget.epochs.setText("1")
    widget.threads.setText("1")
    shown(widget, 1300, 800)
    yield widget
    assert widget.shutdown(5000)
