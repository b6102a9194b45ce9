"""Validation, closed-form counts per level and operand, energy, cycles and utilisation of a mapping.

The conventions (MAPPING_ASSUMPTIONS) in brief: a level's tile of an operand is what the loops of
that level and below touch; it is refilled in full whenever a loop above it that the operand
depends on changes index (loops it does not depend on that lie inside the innermost such loop
keep it stationary); outputs start from zero on first touch and otherwise fetch their partial
sums back, and are written back each time their tile leaves. PEs that need the same element at
once get it by one read and inter-PE forwarding (multicast); partial sums of one output from
several PEs are added on the way up (spatial reduction). The MACs keep nothing: every MAC reads
its operands from the innermost level that holds them. One temporal iteration per cycle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.common.errors import InputError
from core.dataflow.energy import EnergyBreakdown, energy_breakdown
from core.dataflow.hierarchy import BUFFER, ENERGY_LEVEL, MEMORY, Hierarchy
from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import DIM_TITLES, LOOP_DIMS, RELEVANT, Mapping, dim_extents
from core.dataflow.mapping_tiles import inner_extents, largest_tile, lattice_tile_sum

MAPPING_ASSUMPTIONS = (
    "A mapping lists, per storage level (memory, buffer, optional per-PE registers), loops over the "
    "layer's dimensions n f c y x r s with factors, outermost first; the product of a dimension's "
    "factors over all levels equals its size. A level's spatial loops (buffer only) unroll over the "
    "PE array's rows or columns and sit inside its temporal loops.",
    "A level's tile of an operand is every element the loops of that level and all levels below touch "
    "(for the registers: per PE). Capacities are checked against the largest tile.",
    "Tile policy: a level refills its whole tile of an operand whenever the index of a loop above it "
    "that the operand depends on changes (inputs: n c y x r s; weights: f c r s; outputs: n f y x). "
    "Loops the operand does not depend on that lie inside the innermost loop it depends on keep the "
    "tile stationary (reuse); those outside it cost a refill per iteration. Overlapping windows "
    "(halos) are not reused between tiles, and a tile that changes position is refilled even if, at a "
    "padded border, it holds the same elements.",
    "Partial sums: an output's first touch starts from zero (no read); every later visit of its tile "
    "at a level brings the partial sums back from the level above (psum reads there, fills here) and "
    "each visit ends with a write-back (writes above, updates here).",
    "Bypass: an operand that bypasses a level is served by the nearest level above that holds it. "
    "Memory holds everything and cannot be bypassed.",
    "The MACs keep nothing: each MAC reads its input (unless it is padding) and its weight from the "
    "innermost level holding them, and reads (except on first touch) and writes its partial sum there.",
    "Spatial fan-out: PEs that need the same element at the same time get it by one read of the level "
    "above and inter-PE forwarding (one inter-PE transfer per extra PE: multicast); partial sums of "
    "the same output from several PEs are added on the way up (spatial reduction, one inter-PE transfer "
    "per extra PE) and written once.",
    "Energy: each level is charged for the accesses on its lower side (reads, partial-sum reads, "
    "writes); filling a level is charged as a read of the level above. memory → DRAM, buffer → "
    "buffer, registers → register file, forwarding → inter-PE, one MAC → MAC.",
    "Cycles: one iteration of all temporal loops per cycle, every PE busy in lockstep, no stalls "
    "(bandwidth is not modelled); cycles = product of the temporal factors; utilisation = MACs / "
    "(cycles × PE rows × PE columns).",
)


# -- validation ---------------------------------------------------------------------------
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
        used = _product(l.factor for l in loops)
        if used > limit:
            parts = " × ".join(f"{l.dim} {l.factor}" for l in loops)
            yield (f"spatial fan-out over PE {axis}: {parts} = {used:,} PEs but the array has {limit:,} {axis} "
                   f"(over by {used - limit:,})")


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
                    fixes.append(f"{loop.dim} = {d} instead of {loop.factor} at the {lv.name} level")
                    break
            if len(fixes) >= limit:
                return fixes
    return fixes


def _divisors_below(n: int) -> list[int]:
    return [d for d in range(n - 1, 0, -1) if n % d == 0]


def _product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


# -- counts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class LevelCounts:
    """Accesses of one operand at one level, in elements (totals over every instance, e.g. all PEs).

    reads: input/weight elements read out for the level below or the MACs (a multicast once);
    writes: output elements written in from below (after spatial reduction);
    fills: elements written in from the level above (outputs: partial sums brought back);
    psum_reads: partial sums read out to continue accumulating below;
    updates: output elements this level writes back up to the level above;
    forwards: inter-PE transfers of the fan-out below this level (multicast copies, reduction hops).
    """

    reads: int = 0
    writes: int = 0
    fills: int = 0
    psum_reads: int = 0
    updates: int = 0
    forwards: int = 0

    @property
    def accesses(self) -> int:
        """Accesses charged to this level: its lower side (fills are charged to the level above)."""
        return self.reads + self.writes + self.psum_reads

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class MappingCost:
    """Counts per level and operand, energy, MACs, cycles and PE-array utilisation of a mapping."""

    counts: dict[str, dict[str, LevelCounts]]
    energy: EnergyBreakdown
    macs: int
    cycles: int
    utilisation: float
    pes_used: int = 1

    @property
    def memory_accesses(self) -> int:
        return sum(c.accesses for c in self.counts[MEMORY].values())

    def to_dict(self) -> dict:
        return {
            "macs": self.macs, "cycles": self.cycles, "utilisation": self.utilisation,
            "pes_used": self.pes_used, "memory_accesses": self.memory_accesses,
            "energy": self.energy.total, "energy_breakdown": dict(self.energy.energy),
            "accesses_by_level": dict(self.energy.accesses),
            "counts": {level: {op: c.as_dict() for op, c in ops.items()} for level, ops in self.counts.items()},
        }


class _Tally:
    """Mutable per-level, per-operand accumulators turned into LevelCounts at the end."""

    def __init__(self, levels):
        self.data = {level: {op: dict.fromkeys(LevelCounts.__dataclass_fields__, 0) for op in OPERANDS}
                     for level in levels}

    def add(self, level: str, operand: str, key: str, amount: int) -> None:
        self.data[level][operand][key] += int(amount)

    def freeze(self) -> dict[str, dict[str, LevelCounts]]:
        return {level: {op: LevelCounts(**c) for op, c in ops.items()} for level, ops in self.data.items()}


def evaluate(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy, *, checked: bool = True) -> MappingCost:
    """Closed-form counts, energy, cycles and utilisation (InputError when the mapping is invalid;
    ``checked=False`` skips validation for callers that validated already)."""
    if checked:
        check(mapping, layer, hierarchy)
    counts = count_accesses(mapping, layer)
    return _cost(mapping, layer, hierarchy, counts)


def count_accesses(mapping: Mapping, layer: ConvLayer) -> dict[str, dict[str, LevelCounts]]:
    """The closed-form per-level counts of a valid mapping (no validation)."""
    levels = mapping.levels
    flat = _flat_loops(mapping)
    tally = _Tally([level.name for level in levels])
    for operand in OPERANDS:
        chain = [i for i, level in enumerate(levels) if i == 0 or level.stores(operand)]
        for parent, child in zip(chain, chain[1:] + [len(levels)]):
            _count_link(tally, layer, operand, flat, parent, child, [level.name for level in levels])
    return tally.freeze()


def _flat_loops(mapping: Mapping) -> list[tuple[int, bool, str, int, int]]:
    """(level, spatial, dim, factor, stride) outermost first, loops of factor 1 left out; the stride
    is the product of the factors of the same dimension's loops inside."""
    order = [(i, loop.spatial is not None, loop.dim, loop.factor)
             for i, level in enumerate(mapping.levels) for loop in level.temporal + level.spatial
             if loop.factor > 1]
    out, inner = [], dict.fromkeys(LOOP_DIMS, 1)
    for i, spatial, dim, factor in reversed(order):
        out.append((i, spatial, dim, factor, inner[dim]))
        inner[dim] *= factor
    return out[::-1]


def _count_link(tally, layer, operand, flat, parent: int, child: int, names) -> None:
    """Traffic between a level (parent) and the next level below holding the operand (child; the
    MACs when child == number of levels)."""
    relevant = RELEVANT[operand]
    is_mac = child == len(names)
    above_t = [l for l in flat if l[0] < child and not l[1]]
    s_above = [l for l in flat if l[0] < parent and l[1]]
    s_between = [l for l in flat if parent <= l[0] < child and l[1]]
    box = [l for l in flat if l[0] >= child]
    prefix = above_t if is_mac else _through_last_relevant(above_t, relevant)
    irr_t = _product(l[3] for l in prefix if l[2] not in relevant)
    irr_above = _product(l[3] for l in s_above if l[2] not in relevant)
    irr_between = _product(l[3] for l in s_between if l[2] not in relevant)
    per_instance = _lattice_sum(layer, operand, box, flat) * irr_t * irr_above * irr_between
    union = _lattice_sum(layer, operand, box + s_between, flat) * irr_t * irr_above
    p_name, c_name = names[parent], None if is_mac else names[child]
    tally.add(p_name, operand, "forwards", per_instance - union)
    if operand != "output":
        tally.add(p_name, operand, "reads", union)
        if c_name is not None:
            tally.add(c_name, operand, "fills", per_instance)
        return
    fresh = layer.filters * layer.out_height * layer.out_width * dim_extents(layer)["n"]
    tally.add(p_name, operand, "writes", union)
    tally.add(p_name, operand, "psum_reads", union - fresh)
    if c_name is not None:
        tally.add(c_name, operand, "fills", union - fresh)
        tally.add(c_name, operand, "updates", per_instance)


def _lattice_sum(layer, operand, box, flat) -> int:
    inside = {id(l) for l in box}
    as_loops = lambda loops: [(l[2], l[3], l[4]) for l in loops]  # noqa: E731
    return lattice_tile_sum(layer, operand, as_loops(box), as_loops([l for l in flat if id(l) not in inside]))


def _through_last_relevant(loops: list[tuple], relevant) -> list[tuple]:
    """The loops up to and including the innermost one the operand depends on."""
    for k in range(len(loops) - 1, -1, -1):
        if loops[k][2] in relevant:
            return loops[: k + 1]
    return []


def _cost(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy, counts) -> MappingCost:
    accesses = dict.fromkeys(("rf", "inter_pe", "buffer", "dram", "mac"), 0)
    for level, ops in counts.items():
        accesses[ENERGY_LEVEL[level]] += sum(c.accesses for c in ops.values())
        accesses["inter_pe"] += sum(c.forwards for c in ops.values())
    macs = layer.macs
    accesses["mac"] = macs
    cycles = _product(l.factor for level in mapping.levels for l in level.temporal)
    pes = _product(l.factor for level in mapping.levels for l in level.spatial)
    utilisation = macs / (cycles * hierarchy.pes)
    return MappingCost(counts, energy_breakdown(accesses, hierarchy.costs), macs, cycles, utilisation, pes)

