"""Time to first window: a fresh process that opens the main window offscreen, against a
fresh process that opens a bare QApplication + QMainWindow (the floor any Qt app pays; the
aim is within 2.5x of it) and one that only imports torch (what an eager import would
add). Alternating runs; prints medians and the ratios.

Bytecode: an installed app has its .pyc files (pip compiles them), so by default every
child writes and reads its bytecode under one temporary PYTHONPYCACHEPREFIX, and one
unmeasured warm-up run of each kind fills it. --no-bytecode-cache measures with
PYTHONDONTWRITEBYTECODE=1 instead (every start compiles the app's ~60 modules afresh:
a cost the bare Qt window, whose modules come compiled, does not pay).
Usage: .venv/bin/python benchmarks/bench_startup.py [-n 5] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WINDOW = """
import time; t0 = time.perf_counter()
import sys
from PySide6.QtCore import QSettings
from gui.app import make_app
app = make_app()
from gui.main_window import MainWindow
w = MainWindow(QSettings(sys.argv[1], QSettings.IniFormat)); w.show(); app.processEvents()
print(time.perf_counter() - t0, 'torch' in sys.modules)
w.document.undo_stack.setClean(); w.close()
"""
BARE = """
import time; t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow(); w.resize(1400, 900); w.show(); app.processEvents()
print(time.perf_counter() - t0)
"""
TORCH = "import time; t0 = time.perf_counter(); import torch; print(time.perf_counter() - t0)"


ENV: dict = {}


def run(code: str, *args) -> tuple[float, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **ENV}
    if "PYTHONPYCACHEPREFIX" in ENV:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300, check=True).stdout.split()
    return float(out[0]), " ".join(out[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5)
    parser.add_argument("--no-bytecode-cache", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlsys-bench-pyc-") as cache:
        if args.no_bytecode_cache:
            ENV.update(PYTHONDONTWRITEBYTECODE="1")
        else:
            ENV.update(PYTHONPYCACHEPREFIX=cache)
            for code in (WINDOW, BARE, TORCH):  # warm-up: fills the bytecode cache
                run(code, str(ROOT / ".bench-startup.ini"))
        measure(args.n, "off (compiled on every start)" if args.no_bytecode_cache else "on")


def measure(n: int, cache: str) -> None:
    window, bare, torch_only, flags = [], [], [], set()
    for _ in range(n):
        seconds, flag = run(WINDOW, str(ROOT / ".bench-startup.ini"))
        window.append(seconds)
        flags.add(flag)
        bare.append(run(BARE)[0])
        torch_only.append(run(TORCH)[0])
    (ROOT / ".bench-startup.ini").unlink(missing_ok=True)
    w, t = statistics.median(window), statistics.median(torch_only)
    b = statistics.median(bare)
    print(f"time to first window (in-process, after interpreter start): median {w * 1000:.0f} ms")
    print(f"bare QApplication + QMainWindow:                             median {b * 1000:.0f} ms")
    print(f"import torch alone:                                          median {t * 1000:.0f} ms")
    print(f"torch imported before the window showed: {flags}; bytecode cache {cache}")
    print(f"ratio window / bare Qt window = {w / b:.2f} (aim: 2.5 or less)")
    print(f"ratio window / import torch = {w / t:.2f}")


if __name__ == "__main__":
    main()
