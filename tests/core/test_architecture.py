"""The engine stays free of Qt and of eager heavy imports (DESIGN.md conventions 1 and 8)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = ("PySide6", "pyqtgraph", "gui", "shiboken6")


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_core_never_imports_qt_or_gui():
    offenders = [(str(p.relative_to(CORE)), m) for p in CORE.rglob("*.py")
                 for m in imported_modules(p) if m.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_analysis_does_not_import_torch():
    code = ("import sys; from core.presets import load_preset; from core.analysis import analyze;"
            "from core.cli import build_parser; analyze(load_preset('resnet18'));"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=CORE.parent, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
