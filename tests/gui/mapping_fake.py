"""A tiny stand-in for the mapping API of issue 17 (core.dataflow.mapping, hierarchy,
mapping_eval, textbook, mapper), installed into sys.modules only where the real modules are
missing, so the Mapping tab's tests run before the real model is merged. Its numbers are
deliberately simple: the tests take evaluate() as the oracle, whichever module provides it."""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass, field, replace
from math import prod

from core.common.errors import InputError
from core.dataflow.energy import EnergyCosts, energy_breakdown
from core.dataflow.layer import OPERANDS, Buffers, PEArray

LOOP_DIMS = ("n", "f", "c", "y", "x", "r", "s")
RELEVANT = {"input": {"n", "c", "y", "x", "r", "s"}, "weight": {"f", "c", "r", "s"},
            "output": {"n", "f", "y", "x"}}


def DIM_EXTENTS(layer):  # noqa: N802 - the API's name
    return {"n": 1, "f": layer.filters, "c": layer.channels, "y": layer.out_height,
            "x": layer.out_width, "r": layer.kernel, "s": layer.kernel}


@dataclass(frozen=True)
class MapLoop:
    dim: str
    factor: int
    spatial: str | None = None


@dataclass(frozen=True)
class MapLevel:
    name: str
    loops: tuple = ()
    bypass: frozenset = frozenset()


@dataclass(frozen=True)
class Mapping:
    levels: tuple
    name: str = ""

    def to_dict(self):
        return {"name": self.name, "levels": [
            {"name": lv.name, "bypass": sorted(lv.bypass),
             "loops": [{"dim": l.dim, "factor": l.factor, "spatial": l.spatial} for l in lv.loops]}
            for lv in self.levels]}

    @classmethod
    def from_dict(cls, data):
        try:
            return cls(tuple(MapLevel(lv["name"], tuple(MapLoop(l["dim"], int(l["factor"]), l.get("spatial"))
                                                      for l in lv["loops"]), frozenset(lv.get("bypass", ())))
                             for lv in data["levels"]), data.get("name", ""))
        except (KeyError, TypeError) as exc:
            raise InputError(f"mapping: missing field {exc}") from exc

    def factor_product(self):
        return {d: prod(l.factor for lv in self.levels for l in lv.loops if l.dim == d) for d in LOOP_DIMS}

    def lines(self):
        out, depth = [], 0
        for lv in self.levels:
            for l in lv.loops:
                kind = f"  # {lv.name}" + (f", parallel over PE {l.spatial}" if l.spatial else "")
                out.append("  " * depth + f"for {l.dim} in 0..{l.factor}:{kind}")
                depth += 1
        out.append("  " * depth + "MAC")
        return out


@dataclass(frozen=True)
class Hierarchy:
    buffers: Buffers
    pe: PEArray = PEArray()
    registers: Buffers | None = None
    costs: EnergyCosts = EnergyCosts()

    @property
    def level_names(self):
        return ("memory", "buffer") + (("registers",) if self.registers else ())

    def capacity(self, level, operand):
        if level == "memory":
            return None
        if level not in self.level_names:
            raise InputError(f"level: {level!r} is not in this hierarchy")
        return (self.buffers if level == "buffer" else self.registers).capacity(operand)


@dataclass(frozen=True)
class Overflow:
    level: str
    operand: str
    needed: int
    capacity: int
    message: str


@dataclass(frozen=True)
class LevelCounts:
    reads: int
    writes: int
    fills: int
    psum_reads: int
    updates: int = 0


@dataclass(frozen=True)
class MappingCost:
    counts: dict
    energy: object
    macs: int
    cycles: int
    utilisation: float

    @property
    def memory_accesses(self):
        return sum(c.reads + c.writes for c in self.counts["memory"].values())


def tile_sizes(mapping, layer, hierarchy):
    out = {}
    for k, lv in enumerate(mapping.levels):
        inner = [l for lower in mapping.levels[k:] for l in lower.loops]
        out[lv.name] = {op: prod(l.factor for l in inner if l.dim in RELEVANT[op]) for op in OPERANDS}
    return out


def validate(mapping, layer, hierarchy):
    problems = []
    got, want = mapping.factor_product(), DIM_EXTENTS(layer)
    for d in LOOP_DIMS:
        if got[d] != want[d]:
            problems.append(f"{d}: the factors multiply to {got[d]}, not {want[d]}")
    unknown = [lv.name for lv in mapping.levels if lv.name not in hierarchy.level_names]
    if unknown:
        return problems + [f"level {unknown[0]}: not in this hierarchy"]
    for level, sizes in tile_sizes(mapping, layer, hierarchy).items():
        for op, needed in sizes.items():
            cap = hierarchy.capacity(level, op)
            if cap is not None and needed > cap:
                problems.append(Overflow(level, op, needed, cap,
                                         f"{level} level, {op}: the tile needs {needed:,} elements but "
                                         f"the {op} buffer holds {cap:,} (over by {needed - cap:,})"))
    return problems


def evaluate(mapping, layer, hierarchy):
    sizes = tile_sizes(mapping, layer, hierarchy)
    counts = {}
    for k, lv in enumerate(mapping.levels):
        outer = [l for upper in mapping.levels[:k + 1] for l in upper.loops]
        counts[lv.name] = {}
        for op in OPERANDS:
            trips = prod(l.factor for l in outer)
            counts[lv.name][op] = LevelCounts(reads=sizes[lv.name][op] * max(1, trips // 4),
                                              writes=sizes[lv.name][op] if op == "output" else 0,
                                              fills=sizes[lv.name][op], psum_reads=0)
    dram = sum(c.reads + c.writes for c in counts["memory"].values())
    energy = energy_breakdown({"dram": dram, "buffer": dram * 2, "mac": layer.macs}, hierarchy.costs)
    spatial = prod(l.factor for lv in mapping.levels for l in lv.loops if l.spatial)
    cycles = layer.macs // max(1, spatial)
    return MappingCost(counts, energy, layer.macs, cycles, layer.macs / (cycles * hierarchy.pe.rows * hierarchy.pe.cols))


def textbook_mapping(dataflow, layer, hierarchy):
    e = DIM_EXTENTS(layer)
    memory = MapLevel("memory", tuple(MapLoop(d, e[d]) for d in ("f", "c", "y", "x") if e[d] > 1))
    buffer = MapLevel("buffer", (MapLoop("r", e["r"]), MapLoop("s", e["s"])))
    return Mapping((memory, buffer), f"textbook {dataflow}")


@dataclass(frozen=True)
class SearchProgress:
    evaluated: int
    total: int | None
    best: float | None


@dataclass(frozen=True)
class SearchResult:
    best: object
    cost: object
    pareto: tuple
    evaluated: int
    space_size: int | None
    objective: str
    seconds: float


OBJECTIVES = ("accesses", "energy", "cycles")


def search_steps(layer, hierarchy, dataflow=None, objective="energy", stop=lambda: False):
    # Whichever modules are installed (real or fake) build and evaluate the candidates.
    evaluate = sys.modules["core.dataflow.mapping_eval"].evaluate
    base = sys.modules["core.dataflow.textbook"].textbook_mapping("ws", layer, hierarchy)
    found = []
    memory = base.levels[0]
    for i in range(len(memory.loops)):
        loops = memory.loops[i:] + memory.loops[:i]
        m = replace(base, levels=(replace(memory, loops=loops),) + base.levels[1:], name=f"rotation {i}")
        if stop():
            return
        found.append((m, evaluate(m, layer, hierarchy)))
        yield SearchProgress(i + 1, len(memory.loops), None)
    best = min(found, key=lambda mc: mc[1].energy.total)
    pareto = tuple(sorted(found, key=lambda mc: mc[1].cycles)[:3])
    yield SearchResult(best[0], best[1], pareto, len(found), len(found), objective, 0.01)


def install() -> None:
    """Put the fake modules where the real ones are missing."""
    this = sys.modules[__name__]
    for name in ("mapping", "hierarchy", "mapping_eval", "textbook", "mapper"):
        full = f"core.dataflow.{name}"
        try:
            importlib.import_module(full)
            continue
        except ImportError:
            pass
        module = types.ModuleType(full)
        module.__dict__.update({k: v for k, v in vars(this).items() if not k.startswith("__")})
        sys.modules[full] = module
        setattr(importlib.import_module("core.dataflow"), name, module)
