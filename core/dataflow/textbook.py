"""Today's fixed nests (ws, is, os, rs from dataflows.build_nest) as mappings, and each dataflow as a
constraint on the mapping space (dataflow_allows), with the assumptions the lab shows."""

from __future__ import annotations

from core.dataflow.dataflows import build_nest, check_dataflow
from core.dataflow.hierarchy import BUFFER, MEMORY, REGISTERS, Hierarchy
from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import RELEVANT, MapLevel, MapLoop, Mapping, dim_extents
from core.dataflow.mapping_tiles import largest_tile

TEXTBOOK_ASSUMPTIONS = (
    "Textbook mappings: the fixed nests of the dataflow lab as mappings. Their memory-level loops step "
    "the tiles that build_nest grows from the buffer sizes; a mapping needs whole factors, so a tile "
    "that does not divide its dimension is lowered to the largest divisor (then the counts can differ "
    "from the tile policy's, which allows a smaller last tile). Where every tile divides its "
    "dimension, memory counts equal analyse(..., policy='tile'), except where the lab reloads a tile "
    "although only loops its operand ignores advance outside it (e.g. output-stationary with a single "
    "output tile reloads the inputs once per filter tile): a mapping keeps such a tile (stationary).",
    "Buffer-side counts differ by convention: the lab's compute unit reads padded inputs and every "
    "partial sum (input = output reads = MACs); a mapping reads no padding and no partial sum on "
    "first touch.",
    "Row-stationary as a mapping: c_t channel sets × K filter rows over the PE rows, e output rows over "
    "the PE columns, one filter at a time; with registers, each PE's registers hold its filter row "
    "(K weights), input row and output row (the s and x loops) and keep the filter row while the "
    "strips change; the lab's rs model refills the PE per pass and adds its own diagonal input "
    "forwarding, so register and inter-PE counts differ while memory counts agree.",
    "Dataflow constraints (dataflow_allows): weight-stationary: no memory-level loop over y or x lies "
    "outside a memory-level loop over f, c, r or s, and weights are held in the buffer "
    "(the weight tile stays while the loops over output positions run); output-stationary: no "
    "memory-level loop over c, r or s lies outside one over f, y, x or n, outputs held in the buffer "
    "(partial sums stay while the reduction runs); input-stationary: no memory-level loop over f lies "
    "outside one over n, c, y, x, r or s, inputs held in the buffer (inputs stay while the filters "
    "run); row-stationary: the buffer's spatial loops put all K kernel rows (r) and optionally "
    "channels (c) over the PE rows and only output rows (y) over the PE columns. Loops of factor 1 "
    "are ignored.",
)

# Dataflow: (operand that stays in the buffer, dims that must run inside it, dims it depends on).
_STATIONARY = {
    "ws": ("weight", frozenset("yx"), RELEVANT["weight"]),
    "os": ("output", frozenset("crs"), RELEVANT["output"]),
    "is": ("input", frozenset("f"), RELEVANT["input"]),
}


def dataflow_allows(dataflow: str, mapping: Mapping) -> bool:
    """Whether the mapping obeys the dataflow's constraint (see TEXTBOOK_ASSUMPTIONS)."""
    check_dataflow(dataflow)
    levels = {level.name: level for level in mapping.levels}
    buffer = levels.get(BUFFER)
    if buffer is None:
        return False
    if dataflow == "rs":
        return _row_stationary_pattern(mapping, buffer)
    operand, inside, relevant = _STATIONARY[dataflow]
    if not buffer.stores(operand):
        return False
    memory = [l for l in levels.get(MEMORY, MapLevel(MEMORY)).temporal if l.factor > 1]
    last_relevant = max((k for k, l in enumerate(memory) if l.dim in relevant and l.dim not in inside), default=-1)
    return all(l.dim not in inside for l in memory[:last_relevant + 1])


def _row_stationary_pattern(mapping: Mapping, buffer: MapLevel) -> bool:
    rows = [l for l in buffer.spatial if l.spatial == "rows" and l.factor > 1]
    cols = [l for l in buffer.spatial if l.spatial == "cols" and l.factor > 1]
    kernel = mapping.factor_product()["r"]
    r_rows = [l for l in rows if l.dim == "r"]
    if kernel > 1 and (len(r_rows) != 1 or r_rows[0].factor != kernel):
        return False
    return all(l.dim in ("r", "c") for l in rows) and all(l.dim == "y" for l in cols)


def _divisor_at_most(extent: int, tile: int) -> int:
    return max(d for d in range(1, min(extent, tile) + 1) if extent % d == 0)


def textbook_mapping(dataflow: str, layer: ConvLayer, hierarchy: Hierarchy) -> Mapping:
    """Today's nest of ``dataflow`` as a mapping (InputError when the buffers cannot run it)."""
    check_dataflow(dataflow)
    nest = build_nest(layer, dataflow, hierarchy.buffers, hierarchy.pe)
    ext = dim_extents(layer)
    tiles = {loop.dim: _divisor_at_most(ext[loop.dim], loop.tile) for loop in nest.loops}
    order = [loop.dim for loop in nest.loops]
    memory = tuple(MapLoop(d, ext[d] // tiles[d]) for d in order)
    if dataflow == "rs":
        return _row_stationary(layer, hierarchy, memory, tiles)
    buffer = tuple(MapLoop(d, tiles[d]) for d in order) + (MapLoop("r", layer.kernel), MapLoop("s", layer.kernel))
    buffer += tuple(MapLoop(d, ext[d]) for d in "fcyx" if d not in order)
    levels = [MapLevel(MEMORY, memory), MapLevel(BUFFER, buffer)]
    if hierarchy.registers is not None:
        levels.append(MapLevel(REGISTERS, (), frozenset(OPERANDS)))
    return _without_unit_loops(Mapping(tuple(levels), f"textbook {dataflow}"))


def _without_unit_loops(mapping: Mapping) -> Mapping:
    """The same mapping without loops of factor 1 (they never change an index)."""
    return Mapping(tuple(MapLevel(level.name, tuple(l for l in level.loops if l.factor > 1), level.bypass)
                         for level in mapping.levels), mapping.name)


def _row_stationary(layer: ConvLayer, hierarchy: Hierarchy, memory, tiles) -> Mapping:
    spatial = (MapLoop("c", tiles["c"], "rows"), MapLoop("r", layer.kernel, "rows"), MapLoop("y", tiles["y"], "cols"))
    rows_of_pe = (MapLoop("x", layer.out_width), MapLoop("s", layer.kernel))
    name = "textbook rs"
    if hierarchy.registers is not None:
        inner = dict.fromkeys("nfcyxrs", 1) | {"x": layer.out_width, "s": layer.kernel}
        fits = all(largest_tile(layer, op, inner) <= hierarchy.registers.capacity(op) for op in OPERANDS)
        if fits:
            return _without_unit_loops(Mapping((MapLevel(MEMORY, memory), MapLevel(BUFFER, spatial),
                                                MapLevel(REGISTERS, rows_of_pe)), name))
        return _without_unit_loops(Mapping((MapLevel(MEMORY, memory), MapLevel(BUFFER, rows_of_pe + spatial),
                                            MapLevel(REGISTERS, (), frozenset(OPERANDS))), name))
    return _without_unit_loops(Mapping((MapLevel(MEMORY, memory), MapLevel(BUFFER, rows_of_pe + spatial)), name))
