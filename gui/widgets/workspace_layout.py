"""The layout the Training and Profiling workspaces share: the form on the left, and on the
right the plots above the result tabs, all in resizable splitters."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QSplitter, QVBoxLayout, QWidget


def lay_out_workspace(owner: QWidget, controls: QWidget, plots: QWidget,
                      results: QWidget) -> QSplitter:
    """Put ``controls`` | (``plots`` over ``results``) into ``owner``; returns the outer
    splitter. The plots get three parts of the height to the results' two."""
    right = QSplitter(Qt.Vertical)
    right.addWidget(plots)
    right.addWidget(results)
    right.setStretchFactor(0, 3)
    right.setStretchFactor(1, 2)
    splitter = QSplitter(Qt.Horizontal)
    splitter.addWidget(controls)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(splitter)
    owner.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
    return splitter
