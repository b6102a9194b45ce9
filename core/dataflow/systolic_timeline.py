"""Per-cycle occupancy of a systolic array (which PE multiplies which operands when), for animation.

Timing follows SCALE-Sim's demand model, fold by fold (column folds outer, row folds
inner), each fold lasting the same number of cycles as in ``simulate_systolic``. The last
MAC of a fold falls on its last cycle, so the timeline holds folds × fold length cycles:
one more than SCALE-Sim's "total cycles", which is the index of that last cycle.

* os: PE (r, c) accumulates output (pixel r, filter c) of its fold, taking window element
  k at fold cycle r + c + k (operands enter skewed from the left and top edges);
* ws: PE (r, c) holds filter element (window r, filter c); the first R cycles preload it,
  then pixel p passes it at fold cycle R + p + r + c;
* is: PE (r, c) holds ifmap element (window r, pixel c); after the R-cycle preload filter
  f passes it at fold cycle R + f + r + c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.dataflow.layer import ConvLayer
from core.dataflow.systolic import SystolicLayer, simulate_systolic
from core.common.errors import InputError

DEFAULT_MAX_CELLS = 2_000_000


@dataclass(frozen=True)
class SystolicTimeline:
    """Arrays over (cycle, row, column); -1 marks an idle PE. ``utilization`` is busy PEs / all PEs.

    It spans ``scalesim_cycles + 1`` cycles (SCALE-Sim counts up to the last cycle's index).
    """

    dataflow: str
    scalesim_cycles: int
    busy: np.ndarray          # bool (cycles, R, C)
    ifmap_addr: np.ndarray    # int32: ifmap address (SCALE-Sim layout, −1 also past the edge)
    filter_addr: np.ndarray   # int32: filter f·Win + k
    ofmap_index: np.ndarray   # int32: output p·F + f being accumulated
    utilization: np.ndarray   # float (cycles,)
    fold_starts: np.ndarray   # int (folds,) first cycle of each fold

    @property
    def cycles(self) -> int:
        return self.busy.shape[0]


def ifmap_addresses(layer: SystolicLayer, rounding: str = "ceil") -> np.ndarray:
    """Npix × Win matrix of ifmap addresses as SCALE-Sim lays them out (−1 past the input edge)."""
    oh, ow = layer.ofmap(rounding)
    p = np.arange(oh * ow)
    k = np.arange(layer.window)
    orow, ocol = p // ow, p % ow
    krow = k // (layer.filter_w * layer.channels)
    kcol = (k % (layer.filter_w * layer.channels)) // layer.channels
    kch = k % layer.channels
    row = orow[:, None] * layer.stride + krow[None, :]
    col = ocol[:, None] * layer.stride + kcol[None, :]
    addr = (row * layer.ifmap_w + col) * layer.channels + kch[None, :]
    return np.where((row < layer.ifmap_h) & (col < layer.ifmap_w), addr, -1)


def systolic_timeline(
    layer: SystolicLayer | ConvLayer,
    rows: int,
    cols: int,
    dataflow: str,
    rounding: str = "ceil",
    max_cells: int = DEFAULT_MAX_CELLS,
) -> SystolicTimeline:
    """Occupancy of every PE in every cycle (small layers: cycles × R × C must stay <= ``max_cells``)."""
    if isinstance(layer, ConvLayer):
        layer = SystolicLayer.from_conv(layer)
    result = simulate_systolic(layer, rows, cols, dataflow, rounding=rounding)
    n = result.cycles + 1
    cells = n * rows * cols
    if cells > max_cells:
        raise InputError(
            f"systolic animation: {result.cycles:,} cycles × {rows}×{cols} PEs = {cells:,} cells is more than "
            f"the {max_cells:,} an animation may hold; use a smaller layer or array"
        )
    shape = (n, rows, cols)
    busy = np.zeros(shape, dtype=bool)
    ifmap = np.full(shape, -1, dtype=np.int32)
    filt = np.full(shape, -1, dtype=np.int32)
    ofmap = np.full(shape, -1, dtype=np.int32)
    im2col = ifmap_addresses(layer, rounding)
    win, nf = layer.window, layer.filters
    sr, sc = result.spatial_rows, result.spatial_cols
    starts = []
    for fc in range(result.col_folds):
        for fr in range(result.row_folds):
            start = len(starts) * result.fold_cycles
            starts.append(start)
            r = np.arange(min(rows, sr - fr * rows))
            c = np.arange(min(cols, sc - fc * cols))
            t_idx = np.arange(result.temporal)
            rr, cc, tt = np.meshgrid(r, c, t_idx, indexing="ij")
            a, b = fr * rows + rr, fc * cols + cc  # mapped row / column dimension indices
            lead = 0 if dataflow == "os" else rows
            cycle = start + lead + rr + cc + tt
            if dataflow == "os":
                pix, k, f = a, tt, b
            elif dataflow == "ws":
                pix, k, f = tt, a, b
            else:
                pix, k, f = b, a, tt
            busy[cycle, rr, cc] = True
            ifmap[cycle, rr, cc] = im2col[pix, k]
            filt[cycle, rr, cc] = f * win + k
            ofmap[cycle, rr, cc] = pix * nf + f
    util = busy.reshape(n, -1).mean(axis=1)
    return SystolicTimeline(dataflow, result.cycles, busy, ifmap, filt, ofmap, util, np.array(starts, dtype=np.int64))

