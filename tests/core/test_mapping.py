"""Mappings: JSON, validation messages, closed-form counts against the step-by-step simulation on random
valid mappings, textbook nests against analyse(), dataflow constraints and the issue's example."""

from __future__ import annotations

import json
import random

import pytest

from core.common.errors import InputError
from core.dataflow import (
    DATAFLOWS,
    OPERANDS,
    Buffers,
    ConvLayer,
    EnergyCosts,
    Hierarchy,
    MapLevel,
    MapLoop,
    Mapping,
    PEArray,
    analyse,
    build_nest,
    check,
    dataflow_allows,
    dim_extents,
    evaluate,
    is_valid,
    read_mapping,
    simulate_mapping,
    textbook_mapping,
    tile_sizes,
    validate,
    write_mapping,
)
from core.dataflow.mapping_sim import simulated_tile_sizes
from core.dataflow.mapping_tiles import inner_extents, largest_tile, span_stats

REF_LAYER = ConvLayer(height=6, width=7, channels=9, kernel=3, filters=1)


def _loops(*spec):
    return tuple(MapLoop(*s) if isinstance(s, tuple) else MapLoop(s[0], int(s[1:])) for s in spec)


def _ws_reference() -> Mapping:
    return Mapping((MapLevel("memory", _loops(("c", 9), ("y", 4), ("x", 5))),
                    MapLevel("buffer", _loops(("r", 3), ("s", 3)))), "ws")


# -- random valid mappings ------------------------------------------------------------------
def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def random_layer(rng: random.Random) -> ConvLayer:
    while True:
        k = rng.choice([1, 2, 3])
        pad = rng.choice([0, 0, 1, 2]) if k > 1 else 0
        layer = ConvLayer(height=rng.randint(k, 7), width=rng.randint(k, 7), channels=rng.randint(1, 4),
                          kernel=k, filters=rng.randint(1, 4), stride=rng.choice([1, 1, 2, 3]), padding=pad)
        if layer.macs <= 6000:
            return layer


def random_mapping(rng: random.Random, layer: ConvLayer, registers: bool) -> tuple[Mapping, Hierarchy]:
    """A random factorisation, order, spatial unrolling and bypass, with capacities that just fit."""
    slots = ["memory", "buffer", "rows", "cols"] + (["registers"] if registers else [])
    placed: dict[str, list[MapLoop]] = {s: [] for s in slots}
    for dim, extent in dim_extents(layer).items():
        per_slot: dict[str, list[int]] = {}
        for p in _prime_factors(extent):
            per_slot.setdefault(rng.choice(slots), []).append(p)
        for slot, primes in per_slot.items():
            spatial = slot if slot in ("rows", "cols") else None
            if rng.random() < 0.3 and len(primes) > 1:  # two loops of one dimension in one level
                placed[slot] += [MapLoop(dim, primes[0], spatial), MapLoop(dim, _prod(primes[1:]), spatial)]
            else:
                placed[slot].append(MapLoop(dim, _prod(primes), spatial))
        if rng.random() < 0.2:
            placed[rng.choice(["memory", "buffer"])].append(MapLoop(dim, 1))
    buffer = placed["buffer"] + placed["rows"] + placed["cols"]  # spatial loops anywhere in the list
    for loops in list(placed.values()) + [buffer]:
        rng.shuffle(loops)
    levels = [MapLevel("memory", tuple(placed["memory"])),
              MapLevel("buffer", tuple(buffer),
                       frozenset(op for op in OPERANDS if rng.random() < 0.25))]
    if registers:
        levels.append(MapLevel("registers", tuple(placed["registers"]),
                               frozenset(op for op in OPERANDS if rng.random() < 0.3)))
    mapping = Mapping(tuple(levels), "random")
    need = []
    for i in range(1, len(levels)):
        inner = inner_extents([l for lv in levels[i:] for l in lv.loops])
        need.append(Buffers(*(largest_tile(layer, op, inner) + rng.choice([0, 0, 3]) for op in OPERANDS)))
    pe = PEArray(_prod(l.factor for l in placed["rows"]) + rng.choice([0, 2]),
                 _prod(l.factor for l in placed["cols"]) + rng.choice([0, 1]))
    return mapping, Hierarchy(need[0], pe, need[1] if registers else None,
                              memory_bandwidth=rng.choice([None, rng.randint(1, 8)]))


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


@pytest.mark.parametrize("seed", range(12))
def test_closed_form_equals_step_by_step_simulation_on_random_valid_mappings(seed):
    rng = random.Random(seed)
    for trial in range(25):
        layer = random_layer(rng)
        mapping, hierarchy = random_mapping(rng, layer, registers=trial % 2 == 1)
        assert validate(mapping, layer, hierarchy) == [], mapping.lines()
        closed = evaluate(mapping, layer, hierarchy).counts
        simulated = simulate_mapping(mapping, layer, hierarchy)
        assert closed == simulated, (layer.describe(), "\n".join(mapping.lines()))


def test_tile_sizes_are_the_largest_tiles_the_simulation_holds():
    rng = random.Random(17)
    for trial in range(40):
        layer = random_layer(rng)
        mapping, hierarchy = random_mapping(rng, layer, registers=trial % 2 == 0)
        assert tile_sizes(mapping, layer, hierarchy) == simulated_tile_sizes(mapping, layer, hierarchy)


def test_validate_reports_exactly_the_tiles_the_simulation_finds_too_big():
    rng = random.Random(23)
    for trial in range(40):
        layer = random_layer(rng)
        mapping, fitting = random_mapping(rng, layer, registers=trial % 2 == 0)
        held = simulated_tile_sizes(mapping, layer, fitting)
        shrink = lambda b: Buffers(*(max(1, b.capacity(op) - rng.choice([0, 0, 1, 5])) for op in OPERANDS))  # noqa: E731
        tight = Hierarchy(shrink(fitting.buffers), fitting.pe,
                          None if fitting.registers is None else shrink(fitting.registers))
        expected = {(level, op) for level in held for op in OPERANDS
                    if level != "memory" and held[level][op] > tight.capacity(level, op)}
        problems = validate(mapping, layer, tight)
        assert {(p.level, p.operand) for p in problems} == expected
        assert is_valid(mapping, layer, tight) == (not expected) and is_valid(mapping, layer, fitting)
        for p in problems:
            assert p.needed == held[p.level][p.operand] and f"over by {p.needed - p.capacity:,}" in p.message


def test_the_random_mappings_cover_stride_padding_kernels_unrolling_and_bypass():
    rng = random.Random(0)
    seen = set()
    for trial in range(300):
        layer = random_layer(rng)
        mapping, _h = random_mapping(rng, layer, registers=trial % 2 == 1)
        seen |= {("stride", layer.stride > 1), ("padding", layer.padding > 0), ("kernel", layer.kernel > 1)}
        seen.add(("spatial", any(lv.spatial for lv in mapping.levels)))
        seen.add(("bypass", any(lv.bypass for lv in mapping.levels)))
        seen.add(("registers", len(mapping.levels) == 3))
    assert all((what, True) in seen for what in ("stride", "padding", "kernel", "spatial", "bypass", "registers"))


def test_conservation_between_levels():
    rng = random.Random(99)
    for trial in range(60):
        layer = random_layer(rng)
        mapping, hierarchy = random_mapping(rng, layer, registers=True)
        counts = evaluate(mapping, layer, hierarchy).counts
        outputs = layer.filters * layer.out_height * layer.out_width
        mem = counts["memory"]["output"]
        assert mem.writes - mem.psum_reads == outputs  # every output leaves memory's view once, finished
        for op in ("input", "weight"):
            below = [lv.name for lv in mapping.levels[1:] if lv.stores(op)]
            if below:
                c = counts[below[0]][op]
                assert c.fills == counts["memory"][op].reads + counts["memory"][op].forwards


# -- reference figures and hand counts --------------------------------------------------------
def test_reference_weight_stationary_counts_by_hand():
    counts = evaluate(_ws_reference(), REF_LAYER, Hierarchy(Buffers(9, 9, 1))).counts
    mem = counts["memory"]
    # 9 channels × 20 windows × 9 inputs; 81 weights once; 180 partial-sum writes, 160 read back.
    assert (mem["input"].reads, mem["weight"].reads, mem["output"].writes, mem["output"].psum_reads) == (
        1620, 81, 180, 160)
    buf = counts["buffer"]
    assert buf["weight"].fills == 81 and buf["weight"].reads == 1620  # one weight read per MAC
    # Every MAC writes its partial sum; all but the first of each of the 20 outputs read it back.
    assert buf["output"].writes == 1620 and buf["output"].psum_reads == 1620 - 20


def test_padding_is_never_fetched_nor_read():
    layer = ConvLayer(height=3, width=3, channels=1, kernel=3, filters=1, padding=1)
    m = Mapping((MapLevel("memory", _loops(("y", 3), ("x", 3))), MapLevel("buffer", _loops(("r", 3), ("s", 3)))))
    counts = evaluate(m, layer, Hierarchy(Buffers(9, 9, 1))).counts
    # Real elements per 3×3 window of a 3×3 image padded by 1: corners 4, edges 6, centre 9.
    assert counts["memory"]["input"].reads == 4 * 4 + 4 * 6 + 9
    assert counts["buffer"]["input"].reads == 4 * 4 + 4 * 6 + 9


def test_multicast_reads_once_and_forwards_the_rest():
    layer = ConvLayer(height=4, width=4, channels=1, kernel=1, filters=4)
    m = Mapping((MapLevel("memory", _loops(("y", 4), ("x", 4))),
                 MapLevel("buffer", (MapLoop("f", 4, "cols"),))))
    cost = evaluate(m, layer, Hierarchy(Buffers(1, 4, 4), PEArray(1, 4)))
    buf = cost.counts["buffer"]["input"]
    assert buf.reads == 16 and buf.forwards == 3 * 16  # one read per input, three forwarded copies
    assert cost.cycles == 16 and cost.utilisation == 1.0 and cost.pes_used == 4


def test_spatial_reduction_writes_each_output_once_per_step():
    layer = ConvLayer(height=2, width=2, channels=4, kernel=1, filters=1)
    m = Mapping((MapLevel("memory", _loops(("y", 2), ("x", 2))),
                 MapLevel("buffer", (MapLoop("c", 4, "rows"),))))
    out = evaluate(m, layer, Hierarchy(Buffers(4, 4, 1), PEArray(4, 1))).counts["buffer"]["output"]
    assert out.writes == 4 and out.psum_reads == 0 and out.forwards == 3 * 4


def test_energy_and_cycles_follow_the_counts():
    costs = EnergyCosts(rf=1, inter_pe=2, buffer=6, dram=200, mac=1)
    h = Hierarchy(Buffers(9, 9, 1), costs=costs)
    cost = evaluate(_ws_reference(), REF_LAYER, h)
    dram = 1620 + 81 + 180 + 160
    buffer = 1620 + 1620 + 1620 + 1600
    assert cost.energy.accesses["dram"] == dram == cost.memory_accesses
    assert cost.energy.accesses["buffer"] == buffer
    assert cost.energy.total == dram * 200 + buffer * 6 + 1620
    assert cost.cycles == 1620 and cost.utilisation == pytest.approx(1620 / (1620 * 12 * 14))
    json.dumps(cost.to_dict())
    assert (cost.compute_cycles, cost.memory_cycles) == (1620, 0)


def test_a_memory_bandwidth_bounds_the_cycles():
    dram = 1620 + 81 + 180 + 160
    slow = evaluate(_ws_reference(), REF_LAYER, Hierarchy(Buffers(9, 9, 1), memory_bandwidth=1))
    assert (slow.compute_cycles, slow.memory_cycles, slow.cycles) == (1620, dram, dram)
    fast = evaluate(_ws_reference(), REF_LAYER, Hierarchy(Buffers(9, 9, 1), memory_bandwidth=2))
    assert (fast.memory_cycles, fast.cycles) == (-(-dram // 2), 1620)
    with pytest.raises(InputError, match="memory bandwidth"):
        Hierarchy(Buffers(9, 9, 1), memory_bandwidth=0)


# -- validation -------------------------------------------------------------------------------
def test_overflow_names_level_operand_excess_and_a_fix():
    layer = ConvLayer(height=16, width=16, channels=16, kernel=3, filters=8)
    m = Mapping((MapLevel("memory", _loops(("f", 8), ("y", 14), ("x", 14))),
                 MapLevel("buffer", _loops(("c", 16), ("r", 3), ("s", 3)))))
    problems = validate(m, layer, Hierarchy(Buffers(input=40, weight=200, output=4)))
    assert [(p.level, p.operand, p.needed, p.capacity) for p in problems] == [("buffer", "input", 144, 40)]
    text = problems[0].message
    assert "buffer level, input" in text and "144" in text and "holds 40" in text and "over by 104" in text
    assert "c = 4 instead of 16 at the buffer level (the other ×4 to a level above)" in text
    with pytest.raises(InputError, match="over by 104"):
        check(m, layer, Hierarchy(Buffers(input=40, weight=200, output=4)))
    fixed = Mapping((MapLevel("memory", _loops(("f", 8), ("y", 14), ("x", 14), ("c", 4))),
                     MapLevel("buffer", _loops(("c", 4), ("r", 3), ("s", 3)))))
    assert validate(fixed, layer, Hierarchy(Buffers(input=40, weight=200, output=4))) == []


def test_structural_problems_are_named():
    h = Hierarchy(Buffers(100, 100, 100), PEArray(2, 2))
    bad_product = Mapping((MapLevel("memory", _loops(("c", 3), ("y", 4), ("x", 5))),
                           MapLevel("buffer", _loops(("r", 3), ("s", 3)))))
    assert any("c (input channels): the factors multiply to 3" in str(p) and "extent is 9" in str(p)
               for p in validate(bad_product, REF_LAYER, h))
    fan = Mapping((MapLevel("memory", _loops(("y", 4), ("x", 5))),
                   MapLevel("buffer", _loops(("r", 3), ("s", 3)) + (MapLoop("c", 9, "rows"),))))
    assert any("PE rows: c 9 = 9 PEs but the array has 2 rows (over by 7); it fits with c = 1 instead of 9" in str(p)
               for p in validate(fan, REF_LAYER, h))
    levels = Mapping((MapLevel("memory", _loops(("c", 9), ("y", 4), ("x", 5), ("r", 3), ("s", 3))),))
    assert "levels: the mapping has memory but the hierarchy has memory, buffer" in str(validate(levels, REF_LAYER, h)[0])
    spatial_mem = Mapping((MapLevel("memory", (MapLoop("c", 9, "rows"),) + _loops(("y", 4), ("x", 5))),
                           MapLevel("buffer", _loops(("r", 3), ("s", 3)))))
    assert any("only allowed at the buffer level" in str(p) for p in validate(spatial_mem, REF_LAYER, h))
    bypass_mem = Mapping((MapLevel("memory", _loops(("c", 9), ("y", 4), ("x", 5)), frozenset({"input"})),
                          MapLevel("buffer", _loops(("r", 3), ("s", 3)))))
    assert any("cannot be bypassed" in str(p) for p in validate(bypass_mem, REF_LAYER, h))
    assert not any(is_valid(m, REF_LAYER, h) for m in (bad_product, fan, levels, spatial_mem, bypass_mem))
    with pytest.raises(InputError, match="loop dim: 'q'"):
        MapLoop("q", 2)
    with pytest.raises(InputError, match="factor of the c loop"):
        MapLoop("c", 0)


def test_simulation_is_bounded_by_a_stated_limit(monkeypatch):
    monkeypatch.setenv("MLSYS_LIMIT_MAPPING_SIMULATION_STEPS", "100")
    with pytest.raises(InputError, match="MLSYS_LIMIT_MAPPING_SIMULATION_STEPS"):
        simulate_mapping(_ws_reference(), REF_LAYER, Hierarchy(Buffers(9, 9, 1)))


def test_closed_form_work_is_bounded_by_a_stated_limit(monkeypatch):
    layer = ConvLayer(height=13, width=13, channels=1, kernel=5, filters=1)
    m = Mapping((MapLevel("memory", _loops(("y", 9), ("x", 9))), MapLevel("buffer", _loops(("r", 5), ("s", 5)))))
    span_stats.cache_clear()
    monkeypatch.setenv("MLSYS_LIMIT_COUNT_WORK", "10")
    with pytest.raises(InputError, match="MLSYS_LIMIT_COUNT_WORK"):
        evaluate(m, layer, Hierarchy(Buffers(25, 25, 1)))
    monkeypatch.delenv("MLSYS_LIMIT_COUNT_WORK")
    assert evaluate(m, layer, Hierarchy(Buffers(25, 25, 1))).counts["memory"]["input"].reads == 81 * 25


# -- JSON ---------------------------------------------------------------------------------------
def test_json_round_trip_and_file(tmp_path):
    rng = random.Random(5)
    for _ in range(20):
        layer = random_layer(rng)
        mapping, hierarchy = random_mapping(rng, layer, registers=True)
        assert Mapping.from_dict(json.loads(json.dumps(mapping.to_dict()))) == mapping
        assert Hierarchy.from_dict(json.loads(json.dumps(hierarchy.to_dict()))) == hierarchy
    path = tmp_path / "m.json"
    write_mapping(path, _ws_reference())
    assert read_mapping(path) == _ws_reference()


@pytest.mark.parametrize("data, field", [
    ([], "mapping:"),
    ({"levels": []}, "levels:"),
    ({"levels": [{"name": "memory", "loops": [{"dim": "z", "factor": 2}]}]}, "levels[0].loops[0].dim"),
    ({"levels": [{"name": "memory", "loops": [{"dim": "c", "factor": "2"}]}]}, "levels[0].loops[0].factor"),
    ({"levels": [{"name": "memory", "loops": [{"dim": "c", "factor": True}]}]}, "levels[0].loops[0].factor"),
    ({"levels": [{"name": "m"}, {"name": "b", "loops": [{"dim": "c", "factor": 2, "spatial": "diag"}]}]},
     "levels[1].loops[0].spatial"),
    ({"levels": [{"name": "memory", "bypass": ["psum"]}]}, "levels[0].bypass"),
    ({"levels": [{"name": ""}]}, "levels[0].name"),
    ({"name": 3, "levels": [{"name": "memory"}]}, "name:"),
])
def test_bad_json_names_the_field(data, field):
    with pytest.raises(InputError) as info:
        Mapping.from_dict(data)
    assert str(info.value).startswith(field)


def test_bad_files_give_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_mapping(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_mapping(tmp_path / "bad.json")
    with pytest.raises(InputError, match="buffers"):
        Hierarchy.from_dict({"buffers": {"input": 1}})


# -- textbook mappings ---------------------------------------------------------------------------
def _divides(layer, nest) -> bool:
    ext = dim_extents(layer)
    return all(ext[loop.dim] % loop.tile == 0 for loop in nest.loops)


_DEPENDS = {"input": "cyx", "weight": "fc", "output": "fyx"}


def _reloads_for_nothing(nest) -> bool:
    """The lab's tile policy reloads a tile when only loops the operand ignores advance outside it."""
    for op in OPERANDS:
        outside = [loop for loop in nest.loops[: nest.depth(op)] if loop.count > 1]
        if outside and outside[-1].dim not in _DEPENDS[op]:
            return True
    return False


def test_textbook_mappings_reproduce_tile_policy_memory_counts():
    rng = random.Random(3)
    compared = dict.fromkeys(DATAFLOWS, 0)
    for _ in range(200):
        layer = random_layer(rng)
        buffers = Buffers(rng.randint(9, 120), rng.randint(9, 120), rng.randint(1, 40))
        registers = rng.choice([None, Buffers(64, 64, 64), Buffers(2, 2, 2)])
        hierarchy = Hierarchy(buffers, PEArray(rng.randint(3, 12), rng.randint(1, 8)), registers)
        for df in DATAFLOWS:
            try:
                nest = build_nest(layer, df, buffers, hierarchy.pe)
            except InputError:
                continue
            mapping = textbook_mapping(df, layer, hierarchy)
            assert validate(mapping, layer, hierarchy) == [] and dataflow_allows(df, mapping)
            if not _divides(layer, nest) or _reloads_for_nothing(nest):
                continue
            compared[df] += 1
            ref = analyse(layer, df, buffers, "tile", hierarchy.pe).counts
            mem = evaluate(mapping, layer, hierarchy).counts["memory"]
            assert {op: mem[op].reads + mem[op].psum_reads for op in OPERANDS} == ref.memory_reads
            assert mem["output"].writes == ref.memory_writes["output"]
    assert min(compared.values()) >= 10, compared


def test_textbook_tile_that_does_not_divide_is_lowered_to_a_divisor():
    layer = ConvLayer(height=9, width=9, channels=1, kernel=3, filters=7)
    h = Hierarchy(Buffers(9, 45, 5))
    assert build_nest(layer, "ws", h.buffers).tiles()["f"] == 5
    mapping = textbook_mapping("ws", layer, h)
    assert [l.factor for l in mapping.levels[0].loops if l.dim == "f"] == [7]  # 7 is prime: f_t 5 → 1
    ref = analyse(layer, "ws", h.buffers, "tile").counts
    mem = evaluate(mapping, layer, h).counts["memory"]
    assert mem["input"].reads > ref.memory_reads["input"]  # more filter tiles than the tile policy's 2


def test_a_mapping_keeps_a_tile_the_lab_reloads_when_only_ignored_loops_advance():
    layer = ConvLayer(height=5, width=5, channels=2, kernel=1, filters=3, stride=3)
    buffers = Buffers(input=89, weight=83, output=5)
    nest = build_nest(layer, "os", buffers)
    assert _reloads_for_nothing(nest) and nest.tiles() == {"f": 1, "y": 2, "x": 2, "c": 2}
    mem = evaluate(textbook_mapping("os", layer, Hierarchy(buffers)), layer, Hierarchy(buffers)).counts["memory"]
    # Only the filter loop (3 tiles) runs outside the input tile: the lab loads it 3 times, a mapping once.
    assert analyse(layer, "os", buffers, "tile").counts.memory_reads["input"] == 3 * mem["input"].reads == 3 * 8


def test_row_stationary_registers_keep_the_filter_row_across_strips():
    layer = ConvLayer(height=8, width=6, channels=2, kernel=3, filters=2)
    h = Hierarchy(Buffers(48, 18, 12), PEArray(6, 3), Buffers(6, 3, 4))
    mapping = textbook_mapping("rs", layer, h)
    assert mapping.levels[2].loops  # the rows fit the registers
    cost = evaluate(mapping, layer, h)
    ref = analyse(layer, "rs", h.buffers, "tile", h.pe).counts
    assert cost.counts["registers"]["weight"].fills < ref.rf["weight"] - ref.macs  # lab refills per pass
    assert cost.counts == simulate_mapping(mapping, layer, h)


def test_dataflow_constraints():
    ws = Mapping((MapLevel("memory", _loops(("c", 9), ("y", 4), ("x", 5))), MapLevel("buffer", _loops(("r", 3), ("s", 3)))))
    assert dataflow_allows("ws", ws) and not dataflow_allows("os", ws) and dataflow_allows("is", ws)
    os_ = Mapping((MapLevel("memory", _loops(("y", 4), ("x", 5), ("c", 9))), MapLevel("buffer", _loops(("r", 3), ("s", 3)))))
    assert dataflow_allows("os", os_) and not dataflow_allows("ws", os_)
    bypassed = Mapping((os_.levels[0], MapLevel("buffer", os_.levels[1].loops, frozenset({"output"}))))
    assert not dataflow_allows("os", bypassed)
    is_bad = Mapping((MapLevel("memory", _loops(("f", 2), ("c", 9))), MapLevel("buffer", ())))
    assert not dataflow_allows("is", is_bad)
    rs = Mapping((MapLevel("memory", _loops(("c", 9), ("y", 2))),
                  MapLevel("buffer", _loops(("x", 5), ("s", 3)) + (MapLoop("r", 3, "rows"), MapLoop("y", 2, "cols")))))
    assert dataflow_allows("rs", rs) and not dataflow_allows("rs", ws)
    with pytest.raises(InputError, match="dataflow"):
        dataflow_allows("xs", ws)


# -- the example ------------------------------------------------------------------------
def test_output_stationary_over_all_filters_beats_the_textbook_os_nest():
    """Output buffer = F: keep the partial sums of every filter at one position, reuse each input
    window across all filters while the weights stream past the buffer."""
    layer = ConvLayer(height=10, width=10, channels=8, kernel=3, filters=16, padding=1)
    h = Hierarchy(Buffers(input=9, weight=9, output=16))
    better = Mapping((MapLevel("memory", _loops(("y", 10), ("x", 10), ("c", 8))),
                      MapLevel("buffer", _loops(("f", 16), ("r", 3), ("s", 3)), frozenset({"weight"}))),
                     "os, all filters")
    assert validate(better, layer, h) == [] and dataflow_allows("os", better)
    textbook = textbook_mapping("os", layer, h)
    ours, theirs = evaluate(better, layer, h).counts["memory"], evaluate(textbook, layer, h).counts["memory"]
    assert ours["input"].reads * 16 == theirs["input"].reads  # each window once instead of once per filter
    assert ours["weight"].reads == theirs["weight"].reads
    assert ours["output"].writes == theirs["output"].writes and ours["output"].psum_reads == 0
    assert evaluate(better, layer, h).memory_accesses < evaluate(textbook, layer, h).memory_accesses
    assert evaluate(better, layer, h).counts == simulate_mapping(better, layer, h)
