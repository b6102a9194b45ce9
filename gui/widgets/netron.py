"""Open an exported ONNX file in Netron, in its own process (it serves the graph to the web
browser), from a temporary folder that is removed when the workspace closes."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable


def netron_available() -> bool:
    return importlib.util.find_spec("netron") is not None


class NetronLauncher:
    """Exports into temporary folders it keeps track of, and starts netron on the file."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.temp_folders: list[Path] = []

    def open(self, export: Callable[[str], str | None], filename: str) -> str | None:
        """``export(path)`` writes the model (None when it could not); returns that path."""
        folder = Path(tempfile.mkdtemp(prefix="mlsys-netron-"))
        self.temp_folders.append(folder)
        path = export(str(folder / filename))
        if path is None:
            return None
        self.process = subprocess.Popen([sys.executable, "-m", "netron", path])
        return path

    def cleanup(self) -> None:
        """Remove the temporary folders (Netron read its file when it started)."""
        for folder in self.temp_folders:
            shutil.rmtree(folder, ignore_errors=True)
        self.temp_folders.clear()
