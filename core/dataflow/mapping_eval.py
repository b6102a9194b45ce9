"""Closed-form counts per level and operand, energy, cycles and utilisation of a mapping (validation
in mapping_check, re-exported here).

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

from dataclasses import asdict, dataclass

from core.dataflow.energy import LEVELS, EnergyBreakdown
from core.dataflow.hierarchy import ENERGY_LEVEL, MEMORY, Hierarchy
from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import LOOP_DIMS, RELEVANT, Mapping
from core.dataflow.mapping_check import Overflow, check, is_valid, tile_sizes, validate
from core.dataflow.mapping_tiles import lattice_tile_sum, product

__all__ = ["MAPPING_ASSUMPTIONS", "LevelCounts", "MappingCost", "Overflow", "check", "count_accesses",
           "evaluate", "is_valid", "tile_sizes", "validate"]

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
    "Cycles: one iteration of all temporal loops per cycle, every PE busy in lockstep, no stalls; "
    "compute cycles = product of the temporal factors. With a memory bandwidth of B elements per "
    "cycle, cycles = max(compute cycles, ⌈memory accesses / B⌉) (transfers overlap computation "
    "perfectly, as with double buffering; on-chip bandwidth is not modelled); without one, cycles = "
    "compute cycles. Utilisation = MACs / (cycles × PE rows × PE columns).",
)


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
    compute_cycles: int = 0
    memory_cycles: int = 0

    @property
    def memory_accesses(self) -> int:
        return sum(c.accesses for c in self.counts[MEMORY].values())

    def to_dict(self) -> dict:
        return {
            "macs": self.macs, "cycles": self.cycles, "utilisation": self.utilisation,
            "pes_used": self.pes_used, "compute_cycles": self.compute_cycles,
            "memory_cycles": self.memory_cycles, "memory_accesses": self.memory_accesses,
            "energy": self.energy.total, "energy_breakdown": dict(self.energy.energy),
            "accesses_by_level": dict(self.energy.accesses),
            "counts": {level: {op: c.as_dict() for op, c in ops.items()} for level, ops in self.counts.items()},
        }


class _Tally:
    """Mutable per-level, per-operand accumulators turned into LevelCounts at the end."""

    def __init__(self, levels):
        self.data = {level: {op: [0, 0, 0, 0, 0, 0] for op in OPERANDS} for level in levels}

    def add(self, level: str, operand: str, key: str, amount: int) -> None:
        self.data[level][operand][_FIELD[key]] += int(amount)

    def freeze(self) -> dict[str, dict[str, LevelCounts]]:
        return {level: {op: LevelCounts(*c) for op, c in ops.items()} for level, ops in self.data.items()}


_FIELD = {name: i for i, name in enumerate(LevelCounts.__dataclass_fields__)}


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
    names = [level.name for level in levels]
    tally = _Tally(names)
    for operand in OPERANDS:
        chain = [i for i, level in enumerate(levels) if i == 0 or level.stores(operand)]
        for parent, child in zip(chain, chain[1:] + [len(levels)]):
            per_instance, union = _link_volumes(layer, operand, flat, parent, child, child == len(levels))
            _tally_link(tally, layer, operand, names[parent], names[child] if child < len(levels) else None,
                        per_instance, union)
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


def _link_volumes(layer, operand, flat, parent: int, child: int, is_mac: bool) -> tuple[int, int]:
    """(elements delivered to every instance of the child, elements the parent sends once per group
    of PEs) between a level and the next one below holding the operand (or the MACs)."""
    relevant = RELEVANT[operand]
    above_t = [l for l in flat if l[0] < child and not l[1]]
    prefix = above_t if is_mac else _through_last_relevant(above_t, relevant)
    irr_t = product(l[3] for l in prefix if l[2] not in relevant)
    irr_above = irr_between = 1
    between = []
    for l in flat:
        if l[1] and l[0] < child:
            if l[0] >= parent:
                between.append(l)
                irr_between *= 1 if l[2] in relevant else l[3]
            elif l[2] not in relevant:
                irr_above *= l[3]
    if operand != "input":  # no halo: every position of any box sums to the whole operand
        whole = layer.operand_size(operand)
        return whole * irr_t * irr_above * irr_between, whole * irr_t * irr_above
    box = [l for l in flat if l[0] >= child]
    per_instance = _input_sum(layer, box, flat) * irr_t * irr_above * irr_between
    union = _input_sum(layer, box + between, flat) * irr_t * irr_above
    return per_instance, union


def _tally_link(tally, layer, operand, parent: str, child: str | None, per_instance: int, union: int) -> None:
    tally.add(parent, operand, "forwards", per_instance - union)
    if operand != "output":
        tally.add(parent, operand, "reads", union)
        if child is not None:
            tally.add(child, operand, "fills", per_instance)
        return
    fresh = layer.operand_size("output")
    tally.add(parent, operand, "writes", union)
    tally.add(parent, operand, "psum_reads", union - fresh)
    if child is not None:
        tally.add(child, operand, "fills", union - fresh)
        tally.add(child, operand, "updates", per_instance)


def _input_sum(layer, box, flat) -> int:
    inside = set(map(id, box))
    rest = [(l[2], l[3], l[4]) for l in flat if id(l) not in inside]
    return lattice_tile_sum(layer, "input", [(l[2], l[3], l[4]) for l in box], rest)


def _through_last_relevant(loops: list[tuple], relevant) -> list[tuple]:
    """The loops up to and including the innermost one the operand depends on."""
    for k in range(len(loops) - 1, -1, -1):
        if loops[k][2] in relevant:
            return loops[: k + 1]
    return []


def _cost(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy, counts) -> MappingCost:
    accesses = dict.fromkeys(LEVELS, 0)
    for level, ops in counts.items():
        accesses[ENERGY_LEVEL[level]] += sum(c.reads + c.writes + c.psum_reads for c in ops.values())
        accesses["inter_pe"] += sum(c.forwards for c in ops.values())
    macs = layer.macs
    accesses["mac"] = macs
    compute = product(l.factor for level in mapping.levels for l in level.loops if l.spatial is None)
    bandwidth = hierarchy.memory_bandwidth
    memory = 0 if bandwidth is None else -(-accesses["dram"] // bandwidth)
    cycles = max(compute, memory)
    pes = product(l.factor for level in mapping.levels for l in level.loops if l.spatial is not None)
    utilisation = macs / (cycles * hierarchy.pes)
    per_access = {level: getattr(hierarchy.costs, level) for level in LEVELS}
    energy = EnergyBreakdown(accesses, per_access, {level: accesses[level] * per_access[level] for level in LEVELS})
    return MappingCost(counts, energy, macs, cycles, utilisation, pes, compute, memory)
