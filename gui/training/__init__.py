"""The Training workspace: a QThread worker over core.training, live plots, the panel."""

from .panel import TrainingPanel
from .worker import TrainingController, TrainingWorker

__all__ = ["TrainingController", "TrainingPanel", "TrainingWorker"]
