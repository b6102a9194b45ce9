"""The last line of defence: an exception that escapes a slot is logged to a file and
shown to the user as a message, instead of a traceback on stderr and a half-done action."""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QStandardPaths

from core.common.errors import printable

MAX_LOG_BYTES = 1 << 20  # the log is started afresh beyond this


def log_path() -> Path:
    base = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home())
    return base / "logs" / "errors.log"


def append_to_log(text: str, path: Path | None = None) -> Path:
    path = path or log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if path.exists() and path.stat().st_size > MAX_LOG_BYTES else "a"
        with open(path, mode, encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{text}\n")
    except OSError:
        pass  # logging must never raise from inside the hook
    return path


def install_excepthook(show: Callable[[str], None], log: Path | None = None):
    """Route uncaught exceptions (PySide6 reports exceptions from slots here) to the log
    and to ``show(message)``. Returns the previous hook."""
    previous = sys.excepthook

    def hook(kind, error, tb):
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, error, tb)
            return
        where = append_to_log("".join(traceback.format_exception(kind, error, tb)), log)
        try:
            show(f"Unexpected error: {kind.__name__}: {printable(str(error))[:300]} "
                 f"(details in {where}). The last action may not have finished; please report this.")
        except Exception:  # noqa: BLE001 - the hook must not fail in turn
            previous(kind, error, tb)
    sys.excepthook = hook
    return previous
