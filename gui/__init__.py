"""MLSys Studio desktop app (PySide6 + pyqtgraph) over the core engine.

app, main_window, launcher and theme at the top; one package per workspace (design,
training, dataflow) and shared widgets in widgets/. A workspace package imports core and
gui.widgets, never another workspace.
"""
