"""Guard against Qt bindings that lose references to None.

PySide6 6.12.0 under Python 3.11 dropped one reference to None on painter calls and on
some data() results; after a few thousand repaints None's count reached zero and the
interpreter aborted ("deallocating None"). Repainting must leave None's count steady.
"""

from __future__ import annotations

import gc
import sys

import pytest

LIMIT = 30  # a little slack for references legitimately created or freed meanwhile


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_repainting_keeps_none_referenced(window):
    views = [window.canvas.viewport(), window.analysis_panel.layers.table.viewport(),
             window.layer_palette.tree.viewport(), window.properties]
    window.select_node("conv1")
    for view in views:
        view.repaint()
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(40):
        for view in views:
            view.repaint()
        window.analysis_panel.layers.table.resizeColumnsToContents()
    gc.collect()
    assert sys.getrefcount(None) - before > -LIMIT
