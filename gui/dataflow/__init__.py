"""The Dataflow workspace (buffer-level dataflow animation, comparison, systolic mode)."""

from .panel import DataflowPanel

__all__ = ["DataflowPanel"]
