"""The Training workspace: a QThread worker over core.training.trainer, live plots, the
panel. Imports core and gui.widgets, never another workspace."""

from gui.training.panel import TrainingPanel
from gui.training.worker import TrainingController, TrainingWorker

__all__ = ["TrainingController", "TrainingPanel", "TrainingWorker"]
