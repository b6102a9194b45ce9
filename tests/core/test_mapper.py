"""The mapper: exhaustive search against an independent brute force, pruned against exhaustive,
the Pareto front, dataflow constraints against their textbook mappings, stop and progress."""

from __future__ import annotations

import functools
import itertools
import math

import pytest

from core.common.errors import InputError
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import Buffers, ConvLayer, PEArray
from core.dataflow.mapper import (OBJECTIVES, SearchProgress, SearchResult, objective_key, search,
                                  search_steps, space_size)
from core.dataflow.mapping import LOOP_DIMS, MapLevel, MapLoop, Mapping, dim_extents
from core.dataflow.mapping_eval import evaluate, validate
from core.dataflow.textbook import dataflow_allows, textbook_mapping

SMALL = [  # (layer, hierarchy): spaces of at most ~30,000 mappings
    (ConvLayer(4, 4, 2, 3, 2), Hierarchy(Buffers(18, 18, 4), PEArray(2, 2))),
    (ConvLayer(5, 5, 2, 3, 4, 1, 1), Hierarchy(Buffers(20, 12, 6), PEArray(2, 2))),
    (ConvLayer(6, 6, 2, 3, 2, 2, 1), Hierarchy(Buffers(20, 12, 6), PEArray(3, 2))),
    (ConvLayer(4, 4, 4, 1, 4), Hierarchy(Buffers(8, 8, 8), PEArray(2, 2))),
]


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _factor_slots(extent, slots):
    """Every way to write ``extent`` as a product over ``slots`` ordered factors."""
    if slots == 1:
        yield (extent,)
        return
    for d in _divisors(extent):
        for rest in _factor_slots(extent // d, slots - 1):
            yield (d,) + rest


def brute_force(layer, hierarchy):
    """Every two-level mapping (memory, buffer) the mapper's space defines, written independently:
    each dim's extent spread over (memory, buffer, PE rows, PE cols); at most two dims per PE axis,
    none on both; every order of each level's loops. Yields (mapping, cost or None when invalid)."""
    assert hierarchy.registers is None
    ext = dim_extents(layer)
    per_dim = {d: list(_factor_slots(ext[d], 4)) for d in LOOP_DIMS}
    for choice in itertools.product(*(per_dim[d] for d in LOOP_DIMS)):
        split = dict(zip(LOOP_DIMS, choice))
        rows = [d for d in LOOP_DIMS if split[d][2] > 1]
        cols = [d for d in LOOP_DIMS if split[d][3] > 1]
        if len(rows) > 2 or len(cols) > 2 or set(rows) & set(cols):
            continue
        if math.prod(split[d][2] for d in rows) > hierarchy.pe.rows:
            continue
        if math.prod(split[d][3] for d in cols) > hierarchy.pe.cols:
            continue
        spatial = tuple(MapLoop(d, split[d][2], "rows") for d in rows) + tuple(
            MapLoop(d, split[d][3], "cols") for d in cols)
        mem = [d for d in LOOP_DIMS if split[d][0] > 1]
        buf = [d for d in LOOP_DIMS if split[d][1] > 1]
        for mem_order in itertools.permutations(mem):
            for buf_order in itertools.permutations(buf):
                mapping = Mapping((
                    MapLevel("memory", tuple(MapLoop(d, split[d][0]) for d in mem_order)),
                    MapLevel("buffer", tuple(MapLoop(d, split[d][1]) for d in buf_order) + spatial)))
                yield mapping, (None if validate(mapping, layer, hierarchy) else evaluate(mapping, layer, hierarchy))


@functools.lru_cache(maxsize=None)
def everything_of(case):
    layer, hierarchy = SMALL[case]
    return tuple(brute_force(layer, hierarchy))


@pytest.mark.parametrize("case", [0, 2])
def test_exhaustive_search_equals_brute_force_minimum(case):
    layer, hierarchy = SMALL[case]
    everything = everything_of(case)
    valid = [cost for _m, cost in everything if cost is not None]
    assert space_size(layer, hierarchy) == len(everything)
    for objective in OBJECTIVES:
        result = search(layer, hierarchy, objective=objective, exhaustive=True)
        assert result.exhaustive and result.evaluated == len(valid)
        assert objective_key(result.cost, objective) == min(objective_key(c, objective) for c in valid)
        # the reported cost is the mapping's own
        assert evaluate(result.best, layer, hierarchy).energy.total == result.cost.energy.total


@pytest.mark.parametrize("case", range(len(SMALL)))
def test_pruned_search_finds_the_brute_force_best(case):
    layer, hierarchy = SMALL[case]
    valid = [(m, c) for m, c in everything_of(case) if c is not None]
    for dataflow in (None, "ws", "os", "is", "rs"):
        allowed = [c for m, c in valid if dataflow is None or dataflow_allows(dataflow, m)]
        for objective in OBJECTIVES:
            if not allowed:
                with pytest.raises(InputError, match="no mapping that"):
                    search(layer, hierarchy, dataflow, objective, exhaustive=False)
                continue
            pruned = search(layer, hierarchy, dataflow, objective, exhaustive=False)
            assert not pruned.exhaustive and pruned.evaluated < len(allowed)
            best = min(objective_key(c, objective)[0] for c in allowed)
            assert objective_key(pruned.cost, objective)[0] == best, (objective, dataflow)


def _dominates(a, b):
    return (a.energy.total <= b.energy.total and a.cycles <= b.cycles
            and (a.energy.total, a.cycles) != (b.energy.total, b.cycles))


@pytest.mark.parametrize("bandwidth", [None, 2])
def test_pareto_front_is_non_dominated_and_holds_each_objectives_best(bandwidth):
    layer = ConvLayer(5, 5, 2, 3, 4, 1, 1)
    hierarchy = Hierarchy(Buffers(20, 12, 6), PEArray(2, 2), memory_bandwidth=bandwidth)
    result = search(layer, hierarchy, objective="energy", exhaustive=True)
    front = [cost for _m, cost in result.pareto]
    assert front and all(not _dominates(a, b) for a in front for b in front)
    for mapping, cost in result.pareto:
        assert evaluate(mapping, layer, hierarchy).cycles == cost.cycles
    fastest = search(layer, hierarchy, objective="cycles", exhaustive=True)
    assert min(c.energy.total for c in front) == result.cost.energy.total
    assert min(c.cycles for c in front) == fastest.cost.cycles
    if bandwidth is None:  # every mapping of the space is dominated by (or equal to) a point of the front
        assert (layer, hierarchy) == SMALL[1]
        for cost in (c for _m, c in everything_of(1) if c is not None):
            assert any(f.energy.total <= cost.energy.total and f.cycles <= cost.cycles for f in front)


RESNETISH = [ConvLayer(14, 14, 32, 3, 32, 1, 1), ConvLayer(28, 28, 16, 1, 32, 2, 0), ConvLayer(9, 9, 8, 3, 16)]


@pytest.mark.parametrize("layer", RESNETISH)
@pytest.mark.parametrize("dataflow", ["ws", "is", "os", "rs"])
def test_best_within_a_dataflow_is_never_worse_than_its_textbook_mapping(layer, dataflow):
    hierarchy = Hierarchy(Buffers(512, 512, 128), PEArray(12, 14))
    textbook = textbook_mapping(dataflow, layer, hierarchy)
    assert validate(textbook, layer, hierarchy) == []
    base = evaluate(textbook, layer, hierarchy)
    for objective in OBJECTIVES:
        result = search(layer, hierarchy, dataflow, objective)
        assert dataflow_allows(dataflow, result.best)
        assert validate(result.best, layer, hierarchy) == []
        assert objective_key(result.cost, objective) <= objective_key(base, objective)


def test_search_steps_report_progress_and_end_with_the_result():
    layer = ConvLayer(28, 28, 64, 3, 64, 1, 1)
    hierarchy = Hierarchy(Buffers(1024, 1024, 256))
    items = list(search_steps(layer, hierarchy, None, "accesses"))
    assert isinstance(items[-1], SearchResult)
    assert all(isinstance(i, SearchProgress) for i in items[:-1])
    evaluated = [i.evaluated for i in items[:-1]]
    assert evaluated == sorted(evaluated) and all(e <= items[-1].evaluated for e in evaluated)
    result = items[-1]
    assert result.space_size > 10 ** 6 and not result.exhaustive and result.evaluated < 20_000


def test_stop_callback_ends_the_search_early():
    layer = ConvLayer(28, 28, 64, 3, 64, 1, 1)
    hierarchy = Hierarchy(Buffers(1024, 1024, 256))
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 50

    items = list(search_steps(layer, hierarchy, stop=stop))
    result = items[-1]
    assert result.stopped and result.evaluated <= 51
    full = search(layer, hierarchy)
    assert full.evaluated > 10 * result.evaluated
    with pytest.raises(InputError, match="stopped before"):
        list(search_steps(layer, hierarchy, stop=lambda: True))


def test_errors_name_what_is_allowed():
    layer = ConvLayer(6, 6, 4, 3, 4)
    with pytest.raises(InputError, match="objective: 'speed' is not known"):
        search(layer, Hierarchy(Buffers(64, 64, 64)), objective="speed")
    with pytest.raises(InputError, match="dataflow: 'xs' is not known"):
        search(layer, Hierarchy(Buffers(64, 64, 64)), dataflow="xs")
    with pytest.raises(InputError, match="no mapping fits these buffers"):
        search(layer, Hierarchy(Buffers(2, 2, 2)))


def test_registers_and_bypass_are_searched():
    layer = ConvLayer(4, 4, 2, 3, 2)
    hierarchy = Hierarchy(Buffers(18, 18, 4), PEArray(2, 2), registers=Buffers(3, 3, 2))
    result = search(layer, hierarchy, objective="energy")
    assert [level.name for level in result.best.levels] == ["memory", "buffer", "registers"]
    assert validate(result.best, layer, hierarchy) == []
    without = search(layer, Hierarchy(Buffers(18, 18, 4), PEArray(2, 2)), objective="energy")
    # registers only add options (bypassing all of them is the two-level space) and cheaper accesses
    assert result.cost.energy.total <= without.cost.energy.total
