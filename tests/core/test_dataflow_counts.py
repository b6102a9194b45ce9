"""Buffer-level dataflow counts: the issue's reference, hand counts, and closed form / fast LRU
against an independent step-by-step model of each loop nest."""

from __future__ import annotations

import ast
import time
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.dataflow import (
    DATAFLOWS,
    Buffers,
    ConvLayer,
    EnergyCosts,
    PEArray,
    analyse,
    assumptions,
    best_dataflow,
    build_nest,
    rank_dataflows,
)
from core.dataflow.rowstationary import array_counts, simulate_array
from core.common.errors import InputError, MlsysError

REF_LAYER = ConvLayer(height=6, width=7, channels=9, kernel=3, filters=1)
REF_BUFFERS = Buffers(input=9, weight=9, output=1)


# -- the reference from the issue ------------------------------------------------------------
def test_weight_stationary_reference_tile_counts():
    result = analyse(REF_LAYER, "ws", REF_BUFFERS, "tile")
    assert (REF_LAYER.out_height, REF_LAYER.out_width) == (4, 5)
    assert result.counts.memory_reads == {"input": 1620, "weight": 81, "output": 160}
    assert result.counts.memory_writes == {"output": 180}
    assert result.counts.macs == 1620


def test_weight_stationary_reference_lru_reuses_the_sliding_window():
    # A 9-element LRU buffer keeps the 6 overlapping inputs of the next window: 3 new per step,
    # 9 at the start of each output row: 9 channels × 4 rows × (9 + 4·3) = 756.
    result = analyse(REF_LAYER, "ws", REF_BUFFERS, "lru")
    assert result.counts.memory_reads == {"input": 756, "weight": 81, "output": 160}
    assert result.counts.memory_writes == {"output": 180}


def test_other_dataflows_on_the_reference_layer():
    os_ = analyse(REF_LAYER, "os", REF_BUFFERS, "tile").counts
    assert os_.memory_reads == {"input": 1620, "weight": 1620, "output": 0}
    assert os_.memory_writes == {"output": 20}
    is_ = analyse(REF_LAYER, "is", REF_BUFFERS, "tile").counts
    assert is_.memory_reads == {"input": 1620, "weight": 1620, "output": 160}
    # LRU keeps each channel's 3×3 weights while the input-stationary nest walks the outputs.
    assert analyse(REF_LAYER, "is", REF_BUFFERS, "lru").counts.memory_reads["weight"] == 81


def test_reference_loop_nest_is_shown_line_by_line():
    nest = analyse(REF_LAYER, "ws", REF_BUFFERS).nest
    kinds = [line.kind for line in nest.lines]
    assert kinds == ["loop", "loop", "load", "loop", "loop", "load", "load", "compute", "store"]
    loops = [line for line in nest.lines if line.kind == "loop"]
    assert [line.bound for line in loops] == [1, 9, 4, 5]
    assert "weight buffer ← W[f, c, 0:3, 0:3]" in nest.text()
    assert "read back partial sums from memory unless c = 0" in nest.text()


def test_every_dataflow_states_its_assumptions():
    for df in DATAFLOWS:
        text = " ".join(assumptions(df))
        assert "Tile policy" in text and "LRU policy" in text and "Padding" in text
    assert "register file" in " ".join(assumptions("rs")).lower()


# -- energy and ranking ----------------------------------------------------------------------
def test_energy_breakdown_with_eyeriss_costs():
    energy = analyse(REF_LAYER, "ws", REF_BUFFERS).energy
    # buffer: 1620 input + 1620 weight + 2·1620 partial-sum accesses; DRAM: 81+1620+160+180.
    assert energy.accesses == {"rf": 0, "inter_pe": 0, "buffer": 6480, "dram": 2041, "mac": 1620}
    assert energy.energy == {"rf": 0, "inter_pe": 0, "buffer": 38880, "dram": 408200, "mac": 1620}
    assert energy.total == 448700
    cheap_dram = analyse(REF_LAYER, "ws", REF_BUFFERS, costs=EnergyCosts(dram=100)).energy
    assert cheap_dram.total == 448700 - 2041 * 100


def test_energy_costs_are_validated():
    with pytest.raises(InputError, match="DRAM access cost"):
        EnergyCosts(dram=-1)


def test_best_dataflow_for_the_reference():
    ranking = rank_dataflows(REF_LAYER, REF_BUFFERS)
    assert [r.dataflow for r in ranking.ranked] == ["ws", "os", "is"]
    assert [r.counts.memory_total for r in ranking.ranked] == [2041, 3260, 3580]
    assert "rs" in ranking.infeasible and "input buffer" in ranking.infeasible["rs"]
    assert ranking.best == best_dataflow(REF_LAYER, REF_BUFFERS) == "ws"
    assert "weight-stationary minimises memory accesses" in ranking.explanation()
    roomy = Buffers(input=200, weight=200, output=40)
    assert best_dataflow(REF_LAYER, roomy, metric="energy") in DATAFLOWS


# -- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(height=0), "height"),
        (dict(width=-3), "width"),
        (dict(channels=0), "channels"),
        (dict(filters=0), "filters"),
        (dict(stride=0), "stride"),
        (dict(padding=-1), "padding"),
        (dict(kernel=9), "kernel"),
        (dict(height=2.5), "height"),
        (dict(channels=True), "channels"),
    ],
)
def test_invalid_layer_values_name_the_field(kwargs, field):
    values = dict(height=6, width=7, channels=9, kernel=3, filters=1)
    values.update(kwargs)
    with pytest.raises(InputError) as err:
        ConvLayer(**values)
    assert str(err.value).startswith(field)
    assert isinstance(err.value, MlsysError) and isinstance(err.value, ValueError)


def test_kernel_larger_than_padded_input_is_refused_but_padding_can_make_room():
    with pytest.raises(InputError, match="kernel: 5 is larger than the padded input height 4"):
        ConvLayer(height=4, width=8, channels=1, kernel=5, filters=1)
    assert ConvLayer(height=4, width=8, channels=1, kernel=5, filters=1, padding=1).out_height == 2


@pytest.mark.parametrize(
    "dataflow, buffers, message",
    [
        ("ws", Buffers(4, 9, 1), "input buffer: 4 elements is smaller than the 9 that weight-stationary needs "
                                 "(one 3×3 window of one channel)"),
        ("os", Buffers(9, 8, 1), "weight buffer: 8 elements is smaller than the 9 that output-stationary needs"),
        ("is", Buffers(3, 9, 1), "input buffer: 3 elements is smaller than the 9 that input-stationary needs"),
        ("rs", Buffers(20, 9, 5), "input buffer: 20 elements is smaller than the 21 that row-stationary needs"),
        ("rs", Buffers(21, 9, 4), "output buffer: 4 elements is smaller than the 5 that row-stationary needs"),
    ],
)
def test_buffers_smaller_than_the_dataflow_needs(dataflow, buffers, message):
    with pytest.raises(InputError) as err:
        analyse(REF_LAYER, dataflow, buffers)
    assert str(err.value).startswith(message)


def test_other_invalid_choices():
    with pytest.raises(InputError, match="input buffer: 0 is not allowed"):
        Buffers(0, 9, 1)
    with pytest.raises(InputError, match="dataflow: 'xs' is not known"):
        analyse(REF_LAYER, "xs", REF_BUFFERS)
    with pytest.raises(InputError, match="policy: 'fifo' is not known"):
        analyse(REF_LAYER, "ws", REF_BUFFERS, "fifo")
    with pytest.raises(InputError, match="PE array rows: 2 is smaller than the 3"):
        analyse(REF_LAYER, "rs", Buffers(100, 9, 10), pe_array=PEArray(2, 14))


# -- tile sizes from the buffers -------------------------------------------------------------
def test_tiles_grow_with_the_buffers():
    layer = ConvLayer(height=56, width=56, channels=128, kernel=3, filters=256, padding=1)
    assert build_nest(layer, "ws", Buffers(1024, 1024, 64)).tiles() == {"f": 64, "c": 1, "y": 1, "x": 1}
    assert build_nest(layer, "os", Buffers(1024, 1024, 64)).tiles() == {"f": 1, "y": 1, "x": 56, "c": 5}
    assert build_nest(layer, "is", Buffers(1024, 1024, 64)).tiles() == {"c": 5, "y": 1, "x": 56, "f": 1}
    assert build_nest(layer, "rs", Buffers(65536, 65536, 16384)).tiles() == {"f": 1, "c": 4, "y": 14}


# -- a billion-MAC layer, counted in closed form ---------------------------------------------
BIG = ConvLayer(height=58, width=58, channels=128, kernel=3, filters=256)  # 56×56 outputs, no padding


def test_billion_mac_layer_tile_counts_are_instant_and_exact():
    assert BIG.macs == 924_844_032
    start = time.perf_counter()
    counts = analyse(BIG, "ws", REF_BUFFERS, "tile").counts
    assert time.perf_counter() - start < 0.5
    F, C, P = 256, 128, 56 * 56
    assert counts.memory_reads == {"input": F * C * P * 9, "weight": F * C * 9, "output": F * (C - 1) * P}
    assert counts.memory_writes == {"output": F * C * P}


def test_billion_mac_layer_lru_counts_in_well_under_seconds():
    start = time.perf_counter()
    counts = analyse(BIG, "ws", REF_BUFFERS, "lru").counts
    elapsed = time.perf_counter() - start
    # Per channel and filter: each of the 56 output rows loads 9 + 55·3 inputs.
    assert counts.memory_reads["input"] == 256 * 128 * 56 * (9 + 55 * 3)
    assert counts.memory_reads["weight"] == 256 * 128 * 9
    assert elapsed < 2.0
    start = time.perf_counter()
    for df in ("ws", "os", "is"):
        analyse(BIG, df, Buffers(65536, 65536, 16384), "lru")
    assert time.perf_counter() - start < 6.0


# -- independent step-by-step model of every loop nest ----------------------------------------
def _spans(n_out, t, stride, pad, k, size):
    for lo in range(0, n_out, t):
        hi = min(lo + t, n_out)
        yield lo, hi, sorted({o * stride - pad + d for o in range(lo, hi) for d in range(k)} & set(range(size)))


def naive_streams(layer: ConvLayer, dataflow: str, tiles: dict) -> dict[str, list[list[int]]]:
    """Tiles each operand's buffer is asked for, written out loop by loop from the documented nests."""
    H, W, C, K, F, S, P = (layer.height, layer.width, layer.channels, layer.kernel, layer.filters,
                           layer.stride, layer.padding)
    Ho, Wo = layer.out_height, layer.out_width

    def inputs(c0, c1, rows, cols):
        return [(c * H + r) * W + q for c in range(c0, c1) for r in rows for q in cols]

    def weights(f0, f1, c0, c1):
        return [((f * C + c) * K + a) * K + b for f in range(f0, f1) for c in range(c0, c1)
                for a in range(K) for b in range(K)]

    def outputs(f0, f1, y0, y1, x0, x1):
        return [(f * Ho + y) * Wo + x for f in range(f0, f1) for y in range(y0, y1) for x in range(x0, x1)]

    def chunks(n, t):
        return [(lo, min(lo + t, n)) for lo in range(0, n, t)]

    streams = {"input": [], "weight": [], "output": []}
    if dataflow == "ws":
        for f0, f1 in chunks(F, tiles["f"]):
            for c0, c1 in chunks(C, tiles["c"]):
                streams["weight"].append(weights(f0, f1, c0, c1))
                for y0, y1, rows in _spans(Ho, 1, S, P, K, H):
                    for x0, x1, cols in _spans(Wo, 1, S, P, K, W):
                        streams["input"].append(inputs(c0, c1, rows, cols))
                        streams["output"].append(outputs(f0, f1, y0, y1, x0, x1))
    elif dataflow == "os":
        for f0, f1 in chunks(F, tiles["f"]):
            for y0, y1, rows in _spans(Ho, tiles["y"], S, P, K, H):
                for x0, x1, cols in _spans(Wo, tiles["x"], S, P, K, W):
                    streams["output"].append(outputs(f0, f1, y0, y1, x0, x1))
                    for c0, c1 in chunks(C, tiles["c"]):
                        streams["input"].append(inputs(c0, c1, rows, cols))
                        streams["weight"].append(weights(f0, f1, c0, c1))
    elif dataflow == "is":
        for c0, c1 in chunks(C, tiles["c"]):
            for y0, y1, rows in _spans(Ho, tiles["y"], S, P, K, H):
                for x0, x1, cols in _spans(Wo, tiles["x"], S, P, K, W):
                    streams["input"].append(inputs(c0, c1, rows, cols))
                    for f0, f1 in chunks(F, tiles["f"]):
                        streams["weight"].append(weights(f0, f1, c0, c1))
                        streams["output"].append(outputs(f0, f1, y0, y1, x0, x1))
    else:  # rs
        all_cols = next(iter(_spans(Wo, Wo, S, P, K, W)))[2]
        for f in range(F):
            for c0, c1 in chunks(C, tiles["c"]):
                streams["weight"].append(weights(f, f + 1, c0, c1))
                for y0, y1, rows in _spans(Ho, tiles["y"], S, P, K, H):
                    streams["input"].append(inputs(c0, c1, rows, all_cols))
                    streams["output"].append(outputs(f, f + 1, y0, y1, 0, Wo))
    return streams


def naive_lru_misses(tiles: list[list[int]], capacity: int) -> int:
    cache: OrderedDict[int, None] = OrderedDict()
    misses = 0
    for tile in tiles:
        for a in tile:
            if a in cache:
                cache.move_to_end(a)
                continue
            misses += 1
            cache[a] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
    return misses


def naive_counts(layer, dataflow, buffers, policy, tiles):
    streams = naive_streams(layer, dataflow, tiles)
    outputs = layer.filters * layer.out_height * layer.out_width
    if policy == "tile":
        loads = {op: sum(len(t) for t in s) for op, s in streams.items()}
    else:
        loads = {op: naive_lru_misses(s, buffers.capacity(op)) for op, s in streams.items()}
    return ({"input": loads["input"], "weight": loads["weight"], "output": loads["output"] - outputs},
            {"output": loads["output"]})


@st.composite
def small_cases(draw, max_hw=8, max_c=4, max_f=3, max_buffer=(80, 40, 12)):
    k = draw(st.integers(1, 3))
    layer = ConvLayer(
        height=draw(st.integers(k, max_hw)), width=draw(st.integers(k, max_hw)),
        channels=draw(st.integers(1, max_c)), kernel=k, filters=draw(st.integers(1, max_f)),
        stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, k - 1)),
    )
    buffers = Buffers(*(draw(st.integers(1, b)) for b in max_buffer))
    pe = PEArray(draw(st.integers(1, 8)), draw(st.integers(1, 6)))
    return layer, draw(st.sampled_from(DATAFLOWS)), buffers, pe


def _nest_or_skip(layer, dataflow, buffers, pe):
    try:
        return build_nest(layer, dataflow, buffers, pe)
    except InputError:
        assume(False)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(small_cases(), st.sampled_from(["tile", "lru"]))
def test_counts_equal_the_step_by_step_model(case, policy):
    layer, dataflow, buffers, pe = case
    nest = _nest_or_skip(layer, dataflow, buffers, pe)
    result = analyse(layer, dataflow, buffers, policy, pe)
    reads, writes = naive_counts(layer, dataflow, buffers, policy, nest.tiles())
    assert result.counts.memory_reads == reads
    assert result.counts.memory_writes == writes


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(small_cases(max_hw=14, max_c=6, max_f=4, max_buffer=(400, 200, 60)))
def test_fast_lru_equals_the_step_by_step_model_on_larger_layers(case):
    # Larger layers and buffers exercise the skip-ahead and "fits" shortcuts of the fast LRU.
    layer, dataflow, buffers, pe = case
    nest = _nest_or_skip(layer, dataflow, buffers, pe)
    result = analyse(layer, dataflow, buffers, "lru", pe)
    reads, writes = naive_counts(layer, dataflow, buffers, "lru", nest.tiles())
    assert result.counts.memory_reads == reads
    assert result.counts.memory_writes == writes


def test_tile_sizes_fit_their_buffers():
    layer = ConvLayer(height=9, width=11, channels=5, kernel=3, filters=4, stride=2, padding=1)
    for df in DATAFLOWS:
        for buffers in (Buffers(99, 45, 6), Buffers(500, 300, 50), Buffers(5000, 5000, 5000)):
            nest = build_nest(layer, df, buffers, PEArray(12, 14))
            streams = naive_streams(layer, df, nest.tiles())
            for op, tiles in streams.items():
                assert max(len(t) for t in tiles) <= buffers.capacity(op), (df, op)


# -- row-stationary inside the PE array ------------------------------------------------------
def test_row_stationary_array_counts_by_hand():
    layer = ConvLayer(height=3, width=3, channels=1, kernel=3, filters=1)
    arr = array_counts(build_nest(layer, "rs", Buffers(9, 9, 1)))
    assert arr.macs == 9
    assert arr.rf == {"input": 9 + 9, "weight": 9 + 9, "output": 18}
    assert arr.inter_pe == {"input": 0, "weight": 0, "output": 2}
    assert arr.buffer == {"input": 9, "weight": 9, "output": 1}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(small_cases(max_buffer=(200, 60, 40)))
def test_row_stationary_closed_form_equals_pe_by_pe_walk(case):
    layer, _, buffers, pe = case
    nest = _nest_or_skip(layer, "rs", buffers, pe)
    assert array_counts(nest) == simulate_array(nest)
    assert array_counts(nest).macs == layer.macs


def test_row_stationary_energy_uses_every_level():
    result = analyse(REF_LAYER, "rs", Buffers(200, 9, 50), "tile")
    levels = result.energy.accesses
    assert levels["rf"] > levels["inter_pe"] > 0 and levels["buffer"] > 0
    assert levels["rf"] == sum(result.counts.rf.values())


# -- the engine stays free of the GUI ---------------------------------------------------------
def test_dataflow_package_never_imports_qt():
    forbidden = ("PySide6", "pyqtgraph", "gui", "PyQt5", "PyQt6")
    package = Path(__file__).resolve().parents[2] / "core" / "dataflow"
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
