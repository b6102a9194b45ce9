"""Step-by-step simulation of a mapping (the oracle for mapping_eval's closed form).

It walks every temporal iteration of the nest, every PE at each, and keeps at each level, per
operand and instance, the tile it holds as an explicit set of elements (input elements as
(n, channel, real row, real column); padding is never stored). A tile is replaced when the
position of its box in the operand's dimensions changes; outputs carry a literal "touched" set
so that a first touch starts from zero and later visits read partial sums back. Multicast and
spatial reduction are counted as unions of the PEs' element sets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from core.common.limits import MAPPING_SIMULATION_STEPS
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import RELEVANT, Mapping
from core.dataflow.mapping_eval import LevelCounts, _Tally, check


@dataclass(frozen=True)
class _FlatLoop:
    level: int
    dim: str
    factor: int
    stride: int
    spatial: bool


def _flatten(mapping: Mapping) -> list[_FlatLoop]:
    order = [(i, loop) for i, level in enumerate(mapping.levels) for loop in level.temporal + level.spatial]
    out = []
    for k, (i, loop) in enumerate(order):
        stride = 1
        for _, inner in order[k + 1:]:
            if inner.dim == loop.dim:
                stride *= inner.factor
        out.append(_FlatLoop(i, loop.dim, loop.factor, stride, loop.spatial is not None))
    return out


class _Node:
    """One operand at one level below memory: its box, parent and held tile per instance."""

    def __init__(self, level: int, name: str, parent: str, operand: str, loops: list[_FlatLoop]):
        self.level, self.name, self.parent, self.operand = level, name, parent, operand
        self.outside = [k for k, l in enumerate(loops) if l.level < level]
        self.per_pe = any(loops[k].spatial for k in self.outside)
        self.inner: dict[str, int] = {}
        for l in loops:
            if l.level >= level:
                self.inner[l.dim] = self.inner.get(l.dim, 1) * l.factor
        self.held: dict[tuple, tuple[tuple, frozenset]] = {}


def _bases(loops: list[_FlatLoop], indices: dict[int, int], which: list[int]) -> dict[str, int]:
    base = dict.fromkeys("nfcyxrs", 0)
    for k in which:
        base[loops[k].dim] += indices[k] * loops[k].stride
    return base


def _elements(layer: ConvLayer, operand: str, base: dict[str, int], inner: dict[str, int]) -> frozenset:
    """The operand's elements a box at ``base`` touches (input padding excluded)."""
    rng = {d: range(base[d], base[d] + inner.get(d, 1)) for d in "nfcyxrs"}
    if operand == "weight":
        return frozenset(itertools.product(rng["f"], rng["c"], rng["r"], rng["s"]))
    if operand == "output":
        return frozenset(itertools.product(rng["n"], rng["f"], rng["y"], rng["x"]))
    rows = {y * layer.stride - layer.padding + r for y in rng["y"] for r in rng["r"]}
    cols = {x * layer.stride - layer.padding + s for x in rng["x"] for s in rng["s"]}
    rows = [h for h in rows if 0 <= h < layer.height]
    cols = [w for w in cols if 0 <= w < layer.width]
    return frozenset(itertools.product(rng["n"], rng["c"], rows, cols))


def _mac_element(layer: ConvLayer, operand: str, b: dict[str, int]):
    if operand == "weight":
        return (b["f"], b["c"], b["r"], b["s"])
    if operand == "output":
        return (b["n"], b["f"], b["y"], b["x"])
    h = b["y"] * layer.stride - layer.padding + b["r"]
    w = b["x"] * layer.stride - layer.padding + b["s"]
    return (b["n"], b["c"], h, w) if 0 <= h < layer.height and 0 <= w < layer.width else None


class _Simulation:
    def __init__(self, mapping: Mapping, layer: ConvLayer):
        self.layer = layer
        self.loops = _flatten(mapping)
        self.temporal = [k for k, l in enumerate(self.loops) if not l.spatial]
        self.spatial = [k for k, l in enumerate(self.loops) if l.spatial]
        self.names = [level.name for level in mapping.levels]
        self.tally = _Tally(self.names)
        self.touched: set = set()
        self.largest: dict[str, dict[str, int]] = {n: dict.fromkeys(OPERANDS, 0) for n in self.names}
        self.nodes: list[_Node] = []
        self.innermost: dict[str, tuple[str, bool]] = {}
        for operand in OPERANDS:
            holder = (self.names[0], False)
            for i, level in enumerate(mapping.levels[1:], start=1):
                if level.stores(operand):
                    node = _Node(i, level.name, holder[0], operand, self.loops)
                    self.nodes.append(node)
                    holder = (level.name, node.per_pe)
            self.innermost[operand] = holder
        self.nodes.sort(key=lambda n: n.level)

    def run(self) -> dict[str, dict[str, LevelCounts]]:
        pes = list(itertools.product(*(range(self.loops[k].factor) for k in self.spatial)))
        for t in itertools.product(*(range(self.loops[k].factor) for k in self.temporal)):
            index_t = dict(zip(self.temporal, t))
            wanted = {id(node): self._wanted(node, index_t, pes) for node in self.nodes}
            for node in reversed(self.nodes):
                self._evict(node, [key for key, (pos, _) in node.held.items() if wanted[id(node)][key][0] != pos])
            for node in self.nodes:
                self._fill(node, wanted[id(node)])
            self._macs(index_t, pes)
        for node in reversed(self.nodes):
            self._evict(node, list(node.held))
        return self.tally.freeze()

    def _wanted(self, node: _Node, index_t: dict[int, int], pes) -> dict[tuple, tuple[tuple, dict]]:
        """Per instance (PE, or () when the level is shared): the box position the operand needs now."""
        out = {}
        for pe in (pes if node.per_pe else [()]):
            indices = dict(index_t)
            indices.update(zip(self.spatial, pe) if node.per_pe else {})
            base = _bases(self.loops, indices, node.outside)
            position = tuple(base[d] for d in sorted(RELEVANT[node.operand]))
            out[pe] = (position, base)
        return out

    def _evict(self, node: _Node, instances) -> None:
        if not instances:
            return
        tiles = [node.held.pop(i)[1] for i in instances]
        if node.operand != "output":
            return
        union = frozenset().union(*tiles)
        total = sum(len(t) for t in tiles)
        self.tally.add(node.name, "output", "updates", total)
        self.tally.add(node.parent, "output", "writes", len(union))
        self.tally.add(node.parent, "output", "forwards", total - len(union))

    def _fill(self, node: _Node, wanted) -> None:
        new = {}
        for instance, (position, base) in wanted.items():
            if instance not in node.held:
                new[instance] = (position, _elements(self.layer, node.operand, base, node.inner))
        if not new:
            return
        node.held.update(new)
        tiles = [tile for _, tile in new.values()]
        self.largest[node.name][node.operand] = max([self.largest[node.name][node.operand]] + [len(t) for t in tiles])
        union = frozenset().union(*tiles)
        if node.operand == "output":
            back = sum(1 for e in union if e in self.touched)
            self.tally.add(node.parent, "output", "psum_reads", back)
            self.tally.add(node.name, "output", "fills", back)
            return
        total = sum(len(t) for t in tiles)
        self.tally.add(node.name, node.operand, "fills", total)
        self.tally.add(node.parent, node.operand, "reads", len(union))
        self.tally.add(node.parent, node.operand, "forwards", total - len(union))

    def _macs(self, index_t: dict[int, int], pes) -> None:
        every = list(range(len(self.loops)))
        per_op = {op: [] for op in OPERANDS}
        for pe in pes:
            indices = dict(index_t)
            indices.update(zip(self.spatial, pe))
            b = _bases(self.loops, indices, every)
            for op in OPERANDS:
                element = _mac_element(self.layer, op, b)
                if element is not None:
                    per_op[op].append(element)
        for op in OPERANDS:
            level, per_pe = self.innermost[op]
            groups = [[e] for e in per_op[op]] if per_pe else [per_op[op]]  # one group per holder instance
            for group in groups:
                self._mac_group(level, op, group)

    def _mac_group(self, level: str, op: str, elements: list) -> None:
        """The MACs served by one instance of ``level`` at one step: a multicast / a reduction."""
        union = set(elements)
        self.tally.add(level, op, "forwards", len(elements) - len(union))
        if op != "output":
            self.tally.add(level, op, "reads", len(union))
            return
        self.tally.add(level, op, "psum_reads", sum(1 for e in union if e in self.touched))
        self.tally.add(level, op, "writes", len(union))
        self.touched.update(union)


def simulated_tile_sizes(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy) -> dict[str, dict[str, int]]:
    """The largest tile each level held per operand during the simulation (memory: the operand)."""
    check(mapping, layer, hierarchy)
    MAPPING_SIMULATION_STEPS.check(layer.macs, f"simulating the mapping of a {layer.describe()} layer")
    sim = _Simulation(mapping, layer)
    sim.run()
    sim.largest[sim.names[0]] = {op: layer.operand_size(op) for op in OPERANDS}
    return sim.largest


def simulate_mapping(mapping: Mapping, layer: ConvLayer, hierarchy: Hierarchy) -> dict[str, dict[str, LevelCounts]]:
    """Counts per level and operand by walking the nest step by step (small layers: bounded by
    the MAPPING_SIMULATION_STEPS limit); InputError when the mapping is invalid."""
    check(mapping, layer, hierarchy)
    MAPPING_SIMULATION_STEPS.check(layer.macs, f"simulating the mapping of a {layer.describe()} layer")
    return _Simulation(mapping, layer).run()
