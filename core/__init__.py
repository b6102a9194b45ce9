"""MLSys Studio engine: networks, shape and operation accounting, memory, torch bridge.

Pure Python + numpy; torch is imported lazily by the modules that build, import or
profile models. Nothing here imports Qt.
"""

__version__ = "0.1.0"
