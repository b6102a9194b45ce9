"""A mapping's memory ↔ buffer traffic as a dataflow trace, so the lab's animation plays any
mapping. The memory level's loops are the steps; each operand's buffer tile (the box of the
loops of the buffer and below, placed by the memory loops' indices) is refilled in full when
its position changes, that is at each new combination of the memory loops down to the
innermost one the operand depends on (the loops inside keep it: reuse); outputs start from
zero on first touch, read partial sums back otherwise, and are written back when they leave.

Small runs are walked element by element for any memory loops (kernel loops and several
loops of one dimension included); big ones are coarsened to loop tiles by
core.dataflow.trace, which needs at most one memory loop per dimension f, c, y, x. What
cannot be animated raises InputError saying why (the mapping's counts stay exact in
mapping_eval): an operand bypassing the buffer, or a big run the coarse trace cannot express.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from core.common.errors import InputError
from core.dataflow.analysis import AccessCounts
from core.dataflow.energy import EnergyBreakdown, energy_breakdown
from core.dataflow.layer import OPERANDS, Buffers, ConvLayer
from core.dataflow.loopnest import Loop, LoopNest, NestLine
from core.dataflow.mapping import DIM_TITLES
from core.dataflow.trace import (ALLOC, COLUMNS, DEFAULT_MAX_EVENTS, OPERAND_CODE, READ, WRITE, Trace,
                                 coarse_level, coarse_trace)

NEST_DIMS = ("f", "c", "y", "x")  # the dimensions a LoopNest steps
_RELEVANT = {"input": set("ncyxrs"), "weight": set("fcrs"), "output": set("nfyx")}


@dataclass(frozen=True)
class MappingTraceResult:
    """What the animation's frame model reads of a result (the shape of a DataflowResult)."""

    layer: ConvLayer
    buffers: Buffers
    nest: LoopNest
    counts: AccessCounts
    energy: EnergyBreakdown
    dataflow: str = "mapping"
    policy: str = "tile"


@dataclass(frozen=True)
class MappingTrace:
    result: MappingTraceResult
    trace: Trace


def outer_loops(mapping) -> list:
    """The loops outside the buffer's tiles (the memory level's, factor > 1), outermost first."""
    return [loop for loop in mapping.levels[0].loops if loop.factor > 1]


def _check_animatable(mapping) -> None:
    if len(mapping.levels) < 2:
        raise InputError("mapping: the animation needs a buffer level below the memory")
    bypassed = sorted(mapping.levels[1].bypass)
    if bypassed:
        raise InputError(f"mapping: the animation cannot show an operand bypassing the buffer "
                         f"({', '.join(bypassed)})")
    for loop in outer_loops(mapping):
        if loop.spatial is not None:
            raise InputError(f"mapping: the animation cannot show the spatial {loop.dim} loop at the "
                             "memory level")


def buffer_box(mapping) -> dict[str, int]:
    """Extent per dimension of the buffer's tile box (every loop of the buffer and below)."""
    box = dict.fromkeys("nfcyxrs", 1)
    for level in mapping.levels[1:]:
        for loop in level.loops:
            box[loop.dim] *= loop.factor
    return box


def walk_nest(mapping, layer: ConvLayer) -> LoopNest:
    """The memory loops as LoopNest loops: loop k steps its dimension by the product of that
    dimension's factors inside it (``tile``), ``factor`` times (``extent`` = tile · factor)."""
    _check_animatable(mapping)
    outer = outer_loops(mapping)
    box = buffer_box(mapping)
    loops = []
    for k, loop in enumerate(outer):
        stride = box[loop.dim]
        for inner in outer[k + 1:]:
            if inner.dim == loop.dim:
                stride *= inner.factor
        loops.append(Loop(loop.dim, stride, stride * loop.factor))
    depths = tuple(_depth(loops, op) for op in OPERANDS)
    nest = LoopNest("mapping", layer, tuple(loops), depths)
    return LoopNest("mapping", layer, tuple(loops), depths, _lines(nest, mapping))


def mapping_nest(mapping, layer: ConvLayer) -> LoopNest:
    """The nest core.dataflow.trace can coarsen: at most one memory loop per dimension f, c,
    y, x (InputError saying what to change otherwise)."""
    nest = walk_nest(mapping, layer)
    seen = set()
    for loop in nest.loops:
        if loop.dim not in NEST_DIMS:
            raise InputError(f"mapping: this layer is too big to animate element by element, and the "
                             f"coarse animation steps whole kernel windows; move the {loop.dim} loop "
                             "into the buffer level to animate it")
        if loop.dim in seen:
            raise InputError(f"mapping: this layer is too big to animate element by element, and the "
                             f"coarse animation needs at most one {loop.dim} loop at the memory level")
        seen.add(loop.dim)
    return nest


def _depth(loops, operand: str) -> int:
    """Below the innermost loop the operand depends on: the loops inside keep its tile."""
    relevant = [i for i, loop in enumerate(loops) if loop.dim in _RELEVANT[operand]]
    return relevant[-1] + 1 if relevant else 0


def _lines(nest: LoopNest, mapping) -> tuple[NestLine, ...]:
    lines, stores = [], []
    for depth in range(len(nest.loops) + 1):
        for op in ("weight", "input", "output"):
            if nest.depth(op) != depth:
                continue
            if op == "output":
                lines.append(NestLine("load", depth, "output buffer ← its tile   (partial sums read "
                                      "back unless first touched)", operand=op))
                stores.append(NestLine("store", depth, "output buffer → memory", operand=op))
            else:
                lines.append(NestLine("load", depth, f"{op} buffer ← its tile", operand=op))
        if depth == len(nest.loops):
            inner = mapping.lines()
            start = next((i for i, text in enumerate(inner) if text.strip().startswith("# buffer")), 0)
            for text in inner[start:]:
                lines.append(NestLine("compute", depth, text.strip()))
            break
        loop = nest.loops[depth]
        step = "" if loop.tile == 1 else f", {loop.tile}"
        var = loop.dim + ("" if loop.tile == 1 else "0")
        lines.append(NestLine("loop", depth, f"for {var} in range(0, {loop.extent}{step}):   # memory, "
                                             f"{loop.count} × {DIM_TITLES[loop.dim]}", bound=loop.count))
    lines.extend(reversed(stores))
    return tuple(lines)


def _element_bound(nest: LoopNest, mapping) -> int:
    """Rows of the element-level trace: refills × the largest tile, per operand."""
    from core.dataflow.mapping_eval import tile_sizes
    sizes = tile_sizes(mapping, nest.layer)["buffer"]
    total = 0
    for op in OPERANDS:
        refills = 1
        for loop in nest.loops[: nest.depth(op)]:
            refills *= loop.count
        total += refills * sizes[op] * (2 if op == "output" else 1)
    return total


def _ranges(box: dict[str, int], base: dict[str, int]) -> dict[str, np.ndarray]:
    return {d: np.arange(base[d], base[d] + box[d], dtype=np.int64) for d in box}


def _tile_addresses(layer: ConvLayer, operand: str, r: dict[str, np.ndarray]) -> np.ndarray:
    """Memory addresses (row-major, padding never stored) of one tile, ascending."""
    k = layer.kernel
    if operand == "weight":
        return (((r["f"][:, None, None, None] * layer.channels + r["c"][None, :, None, None]) * k
                 + r["r"][None, None, :, None]) * k + r["s"][None, None, None, :]).ravel()
    if operand == "output":
        ho, wo = layer.out_height, layer.out_width
        return ((r["f"][:, None, None] * ho + r["y"][None, :, None]) * wo + r["x"][None, None, :]).ravel()
    rows = _span(r["y"], r["r"], layer.stride, layer.padding, layer.height)
    cols = _span(r["x"], r["s"], layer.stride, layer.padding, layer.width)
    hw = layer.height * layer.width
    return ((r["c"][:, None, None] * hw + rows[None, :, None] * layer.width) + cols[None, None, :]).ravel()


def _span(out: np.ndarray, taps: np.ndarray, stride: int, padding: int, size: int) -> np.ndarray:
    """Real input rows (or columns) that output rows ``out`` with kernel rows ``taps`` touch."""
    span = (out[:, None] * stride - padding + taps[None, :]).ravel()
    return np.unique(span[(span >= 0) & (span < size)])


def walk_elements(mapping, layer: ConvLayer, nest: LoopNest) -> Trace:
    """Every step of the memory loops and every element of every refilled tile (tile policy)."""
    box = buffer_box(mapping)
    counts = [loop.count for loop in nest.loops]
    last = [c - 1 for c in counts]
    touched = np.zeros(layer.operand_size("output"), dtype=bool)
    events: list[np.ndarray] = []

    def rows(step: int, code: int, addr: np.ndarray, kind) -> None:
        block = np.empty((len(addr), len(COLUMNS)), dtype=np.int64)
        block[:, 0], block[:, 1], block[:, 2] = step, code, np.arange(len(addr))
        block[:, 3], block[:, 4], block[:, 5] = addr, kind, 1
        events.append(block)

    for step, idx in enumerate(itertools.product(*(range(c) for c in counts))):
        base = dict.fromkeys(box, 0)
        for loop, i in zip(nest.loops, idx):
            base[loop.dim] += i * loop.tile
        tiles = {}
        for op in ("weight", "input", "output"):
            depth = nest.depth(op)
            if any(idx[depth:]):
                continue
            addr = tiles[op] = _tile_addresses(layer, op, _ranges(box, base))
            if op == "output":
                kind = np.where(touched[addr], READ, ALLOC)
                touched[addr] = True
                rows(step, OPERAND_CODE[op], addr, kind)
            else:
                rows(step, OPERAND_CODE[op], addr, READ)
        depth = nest.depth("output")
        if list(idx[depth:]) == last[depth:]:
            addr = tiles.get("output")
            if addr is None:
                addr = _tile_addresses(layer, "output", _ranges(box, base))
            rows(step, OPERAND_CODE["output"], addr, WRITE)
    arr = np.concatenate(events) if events else np.zeros((0, len(COLUMNS)), dtype=np.int64)
    return Trace(arr, nest, "tile", len(nest.loops), True)


def mapping_trace(mapping, layer: ConvLayer, hierarchy, cost=None,
                  max_events: int = DEFAULT_MAX_EVENTS) -> MappingTrace:
    """The trace of the mapping's memory ↔ buffer traffic (element level when at most
    ``max_events`` rows, else coarsened), with the evaluated ``cost`` for the counters."""
    nest = walk_nest(mapping, layer)
    buffers = hierarchy.buffers
    if _element_bound(nest, mapping) <= max_events:
        trace = walk_elements(mapping, layer, nest)
    else:
        nest = mapping_nest(mapping, layer)
        trace = coarse_trace(nest, buffers, "tile", coarse_level(nest, max_events))
    totals = trace.totals()
    reads = {op: totals.get((op, "read"), 0) for op in OPERANDS}
    writes = {"output": totals.get(("output", "write"), 0)}
    buffer = {op: 0 for op in OPERANDS}
    rf = {op: 0 for op in OPERANDS}
    if cost is not None:
        for op in OPERANDS:
            c = cost.counts.get("buffer", {}).get(op)
            if c is not None:
                buffer[op] = int(c.accesses)
            r = cost.counts.get("registers", {}).get(op)
            if r is not None:
                rf[op] = int(r.accesses)
    counts = AccessCounts(layer.macs, reads, writes, buffer, rf, {op: 0 for op in OPERANDS})
    energy = cost.energy if cost is not None else energy_breakdown({}, hierarchy.costs)
    return MappingTrace(MappingTraceResult(layer, buffers, nest, counts, energy), trace)
