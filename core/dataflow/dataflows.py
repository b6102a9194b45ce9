"""The four dataflows (ws, is, os, rs): tile sizes chosen from the buffers, their loop nests and stated assumptions."""

from __future__ import annotations

from core.dataflow.layer import Buffers, ConvLayer, PEArray
from core.dataflow.loopnest import DIM_NAMES, Loop, LoopNest, NestLine, OperandGeometry
from core.common.errors import InputError

DATAFLOWS = ("ws", "is", "os", "rs")
DATAFLOW_NAMES = {
    "ws": "weight-stationary",
    "is": "input-stationary",
    "os": "output-stationary",
    "rs": "row-stationary",
}

COMMON_ASSUMPTIONS = (
    "Counts are in elements (words), one layer, batch 1. Output size floors, as PyTorch.",
    "Padding is never stored nor fetched: padded positions enter the compute unit as zeros, "
    "so they cost MACs but no memory or buffer traffic.",
    "A buffer is filled at one depth of the loop nest; its tile covers the current tile of each "
    "loop outside that depth and the whole range of each dimension iterated inside it.",
    "Tile policy: every tile the nest asks for is loaded afresh from memory (the textbook hand count).",
    "LRU policy: the same sequence of element accesses runs through a fully associative buffer of "
    "exactly the given capacity that keeps the most recently used elements; only misses cost a memory "
    "read. Elements of a tile are accessed in address order (channel, row, column).",
    "Partial sums: the first time an output is touched it starts from zero (no memory read); each later "
    "fill of the same output reads its partial sum back from memory. Every output tile is written back "
    "after its iteration (tile policy) or when evicted / at the end (LRU, write-back).",
    "Memory (DRAM) counts: 'reads' are elements moved from memory into a buffer, 'writes' elements moved "
    "from the output buffer to memory. Buffer accesses are those of the compute side; putting a fetched "
    "element into its buffer is charged with its memory access.",
)

_SPECIFIC_ASSUMPTIONS = {
    "ws": (
        "Weight-stationary: the weight buffer holds f_t filters × c_t channels of K×K weights while the "
        "nest sweeps every output position; for each position the c_t×K×K input window is loaded and the "
        "f_t partial sums are read back (after the first channel tile) and written out.",
        "Tiles: f_t = min(F, output buffer, weight buffer // K²) filters first (each input window then "
        "serves f_t filters), then c_t = min(C, weight buffer // (f_t·K²), input buffer // K²).",
        "Compute unit: one MAC per cycle reading one input and one weight from their buffers and "
        "reading and writing one partial sum in the output buffer.",
    ),
    "os": (
        "Output-stationary: the output buffer holds a tile of f_t filters × ty × tx outputs until they are "
        "complete (no partial sums leave it); channel tiles of inputs (the tile's receptive field) and "
        "weights stream through.",
        "Tiles: tx then ty grown as far as the output buffer and a one-channel receptive field in the input "
        "buffer allow, then f_t = min(F, output buffer // (ty·tx), weight buffer // K²), then c_t = "
        "min(C, input buffer // field, weight buffer // (f_t·K²)).",
        "Compute unit: as for weight-stationary (one input, one weight, one partial-sum update per MAC).",
    ),
    "is": (
        "Input-stationary: the input buffer holds a c_t-channel receptive field of ty × tx outputs while all "
        "filters stream past in tiles of f_t; partial sums of the ty × tx × f_t outputs are read back for "
        "every channel tile after the first.",
        "Tiles: tx then ty grown as far as the output buffer and a one-channel field in the input buffer "
        "allow, then c_t = min(C, input buffer // field, weight buffer // K²), then f_t = min(F, weight "
        "buffer // (c_t·K²), output buffer // (ty·tx)).",
        "Compute unit: as for weight-stationary (one input, one weight, one partial-sum update per MAC).",
    ),
    "rs": (
        "Row-stationary (Eyeriss): the buffers are the global buffer. A pass maps c_t channel sets of K PE "
        "rows × e PE columns: PE (i, j) of a set keeps filter row i in its register file and convolves it "
        "with input row (y0+j)·S−P+i, producing partial-sum row j; partial sums flow vertically between "
        "PEs and add across the K rows and the c_t channel sets.",
        "Tiles: e (output rows per pass) = largest ≤ min(Ho, PE columns) whose input strip ((e−1)·S+K rows × "
        "W) fits the input buffer and whose partial sums (e × Wo) fit the output buffer; c_t = min(C, PE "
        "rows // K, weight buffer // K², input buffer // strip). One filter per pass.",
        "Register file (RF): every MAC reads an input, a weight and a partial sum and writes the partial "
        "sum in its PE's RF; filling a PE writes its filter row (K) and its input row into the RF.",
        "Inter-PE: a filter row is read once from the global buffer and passed along its PE row (e−1 "
        "hops of K weights); an input row is read once per pass and passed diagonally to every other PE "
        "that uses it; partial sums of a PE column are summed with (c_t·K − 1) hops of Wo values.",
        "Global buffer (array side): per pass, c_t·K·K weight reads, the strip's real input rows, e × Wo "
        "partial-sum writes and, after the first channel tile, e × Wo partial-sum reads.",
    ),
}


def assumptions(dataflow: str) -> tuple[str, ...]:
    """The stated assumptions behind every count of a dataflow (a text the UI can show)."""
    check_dataflow(dataflow)
    return _SPECIFIC_ASSUMPTIONS[dataflow] + COMMON_ASSUMPTIONS


def check_dataflow(dataflow: str, allowed: tuple[str, ...] = DATAFLOWS) -> str:
    if dataflow not in allowed:
        raise InputError(f"dataflow: {dataflow!r} is not known (allowed: {', '.join(allowed)})")
    return dataflow


def _require(buffer_name: str, have: int, need: int, dataflow: str, what: str) -> None:
    if have < need:
        raise InputError(
            f"{buffer_name}: {have} elements is smaller than the {need} that "
            f"{DATAFLOW_NAMES[dataflow]} needs ({what})"
        )


def _halo(tiles: int, layer: ConvLayer) -> int:
    """Input rows (or columns) spanned by the windows of ``tiles`` consecutive outputs."""
    return (tiles - 1) * layer.stride + layer.kernel


def _largest(limit: int, fits) -> int:
    best = 1
    for t in range(1, limit + 1):
        if not fits(t):
            break
        best = t
    return best


def _spatial_tile(layer: ConvLayer, buffers: Buffers) -> tuple[int, int]:
    """(ty, tx): output tile grown along a row, then down, within the output buffer and a 1-channel field."""
    k = layer.kernel
    tx = _largest(layer.out_width, lambda t: t <= buffers.output and k * _halo(t, layer) <= buffers.input)
    ty = _largest(
        layer.out_height,
        lambda t: t * tx <= buffers.output and _halo(t, layer) * _halo(tx, layer) <= buffers.input,
    )
    return ty, tx


def _check_small_buffers(layer: ConvLayer, buffers: Buffers, dataflow: str) -> None:
    k2 = layer.window
    k = layer.kernel
    _require("input buffer", buffers.input, k2, dataflow, f"one {k}×{k} window of one channel")
    _require("weight buffer", buffers.weight, k2, dataflow, f"one {k}×{k} filter slice of one channel")


def build_nest(layer: ConvLayer, dataflow: str, buffers: Buffers, pe_array: PEArray | None = None) -> LoopNest:
    """The loop nest of a dataflow for this layer with tiles chosen from the buffer capacities."""
    check_dataflow(dataflow)
    if dataflow == "rs":
        return _row_stationary(layer, buffers, pe_array or PEArray())
    _check_small_buffers(layer, buffers, dataflow)
    k2 = layer.window
    F, C = layer.filters, layer.channels
    if dataflow == "ws":
        f_t = min(F, buffers.output, buffers.weight // k2)
        c_t = min(C, buffers.weight // (f_t * k2), buffers.input // k2)
        loops = (Loop("f", f_t, F), Loop("c", c_t, C), Loop("y", 1, layer.out_height), Loop("x", 1, layer.out_width))
        depths = (4, 2, 4)
    elif dataflow == "os":
        ty, tx = _spatial_tile(layer, buffers)
        field = _halo(ty, layer) * _halo(tx, layer)
        f_t = min(F, buffers.output // (ty * tx), buffers.weight // k2)
        c_t = min(C, buffers.input // field, buffers.weight // (f_t * k2))
        loops = (Loop("f", f_t, F), Loop("y", ty, layer.out_height), Loop("x", tx, layer.out_width), Loop("c", c_t, C))
        depths = (4, 4, 3)
    else:  # "is"
        ty, tx = _spatial_tile(layer, buffers)
        field = _halo(ty, layer) * _halo(tx, layer)
        c_t = min(C, buffers.input // field, buffers.weight // k2)
        f_t = min(F, buffers.weight // (c_t * k2), buffers.output // (ty * tx))
        loops = (Loop("c", c_t, C), Loop("y", ty, layer.out_height), Loop("x", tx, layer.out_width), Loop("f", f_t, F))
        depths = (3, 4, 4)
    nest = LoopNest(dataflow, layer, loops, depths)
    return LoopNest(dataflow, layer, loops, depths, _nest_lines(nest))


def _row_stationary(layer: ConvLayer, buffers: Buffers, pe: PEArray) -> LoopNest:
    k, w, wo = layer.kernel, layer.width, layer.out_width
    if pe.rows < k:
        raise InputError(
            f"PE array rows: {pe.rows} is smaller than the {k} that row-stationary needs (one PE row per filter row)"
        )
    _require("weight buffer", buffers.weight, layer.window, "rs", f"one {k}×{k} filter slice of one channel")
    _require("input buffer", buffers.input, k * w, "rs", f"{k} input rows of width {w} for one output row")
    _require("output buffer", buffers.output, wo, "rs", f"one output row of {wo} partial sums")
    e = _largest(
        min(layer.out_height, pe.cols),
        lambda t: _halo(t, layer) * w <= buffers.input and t * wo <= buffers.output,
    )
    c_t = min(layer.channels, pe.rows // k, buffers.weight // layer.window, buffers.input // (_halo(e, layer) * w))
    loops = (Loop("f", 1, layer.filters), Loop("c", c_t, layer.channels), Loop("y", e, layer.out_height))
    nest = LoopNest("rs", layer, loops, (3, 2, 3))
    return LoopNest("rs", layer, loops, (3, 2, 3), _nest_lines(nest, pe))


# -- display ---------------------------------------------------------------------------
_EXTENT_SYMBOL = {"f": "F", "c": "C", "y": "Ho", "x": "Wo"}


def _var(loop: Loop) -> str:
    return loop.dim + ("" if loop.tile == 1 else "0")


def _dim_slice(outer: dict[str, Loop], dim: str, full: str) -> str:
    loop = outer.get(dim)
    if loop is None:
        return full
    v = _var(loop)
    return v if loop.tile == 1 else f"{v}:{v}+{loop.tile}"


def _tile_text(nest: LoopNest, operand: str, outer: dict[str, Loop]) -> str:
    layer = nest.layer
    if operand == "weight":
        return f"W[{_dim_slice(outer, 'f', f'0:{layer.filters}')}, {_dim_slice(outer, 'c', f'0:{layer.channels}')}, 0:{layer.kernel}, 0:{layer.kernel}]"
    if operand == "output":
        return (f"O[{_dim_slice(outer, 'f', f'0:{layer.filters}')}, {_dim_slice(outer, 'y', f'0:{layer.out_height}')}, "
                f"{_dim_slice(outer, 'x', f'0:{layer.out_width}')}]")
    rows = "windows of " + _dim_slice(outer, "y", f"0:{layer.out_height}") if "y" in outer else "all rows"
    cols = "windows of " + _dim_slice(outer, "x", f"0:{layer.out_width}") if "x" in outer else "all columns"
    return f"I[{_dim_slice(outer, 'c', f'0:{layer.channels}')}, {rows}, {cols}]"


def _nest_lines(nest: LoopNest, pe: PEArray | None = None) -> tuple[NestLine, ...]:
    lines: list[NestLine] = []
    outer: dict[str, Loop] = {}
    stores: list[NestLine] = []
    sizes = {op: _max_tile(OperandGeometry(nest, op)) for op in ("input", "weight", "output")}
    for depth in range(len(nest.loops) + 1):
        for operand in ("weight", "input", "output"):
            if nest.depth(operand) != depth:
                continue
            tile = _tile_text(nest, operand, outer)
            if operand == "output":
                reduction = [_var(l) for d, l in outer.items() if d == "c"]
                note = (f"read back partial sums from memory unless {reduction[0]} = 0" if reduction
                        else "fresh partial sums, no memory read")
                lines.append(NestLine("load", depth, f"output buffer ← {tile}   ({note}; ≤ {sizes[operand]} elements)", operand=operand))
                stores.append(NestLine("store", depth, f"output buffer → {tile}   (write to memory)", operand=operand))
            else:
                lines.append(NestLine("load", depth, f"{operand} buffer ← {tile}   (≤ {sizes[operand]} elements)", operand=operand))
        if depth == len(nest.loops):
            lines.append(NestLine("compute", depth, _compute_text(nest, pe)))
            break
        loop = nest.loops[depth]
        v = _var(loop)
        step = "" if loop.tile == 1 else f", {loop.tile}"
        lines.append(NestLine(
            "loop", depth,
            f"for {v} in range(0, {_EXTENT_SYMBOL[loop.dim]}={loop.extent}{step}):   # {loop.count} × {DIM_NAMES[loop.dim]}",
            bound=loop.count,
        ))
        outer[loop.dim] = loop
    lines.extend(reversed(stores))
    return tuple(lines)


def _compute_text(nest: LoopNest, pe: PEArray | None) -> str:
    if nest.dataflow == "rs":
        c_t = nest.loops[1].tile
        e = nest.loops[2].tile
        return (f"PE array ({c_t}×{nest.layer.kernel} of {pe.rows} rows × {e} of {pe.cols} columns): PE(i, j) convolves "
                f"filter row i (in its RF) with input row (y0+j)·S−P+i; partial sums summed down each column")
    return "for each f, c, ky, kx, y, x of the tiles: MAC   (compute unit: buffer accesses only)"


def _max_tile(geom) -> int:
    sizes = [len(s) for s in geom.full]
    for level in range(geom.depth):
        axis = geom.loop_axis[level]
        if axis is not None:
            sizes[axis] = max(len(c) for c in geom.loop_coords[level])
    total = 1
    for s in sizes:
        total *= s
    return total
