"""Validation of a mapping on a layer and hierarchy: structure (levels, factor products, spatial
fan-out, bypass) and capacities, with messages naming the level, operand, excess and what fits."""

from __future__ import annotations

from dataclasses import dataclass

from core.common.errors import InputError
from core.dataflow.hierarchy import BUFFER, Hierarchy
from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import DIM_TITLES, LOOP_DIMS, RELEVANT, Mapping, dim_extents
from core.dataflow.mapping_tiles import inner_extents, largest_tile, product


@dataclass(frozen=True)
class Overflow:
    """A tile that does not fit its level: by how much, and what would."""

    level: str
    operand: str
    needed: int
    capacity: int
    message: str

    def __str__(self) -> str:
        return self.message


def validate(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy) -> list[Overflow | str]:
    """Every problem of the mapping on this layer and hierarchy ([] when it is valid)."""
    problems: list[Overflow | str] = list(_structure_problems(mapping, layer, hierarchy))
    if problems:
        return problems
    return list(_overflows(mapping, layer, hierarchy))


def is_valid(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy) -> bool:
    """validate(...) == [] without composing messages (cheap, for a search that prunes)."""
    if next(iter(_structure_problems(mapping, layer, hierarchy)), None) is not None:
        return False
    sizes = tile_sizes(mapping, layer, hierarchy)
    for level in mapping.levels[1:]:
        for operand in OPERANDS:
            capacity = hierarchy.capacity(level.name, operand)
            if level.stores(operand) and sizes[level.name][operand] > capacity:
                return False
    return True


def check(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy) -> None:
    """Raise InputError with the first problem's message when the mapping is not valid."""
    problems = validate(mapping, layer, hierarchy)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise InputError(f"mapping: {problems[0]}{more}")


def _structure_problems(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy):
    names = tuple(level.name for level in mapping.levels)
    if names != hierarchy.level_names:
        yield (f"levels: the mapping has {', '.join(names) or 'none'} but the hierarchy has "
               f"{', '.join(hierarchy.level_names)} (outermost first)")
        return
    extents = dim_extents(layer)
    for dim, product in mapping.factor_product().items():
        if product != extents[dim]:
            yield (f"{dim} ({DIM_TITLES[dim]}): the factors multiply to {product:,} but the layer's {dim} "
                   f"extent is {extents[dim]:,}")
    for level in mapping.levels:
        for loop in level.loops:
            if loop.dim not in LOOP_DIMS:
                yield f"{level.name} level: loop dim {loop.dim!r} is not known (allowed: {', '.join(LOOP_DIMS)})"
        if level.spatial and level.name != BUFFER:
            yield (f"{level.name} level: spatial loops ({', '.join(l.dim for l in level.spatial)}) are only "
                   f"allowed at the buffer level (its fan-out to the PE array)")
    if mapping.levels[0].bypass:
        yield f"memory level: it holds everything and cannot be bypassed (by {', '.join(sorted(mapping.levels[0].bypass))})"
    yield from _fanout_problems(mapping, hierarchy)


def _fanout_problems(mapping: Mapping, hierarchy: Hierarchy):
    for axis, limit in (("rows", hierarchy.pe.rows), ("cols", hierarchy.pe.cols)):
        loops = [l for level in mapping.levels for l in level.spatial if l.spatial == axis]
        used = product(l.factor for l in loops)
        if used > limit:
            parts = " × ".join(f"{l.dim} {l.factor}" for l in loops)
            yield (f"spatial fan-out over PE {axis}: {parts} = {used:,} PEs but the array has {limit:,} {axis} "
                   f"(over by {used - limit:,}){_fanout_fix(loops, used, limit)}")


def tile_sizes(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy | None = None) -> dict[str, dict[str, int]]:
    """Elements of each operand one instance of each level holds (its largest tile; per PE for the
    registers; memory: the whole operand; 0 where the operand bypasses the level) — the numbers
    validate() compares with the capacities. ``hierarchy`` is accepted for symmetry and unused."""
    out: dict[str, dict[str, int]] = {}
    for index, level in enumerate(mapping.levels):
        inner = inner_extents(loop for lv in mapping.levels[index:] for loop in lv.loops)
        out[level.name] = {op: (layer.operand_size(op) if index == 0 else
                                largest_tile(layer, op, inner) if level.stores(op) else 0) for op in OPERANDS}
    return out


def _fanout_fix(loops, used: int, limit: int) -> str:
    """The largest smaller factor of one of the loops that brings the fan-out within the array."""
    fixes = []
    for loop in loops:
        others = used // loop.factor
        fits = [d for d in _divisors_below(loop.factor) if others * d <= limit]
        if fits:
            fixes.append(f"{loop.dim} = {fits[0]} instead of {loop.factor}")
    return "; it fits with " + " or ".join(fixes[:3]) if fixes else ""


def _overflows(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy):
    sizes = tile_sizes(mapping, layer, hierarchy)
    for index, level in enumerate(mapping.levels):
        if index == 0:
            continue
        inner = inner_extents(loop for lv in mapping.levels[index:] for loop in lv.loops)
        for operand in OPERANDS:
            if not level.stores(operand):
                continue
            capacity = hierarchy.capacity(level.name, operand)
            needed = sizes[level.name][operand]
            if capacity is not None and needed > capacity:
                yield _overflow(mapping, layer, index, operand, inner, needed, capacity)


def _overflow(mapping, layer, index, operand, inner, needed, capacity) -> Overflow:
    level = mapping.levels[index]
    where = "per-PE registers" if level.name == "registers" else f"{operand} buffer"
    text = (f"{level.name} level, {operand}: the tile needs {needed:,} elements but the {where} holds "
            f"{capacity:,} (over by {needed - capacity:,})")
    fixes = _fixes(mapping, layer, index, operand, inner, capacity)
    if fixes:
        text += "; it fits with " + " or ".join(fixes)
    else:
        text += (f"; no single smaller factor makes it fit: move loops over "
                 f"{', '.join(sorted(RELEVANT[operand]))} above this level, or let {operand} bypass it")
    return Overflow(level.name, operand, needed, capacity, text)


def _fixes(mapping, layer, index, operand, inner, capacity, limit: int = 3) -> list[str]:
    """Largest smaller factor of each loop at or below the level that alone makes the tile fit."""
    fixes = []
    for lv in mapping.levels[index:]:
        for loop in lv.loops:
            if loop.factor == 1 or loop.dim not in RELEVANT[operand]:
                continue
            for d in _divisors_below(loop.factor):
                trial = dict(inner)
                trial[loop.dim] = inner[loop.dim] // loop.factor * d
                if largest_tile(layer, operand, trial) <= capacity:
                    fixes.append(f"{loop.dim} = {d} instead of {loop.factor} at the {lv.name} level "
                                 f"(the other ×{loop.factor // d} to a level above)")
                    break
            if len(fixes) >= limit:
                return fixes
    return fixes


def _divisors_below(n: int) -> list[int]:
    return [d for d in range(n - 1, 0, -1) if n % d == 0]


def product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out
