"""The layouts the workspaces share: the form on the left and, on the right, either the plots
above the result tabs (Training, Profiling) or one tab widget (Dataflow, Pipeline), all in
resizable splitters."""

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


def lay_out_form_and_tabs(owner: QWidget, form: QWidget, tabs: QWidget,
                          form_width: int) -> QSplitter:
    """Put ``form`` | ``tabs`` into ``owner``; the tabs take the width the form leaves."""
    split = QSplitter(Qt.Horizontal)
    split.addWidget(form)
    split.addWidget(tabs)
    split.setStretchFactor(0, 0)
    split.setStretchFactor(1, 1)
    split.setSizes([form_width, 1000])
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.addWidget(split)
    return split
