"""MLSys Studio desktop app (PySide6 + pyqtgraph) over the core engine."""
