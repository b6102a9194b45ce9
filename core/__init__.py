"""MLSys Studio engine, one package per subject; nothing here imports Qt.

common (errors, explain, tables) <- graph <- torchbridge <- training <- cli; dataflow uses
only common. tests/core/test_architecture.py holds these rules and forbids import circles.
torch is imported lazily, only by the modules that build, import, train or profile models.
"""

__version__ = "0.1.0"
