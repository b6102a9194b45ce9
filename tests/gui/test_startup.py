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
