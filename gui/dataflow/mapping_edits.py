"""The mapping editor's edits as pure functions on core.dataflow.mapping.Mapping (no Qt): move
a loop within or between levels, change its factor (the remainder of that dimension goes to
another loop of it, so factor products stay equal to the extents), change its unrolling.

Every function returns a new Mapping and leaves its argument alone, so an undo command only
has to keep the old and the new value.
"""

from __future__ import annotations

from dataclasses import replace
from math import gcd, prod

from core.dataflow.mapping import MapLoop, Mapping

SPATIAL_CHOICES = (None, "rows", "cols")


def _with_loops(mapping: Mapping, level: int, loops) -> Mapping:
    levels = list(mapping.levels)
    levels[level] = replace(levels[level], loops=tuple(loops))
    return replace(mapping, levels=tuple(levels))


def move_loop(mapping: Mapping, src_level: int, src_index: int, dst_level: int,
              dst_index: int) -> Mapping:
    """Take loop ``src_index`` out of level ``src_level`` and insert it into ``dst_level`` so
    that it ends up at position ``dst_index`` there (indices as the user sees them before the
    move: dropping a loop just below itself within its level changes nothing)."""
    loops = list(mapping.levels[src_level].loops)
    loop = loops.pop(src_index)
    moved = _with_loops(mapping, src_level, loops)
    if dst_level == src_level and dst_index > src_index:
        dst_index -= 1
    target = list(moved.levels[dst_level].loops)
    dst_index = max(0, min(dst_index, len(target)))
    target.insert(dst_index, loop)
    return _with_loops(moved, dst_level, target)


def loops_of_dim(mapping: Mapping, dim: str) -> list[tuple[int, int]]:
    """(level, index) of every loop of ``dim``, outermost level first."""
    return [(lv, i) for lv, level in enumerate(mapping.levels)
            for i, loop in enumerate(level.loops) if loop.dim == dim]


def _set(mapping: Mapping, level: int, index: int, loop: MapLoop) -> Mapping:
    loops = list(mapping.levels[level].loops)
    loops[index] = loop
    return _with_loops(mapping, level, loops)


def set_factor(mapping: Mapping, level: int, index: int, factor: int,
               extents: dict[str, int]) -> Mapping:
    """Loop (``level``, ``index``) gets ``factor``; the other loops of its dimension are
    rebalanced so that the product stays the dimension's extent: the memory level's temporal
    loop of that dimension takes the remainder (one is added there when there is none), the
    others keep what still divides. A factor that does not divide the extent is set as given:
    the product is then wrong and validation says so."""
    loop = mapping.levels[level].loops[index]
    out = _set(mapping, level, index, replace(loop, factor=int(factor)))
    extent = int(extents.get(loop.dim, 1))
    if factor < 1 or extent % factor:
        return out
    remaining = extent // factor
    others = [(lv, i) for lv, i in loops_of_dim(out, loop.dim) if (lv, i) != (level, index)]
    sink = next(((lv, i) for lv, i in others
                 if lv == 0 and out.levels[lv].loops[i].spatial is None), None)
    rest = [pos for pos in others if pos != sink]
    # Inner tiles are what the user shaped: keep them first, as far as they still divide.
    for lv, i in reversed(rest):
        other = out.levels[lv].loops[i]
        keep = gcd(other.factor, remaining)
        remaining //= keep
        out = _set(out, lv, i, replace(other, factor=keep))
    if sink is not None:
        return _set(out, *sink, replace(out.levels[sink[0]].loops[sink[1]], factor=remaining))
    if remaining == 1:
        return out
    # No other loop of the dimension: the memory level takes the rest, or, when the edited
    # loop is the memory level's own, the level below it (the tile grows; validation says
    # when it no longer fits).
    target = 1 if level == 0 and len(out.levels) > 1 else 0
    loops = out.levels[target].loops
    return _with_loops(out, target, (MapLoop(loop.dim, remaining),) + tuple(loops))


def set_spatial(mapping: Mapping, level: int, index: int, spatial: str | None) -> Mapping:
    """Temporal (None) or unrolled over the PE array's "rows" or "cols"."""
    loop = mapping.levels[level].loops[index]
    return _set(mapping, level, index, replace(loop, spatial=spatial))


def products_ok(mapping: Mapping, extents: dict[str, int]) -> bool:
    """Whether every dimension's factors multiply to its extent."""
    got = {dim: prod(loop.factor for lv in mapping.levels for loop in lv.loops if loop.dim == dim)
           for dim in extents}
    return all(got[d] == e for d, e in extents.items())


def same_mapping(a: Mapping, b: Mapping) -> bool:
    """Equal levels and loops (the name is a label, not part of the mapping)."""
    return a.levels == b.levels


def all_in_memory(extents: dict[str, int], level_names) -> Mapping:
    """Every loop at the memory level, the other levels empty (tiles of one element): valid on
    any hierarchy, the starting point when a textbook nest does not fit the buffers."""
    from core.dataflow.mapping import MapLevel
    memory = MapLevel(level_names[0], tuple(MapLoop(d, e) for d, e in extents.items() if e > 1))
    return Mapping((memory,) + tuple(MapLevel(name) for name in level_names[1:]),
                   "everything from memory")


def toggle_bypass(mapping: Mapping, level: int, operand: str) -> Mapping:
    """``operand`` bypasses level ``level`` (served from the level above), or no longer does."""
    levels = list(mapping.levels)
    levels[level] = replace(levels[level], bypass=frozenset(levels[level].bypass ^ {operand}))
    return replace(mapping, levels=tuple(levels))
