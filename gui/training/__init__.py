"""The Training workspace: the panel running core.training.trainer in gui.widgets.worker's
QThread worker, live plots, results and exports. Imports core and gui.widgets, never
another workspace."""

from gui.training.panel import TrainingPanel

__all__ = ["TrainingPanel"]
