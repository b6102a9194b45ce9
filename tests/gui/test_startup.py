"""The window opens without importing torch (DESIGN.md convention 8: heavy imports lazy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_first_window_does_not_import_torch(tmp_path):
    code = ("import sys\nfrom PySide6.QtCore import QSettings\nfrom gui.app import make_app\n"
            "app = make_app()\nfrom gui.main_window import MainWindow\n"
            f"w = MainWindow(QSettings({str(tmp_path / 's.ini')!r}, QSettings.IniFormat))\n"
            "w.show(); app.processEvents()\nprint('torch' in sys.modules, "
            "'torchvision' in sys.modules)\nw.document.undo_stack.setClean(); w.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_first_window_imports_no_plotting_or_run_store(tmp_path):
    """pyqtgraph, numpy, the run store's sqlite3 and the depthwise-separable comparison
    load when their workspace or tab is first shown, not for the first window."""
    code = ("import sys\nfrom PySide6.QtCore import QSettings\nfrom gui.app import make_app\n"
            "app = make_app()\nfrom gui.main_window import MainWindow\n"
            f"w = MainWindow(QSettings({str(tmp_path / 's.ini')!r}, QSettings.IniFormat))\n"
            "w.show(); app.processEvents()\n"
            "print(*[m for m in ('pyqtgraph', 'numpy', 'sqlite3', 'core.graph.dsconv') "
            "if m in sys.modules])\nw.document.undo_stack.setClean(); w.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == []


def _opened(qtbot, settings, size, preset=None):
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    if preset:
        win.open_preset(preset)
    QApplication.processEvents()
    qtbot.wait(50)
    return win


def _visible_nodes(win) -> list[str]:
    view = win.canvas
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    return [n for n, item in view.scene_.nodes.items()
            if shown.contains(item.sceneBoundingRect())]


def test_lenet5_opens_readable_at_1280x720(qtbot, settings):
    """The default design opens as named layers (above the block-drawing threshold),
    from its input down, not as coloured blocks."""
    from gui.design.canvas import OVERVIEW_LOD
    win = _opened(qtbot, settings, (1280, 720))
    assert win.document.network.name.lower().startswith("lenet")
    scale = win.canvas.transform().m11()
    assert scale >= OVERVIEW_LOD, scale
    visible = _visible_nodes(win)
    assert "input" in visible and "conv1" in visible, visible
    win.document.undo_stack.setClean()
    win.close()


def test_a_small_design_that_fits_opens_fitted_and_a_big_one_whole(qtbot, settings):
    """At 1920x1080 the whole of LeNet-5 fits above the threshold; resnet18 (70 nodes)
    opens fitted whatever the scale (its overview)."""
    from gui.design.canvas import OVERVIEW_LOD
    win = _opened(qtbot, settings, (1920, 1080))
    assert win.canvas.transform().m11() >= OVERVIEW_LOD
    win.open_preset("resnet18")
    qtbot.wait(50)
    assert sorted(_visible_nodes(win)) == sorted(win.canvas.scene_.nodes)
    win.document.undo_stack.setClean()
    win.close()
