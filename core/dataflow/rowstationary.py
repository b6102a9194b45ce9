"""Register-file, inter-PE and global-buffer accesses of row-stationary on a PE array (Eyeriss style).

Closed form per pass (one filter, one channel tile, one strip of output rows) and, for
checking it, an explicit PE-by-PE simulation of the same data movement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.dataflow.loopnest import LoopNest

_OPS = ("input", "weight", "output")


@dataclass(frozen=True)
class ArrayCounts:
    """Per-operand accesses inside the accelerator: register files, PE-to-PE hops, global buffer."""

    macs: int
    rf: dict[str, int]
    inter_pe: dict[str, int]
    buffer: dict[str, int]


def _passes(nest: LoopNest):
    """(channels in the tile, output rows of the strip, whether partial sums exist already) per pass, F times each."""
    _, c_loop, y_loop = nest.loops
    for ci in range(c_loop.count):
        c_t = len(c_loop.tile_range(ci))
        for yi in range(y_loop.count):
            yield c_t, y_loop.tile_range(yi), ci > 0


def array_counts(nest: LoopNest) -> ArrayCounts:
    """Closed form, summed over passes (each (channel tile, strip) pair runs once per filter)."""
    layer = nest.layer
    k, s, p, wo = layer.kernel, layer.stride, layer.padding, layer.out_width
    row_len = len(layer.input_cols(np.arange(wo)))
    rf = dict.fromkeys(_OPS, 0)
    hop = dict.fromkeys(_OPS, 0)
    glb = dict.fromkeys(_OPS, 0)
    macs = 0
    for c_t, ys, later in _passes(nest):
        e = len(ys)
        pe_rows = ys[None, :] * s - p + np.arange(k)[:, None]  # input row used by PE (i, j)
        used = int(((pe_rows >= 0) & (pe_rows < layer.height)).sum())
        distinct = len(layer.input_rows(ys))
        pass_macs = c_t * k * e * wo * k
        macs += pass_macs
        rf["input"] += pass_macs + c_t * used * row_len
        rf["weight"] += pass_macs + c_t * k * e * k
        rf["output"] += 2 * pass_macs
        hop["weight"] += c_t * k * (e - 1) * k
        hop["input"] += c_t * (used - distinct) * row_len
        hop["output"] += e * wo * (c_t * k - 1)
        glb["weight"] += c_t * k * k
        glb["input"] += c_t * distinct * row_len
        glb["output"] += e * wo * (2 if later else 1)
    f = layer.filters
    scale = lambda d: {op: f * v for op, v in d.items()}  # noqa: E731 - every pass repeats per filter
    return ArrayCounts(f * macs, scale(rf), scale(hop), scale(glb))


def simulate_array(nest: LoopNest) -> ArrayCounts:
    """PE-by-PE walk of every pass, moving rows explicitly; slow, for checking ``array_counts``."""
    layer = nest.layer
    k, s, p, wo, h = layer.kernel, layer.stride, layer.padding, layer.out_width, layer.height
    cols_used = layer.input_cols(np.arange(wo))
    rf = dict.fromkeys(_OPS, 0)
    hop = dict.fromkeys(_OPS, 0)
    glb = dict.fromkeys(_OPS, 0)
    macs = 0
    for _f in range(layer.filters):
        for c_t, ys, later in _passes(nest):
            for _c in range(c_t):
                delivered_rows: set[int] = set()
                for i in range(k):
                    glb["weight"] += k  # filter row i enters the array once ...
                    for j, y in enumerate(ys):
                        if j > 0:
                            hop["weight"] += k  # ... and hops along the PE row
                        rf["weight"] += k
                        row = int(y) * s - p + i
                        if 0 <= row < h:
                            if row in delivered_rows:
                                hop["input"] += len(cols_used)
                            else:
                                glb["input"] += len(cols_used)
                                delivered_rows.add(row)
                            rf["input"] += len(cols_used)
                        for _x in range(wo):
                            for _kx in range(k):
                                macs += 1
                                rf["input"] += 1
                                rf["weight"] += 1
                                rf["output"] += 2
            # Partial sums of each PE column meet: every PE but one hands its row on.
            hop["output"] += len(ys) * wo * (c_t * k - 1)
            glb["output"] += len(ys) * wo * (2 if later else 1)
    return ArrayCounts(macs, rf, hop, glb)
