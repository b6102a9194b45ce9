"""A mapping's memory ↔ buffer traffic as a dataflow trace, so the lab's animation plays any
mapping: the loops outside the buffer's tiles become the steps of a LoopNest (one loop per
dimension), each operand's buffer is (re)filled below its innermost relevant loop (the loops
inside it leave its tile in place: reuse), and core.dataflow.trace walks it as it walks the
textbook nests (element by element when small, coarsened to loop tiles when big).

Mappings the nest cannot express raise InputError saying why (the counts of such a mapping
stay exact in mapping_eval; only the animation is unavailable): kernel loops (r, s) or
spatial loops outside the buffer, two loops of one dimension there, or an operand that
bypasses the buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.common.errors import InputError
from core.dataflow.analysis import AccessCounts
from core.dataflow.energy import EnergyBreakdown, energy_breakdown
from core.dataflow.layer import OPERANDS, Buffers, ConvLayer
from core.dataflow.loopnest import DIM_NAMES, Loop, LoopNest, NestLine
from core.dataflow.trace import DEFAULT_MAX_EVENTS, Trace, coarse_trace, simulate_elements

NEST_DIMS = ("f", "c", "y", "x")  # the dimensions a LoopNest steps
_RELEVANT = {"input": {"c", "y", "x"}, "weight": {"f", "c"}, "output": {"f", "y", "x"}}
_ROWS_PER_COARSE_STEP = 5  # as core.dataflow.trace: input, weight, output read/alloc/write


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
    """The loops outside the buffer's tiles (the memory level's), outermost first."""
    return list(mapping.levels[0].loops)


def mapping_nest(mapping, layer: ConvLayer) -> LoopNest:
    """The LoopNest whose tile-policy traffic is the mapping's memory ↔ buffer traffic."""
    if len(mapping.levels) < 2:
        raise InputError("mapping: the animation needs a buffer level below the memory")
    bypassed = sorted(mapping.levels[1].bypass)
    if bypassed:
        raise InputError(f"mapping: the animation cannot show an operand bypassing the buffer "
                         f"({', '.join(bypassed)})")
    extents = {"f": layer.filters, "c": layer.channels, "y": layer.out_height, "x": layer.out_width}
    loops, seen = [], set()
    for loop in outer_loops(mapping):
        if loop.factor == 1:
            continue
        if loop.spatial is not None:
            raise InputError(f"mapping: the animation cannot show the spatial {loop.dim} loop at the "
                             "memory level")
        if loop.dim not in NEST_DIMS:
            raise InputError(f"mapping: the animation steps whole kernel windows; move the {loop.dim} "
                             "loop into the buffer level to animate this mapping")
        if loop.dim in seen:
            raise InputError(f"mapping: the animation needs at most one {loop.dim} loop at the memory "
                             "level; merge them to animate this mapping")
        seen.add(loop.dim)
        if extents[loop.dim] % loop.factor:
            raise InputError(f"mapping: the {loop.dim} factors do not multiply to {extents[loop.dim]}")
        loops.append(Loop(loop.dim, extents[loop.dim] // loop.factor, extents[loop.dim]))
    depths = tuple(_depth(loops, op) for op in OPERANDS)
    nest = LoopNest("mapping", layer, tuple(loops), depths)
    return LoopNest("mapping", layer, tuple(loops), depths, _lines(nest, mapping))


def _depth(loops: list[Loop], operand: str) -> int:
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
                                             f"{loop.count} × {DIM_NAMES[loop.dim]}", bound=loop.count))
    lines.extend(reversed(stores))
    return tuple(lines)


def _element_bound(nest: LoopNest) -> int:
    loads = {op: nest.geometry(op).tile_loads() for op in OPERANDS}
    return loads["input"] + loads["weight"] + 2 * loads["output"]


def _coarse_level(nest: LoopNest, max_events: int) -> int:
    level, steps = 0, 1
    for loop in nest.loops:
        if steps * loop.count * _ROWS_PER_COARSE_STEP > max_events:
            break
        steps *= loop.count
        level += 1
    return level


def mapping_trace(mapping, layer: ConvLayer, hierarchy, cost=None,
                  max_events: int = DEFAULT_MAX_EVENTS) -> MappingTrace:
    """The trace of the mapping's memory ↔ buffer traffic (element level when at most
    ``max_events`` rows, else coarsened), with the evaluated ``cost`` for the counters."""
    nest = mapping_nest(mapping, layer)
    buffers = hierarchy.buffers
    if _element_bound(nest) <= max_events:
        trace = simulate_elements(nest, buffers, "tile")
    else:
        trace = coarse_trace(nest, buffers, "tile", _coarse_level(nest, max_events))
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
