"""Follow-ups to issue 14's big-network work: folding remembered and automatic for big
designs, readable fold labels, a grouped table that does not sort its runs apart, the
Dataflow caption clear of its counters, the batch-loss legend clear of the curve, and a
minimap capped to a share of a small canvas."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication

from core.graph.analysis import analyze
from core.graph.blocks import find_folds
from core.graph.presets import load_preset
from gui.design.folds import AUTO_FOLD_LAYERS, FOLD_SETTING


def open_preset(window, name):
    window.document.load_network(load_preset(name))
    QApplication.processEvents()  # the status message and the fitted view come a tick later
    QApplication.processEvents()


def new_window(qtbot, settings):
    from gui.main_window import MainWindow
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    return win


def close(win):
    win.document.undo_stack.setClean()
    win.close()


# -- 1. folding: remembered, automatic for big designs ---------------------------------
def test_big_design_opens_folded_and_a_small_one_does_not(window):
    big = load_preset("resnet50")
    assert len(big.nodes) > AUTO_FOLD_LAYERS >= len(load_preset("lenet5").nodes)
    open_preset(window, "resnet50")
    scene = window.canvas.scene_
    assert window.act_fold.isChecked() and scene.folding.enabled
    assert sorted(b.fold.count for b in scene.blocks.values()) == \
        sorted(f.count for f in find_folds(analyze(big)))
    assert window.act_expand_all.isEnabled()
    message = window.statusBar().currentMessage()
    assert "176 layers" in message and "folded" in message and "Ctrl+B" in message
    open_preset(window, "lenet5")
    assert not window.act_fold.isChecked() and not scene.folding.enabled
    assert not scene.blocks and len(scene.nodes) == len(window.document.network.nodes)
    assert not window.act_expand_all.isEnabled()
    open_preset(window, "bert-base")  # an automatic fold is no remembered choice
    assert window.act_fold.isChecked() and len(scene.blocks) == 1
    assert window.settings.value(FOLD_SETTING) is None


def test_the_users_choice_is_remembered_across_sessions(qtbot, tmp_path):
    path = str(tmp_path / "settings.ini")
    win = new_window(qtbot, QSettings(path, QSettings.IniFormat))
    win.act_fold.trigger()  # the user turns folding on
    assert win.canvas.scene_.folding.enabled
    close(win)
    win = new_window(qtbot, QSettings(path, QSettings.IniFormat))
    assert win.act_fold.isChecked() and win.canvas.scene_.folding.enabled
    open_preset(win, "resnet18")  # 70 layers: folded because the user chose so
    assert win.canvas.scene_.blocks
    win.act_fold.trigger()  # ... and now off, explicitly
    close(win)
    win = new_window(qtbot, QSettings(path, QSettings.IniFormat))
    open_preset(win, "resnet50")
    scene = win.canvas.scene_
    assert not win.act_fold.isChecked() and not scene.folding.enabled and not scene.blocks
    assert "Ctrl+B folds" in win.statusBar().currentMessage()
    close(win)
