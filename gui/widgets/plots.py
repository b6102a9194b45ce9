"""Small pyqtgraph helpers shared by the workspaces."""

from __future__ import annotations


def plain_axes(plot, axes=("left", "bottom")) -> None:
    """No SI prefix on unitless axes: pyqtgraph would label a cross-entropy axis
    "(x0.001)" and tick it 100-300; counts, epochs and layers read as they are."""
    for name in axes:
        plot.getAxis(name).enableAutoSIPrefix(False)
