"""The Dataflow workspace (buffer-level dataflow animation, comparison, systolic mode).
Imports core and gui.widgets, never another workspace."""

from gui.dataflow.panel import DataflowPanel

__all__ = ["DataflowPanel"]
