"""The Pipeline workspace (MLP hardware cycle models animated as a Gantt chart, the
architecture comparison and the assumptions). Imports core and gui.widgets, never another
workspace."""

from gui.pipeline.panel import PipelinePanel

__all__ = ["PipelinePanel"]
