"""The animation's trace of a mapping (core.dataflow.mapping_trace) moves exactly what the
step-by-step simulation of the mapping (simulate_mapping, the oracle) counts between memory
and the buffer, element by element and coarsened; and mappings the nest cannot express are
refused with a reason."""

from __future__ import annotations

import random

import pytest

from core.common.errors import InputError
from core.dataflow import (Buffers, ConvLayer, PEArray, dim_extents, simulate_mapping, textbook_mapping,
                           tile_sizes)
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import OPERANDS
from core.dataflow.mapping import MapLevel, MapLoop, Mapping
from core.dataflow.mapping_trace import mapping_nest, mapping_trace


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def random_case(rng: random.Random):
    """A small layer and a valid mapping (any memory loops: kernel loops, several loops of one
    dimension, factor-1 loops), capacities just big enough."""
    layer = ConvLayer(rng.randint(3, 7), rng.randint(3, 7), rng.randint(1, 4), rng.randint(1, 3),
                      rng.randint(1, 4), rng.randint(1, 2), rng.randint(0, 1))
    extents = dim_extents(layer)
    memory, buffer, registers = [], [], []
    use_registers = rng.random() < 0.4
    for dim, extent in extents.items():
        outer = rng.choice(divisors(extent))
        if outer > 1 and rng.random() < 0.3 and len(divisors(outer)) > 2:  # two memory loops of dim
            first = rng.choice(divisors(outer)[1:-1])
            memory += [MapLoop(dim, first), MapLoop(dim, outer // first)]
        elif outer > 1 or rng.random() < 0.2:
            memory.append(MapLoop(dim, outer))
        rest = extent // outer
        low = rng.choice(divisors(rest)) if use_registers else 1
        if rest // low > 1:
            spatial = rng.choice([None, None, "rows", "cols"]) if rest // low <= 4 else None
            buffer.append(MapLoop(dim, rest // low, spatial))
        if low > 1:
            registers.append(MapLoop(dim, low))
    for loops in (memory, buffer, registers):
        rng.shuffle(loops)
    levels = [MapLevel("memory", tuple(memory)), MapLevel("buffer", tuple(buffer))]
    if use_registers:
        levels.append(MapLevel("registers", tuple(registers),
                               frozenset(op for op in OPERANDS if rng.random() < 0.3)))
    mapping = Mapping(tuple(levels), "random")
    sizes = tile_sizes(mapping, layer)
    fit = lambda level: Buffers(*(max(1, sizes[level][op]) for op in OPERANDS))  # noqa: E731
    hierarchy = Hierarchy(fit("buffer"), PEArray(16, 16), fit("registers") if use_registers else None)
    return layer, mapping, hierarchy


def memory_traffic(trace) -> dict[str, int]:
    t = trace.totals()
    return {"input": t.get(("input", "read"), 0), "weight": t.get(("weight", "read"), 0),
            "psum reads": t.get(("output", "read"), 0), "output writes": t.get(("output", "write"), 0)}


def simulated_traffic(mapping, layer, hierarchy) -> dict[str, int]:
    memory = simulate_mapping(mapping, layer, hierarchy)["memory"]
    return {"input": memory["input"].reads, "weight": memory["weight"].reads,
            "psum reads": memory["output"].psum_reads, "output writes": memory["output"].writes}


@pytest.mark.parametrize("seed", range(60))
def test_the_trace_moves_what_the_simulation_counts(seed):
    layer, mapping, hierarchy = random_case(random.Random(seed))
    expected = simulated_traffic(mapping, layer, hierarchy)
    element = mapping_trace(mapping, layer, hierarchy)
    assert element.trace.element_level
    assert memory_traffic(element.trace) == expected
    # every output starts from zero exactly once
    allocs = element.trace.totals().get(("output", "alloc"), 0)
    assert allocs == layer.operand_size("output")
    # every element read lies in the operand
    ev = element.trace.events
    for code, op in enumerate(OPERANDS):
        addr = ev[ev[:, 1] == code, 3]
        assert addr.min(initial=0) >= 0 and addr.max(initial=0) < layer.operand_size(op)
    try:
        mapping_nest(mapping, layer)
    except InputError:
        return  # kernel loops or repeated dimensions at the memory level: element level only
    coarse = mapping_trace(mapping, layer, hierarchy, max_events=5)
    assert memory_traffic(coarse.trace) == expected


@pytest.mark.parametrize("dataflow", ["ws", "is", "os", "rs"])
def test_textbook_mappings_animate_with_their_simulated_counts(dataflow):
    layer = ConvLayer(6, 7, 4, 3, 4)
    hierarchy = Hierarchy(Buffers(200, 36, 30), PEArray(4, 4))
    mapping = textbook_mapping(dataflow, layer, hierarchy)
    traced = mapping_trace(mapping, layer, hierarchy)
    assert memory_traffic(traced.trace) == simulated_traffic(mapping, layer, hierarchy)
    nest = traced.result.nest
    assert [line.kind for line in nest.lines].count("loop") == len(nest.loops)
    assert any("buffer" in line.text for line in nest.lines if line.kind == "compute")


def test_mappings_the_animation_cannot_show_say_why():
    layer = ConvLayer(6, 6, 2, 3, 2)
    e = dim_extents(layer)
    inner = MapLevel("buffer", (MapLoop("f", e["f"]), MapLoop("c", e["c"]), MapLoop("y", e["y"]),
                                MapLoop("x", e["x"])))
    hierarchy = Hierarchy(Buffers(200, 200, 200))
    kernel_outside = Mapping((MapLevel("memory", (MapLoop("r", 3), MapLoop("s", 3))), inner))
    assert mapping_trace(kernel_outside, layer, hierarchy).trace.element_level  # small: fine
    with pytest.raises(InputError, match="kernel windows"):
        mapping_trace(kernel_outside, layer, hierarchy, max_events=5)  # too big: cannot coarsen
    twice = Mapping((MapLevel("memory", (MapLoop("f", 1), MapLoop("y", 2), MapLoop("y", 2))),
                     MapLevel("buffer", (MapLoop("f", 2), MapLoop("c", 2), MapLoop("x", 4),
                                         MapLoop("r", 3), MapLoop("s", 3)))))
    with pytest.raises(InputError, match="at most one y loop"):
        mapping_nest(twice, layer)
    bypass = Mapping((MapLevel("memory", ()), MapLevel("buffer", inner.loops + (MapLoop("r", 3), MapLoop("s", 3)),
                                                       frozenset({"weight"}))))
    with pytest.raises(InputError, match="bypassing the buffer"):
        mapping_trace(bypass, layer, hierarchy)
