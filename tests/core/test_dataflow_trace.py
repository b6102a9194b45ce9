"""Buffer-traffic traces: element-level events, coarsening to tiles, and agreement with the counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.dataflow import (
    ALLOC,
    COLUMNS,
    DATAFLOWS,
    OPERAND_CODE,
    READ,
    WRITE,
    Buffers,
    ConvLayer,
    PEArray,
    analyse,
    build_nest,
    build_trace,
    simulate_elements,
)
from core.dataflow.trace import coarse_trace
from core.common.errors import InputError

REF_LAYER = ConvLayer(height=6, width=7, channels=9, kernel=3, filters=1)
REF_BUFFERS = Buffers(input=9, weight=9, output=1)
BIG = ConvLayer(height=56, width=56, channels=128, kernel=3, filters=256, padding=1)


def _totals_match_counts(trace, result):
    totals = trace.totals()
    c = result.counts
    assert totals.get(("input", "read"), 0) == c.memory_reads["input"]
    assert totals.get(("weight", "read"), 0) == c.memory_reads["weight"]
    assert totals.get(("output", "read"), 0) == c.memory_reads["output"]
    assert totals.get(("output", "write"), 0) == c.memory_writes["output"]
    assert totals.get(("output", "alloc"), 0) == result.layer.filters * result.layer.out_height * result.layer.out_width


def test_reference_trace_element_by_element():
    trace = build_trace(REF_LAYER, "ws", REF_BUFFERS, "tile")
    assert trace.element_level and trace.level == 4 and trace.n_steps == 9 * 20
    assert trace.events.dtype == np.int64 and trace.events.shape[1] == len(COLUMNS) == 6
    ev = trace.events
    step0 = ev[ev[:, 0] == 0]
    weights = step0[step0[:, 1] == OPERAND_CODE["weight"]]
    assert weights[:, 3].tolist() == list(range(9)) and weights[:, 2].tolist() == list(range(9))
    inputs = step0[step0[:, 1] == OPERAND_CODE["input"]]
    assert inputs[:, 3].tolist() == [0, 1, 2, 7, 8, 9, 14, 15, 16]  # the first 3×3 window of channel 0
    outputs = step0[step0[:, 1] == OPERAND_CODE["output"]]
    assert outputs[:, 4].tolist() == [ALLOC, WRITE]
    # Step 20 starts channel 1: output (0, 0) comes back from memory as a partial sum.
    step20 = ev[(ev[:, 0] == 20) & (ev[:, 1] == OPERAND_CODE["output"])]
    assert step20[:, 4].tolist() == [READ, WRITE] and step20[0, 3] == 0
    _totals_match_counts(trace, analyse(REF_LAYER, "ws", REF_BUFFERS, "tile"))
    assert trace.step_indices().shape == (180, 4)
    assert trace.step_indices()[20].tolist() == [0, 1, 0, 0]


def test_reference_lru_trace_reuses_slots():
    trace = build_trace(REF_LAYER, "ws", REF_BUFFERS, "lru")
    _totals_match_counts(trace, analyse(REF_LAYER, "ws", REF_BUFFERS, "lru"))
    ev = trace.events
    step1_inputs = ev[(ev[:, 0] == 1) & (ev[:, 1] == OPERAND_CODE["input"])]
    # Sliding one column right: only the new column (3, 10, 17) is fetched, into the slots of column 0.
    assert step1_inputs[:, 3].tolist() == [3, 10, 17]
    assert sorted(step1_inputs[:, 2].tolist()) == [0, 3, 6]
    assert ev[:, 2].max() < 9


def _aggregate(trace, level):
    counts = [loop.count for loop in trace.nest.loops]
    div = int(np.prod(counts[level:], dtype=np.int64))
    out: dict[tuple[int, int, int], int] = {}
    for step, op, _slot, _addr, kind, count in trace.events.tolist():
        key = (step // div, op, kind)
        out[key] = out.get(key, 0) + count
    return out


@st.composite
def small_cases(draw):
    k = draw(st.integers(1, 3))
    layer = ConvLayer(
        height=draw(st.integers(k, 7)), width=draw(st.integers(k, 7)), channels=draw(st.integers(1, 3)),
        kernel=k, filters=draw(st.integers(1, 3)), stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, k - 1)),
    )
    buffers = Buffers(draw(st.integers(1, 60)), draw(st.integers(1, 40)), draw(st.integers(1, 12)))
    return layer, draw(st.sampled_from(DATAFLOWS)), buffers, PEArray(draw(st.integers(1, 6)), draw(st.integers(1, 5)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(small_cases(), st.sampled_from(["tile", "lru"]), st.data())
def test_coarse_trace_is_the_element_trace_summed_per_tile(case, policy, data):
    layer, dataflow, buffers, pe = case
    try:
        nest = build_nest(layer, dataflow, buffers, pe)
    except InputError:
        assume(False)
    element = simulate_elements(nest, buffers, policy)
    _totals_match_counts(element, analyse(layer, dataflow, buffers, policy, pe))
    level = data.draw(st.integers(0, len(nest.loops)))
    coarse = coarse_trace(nest, buffers, policy, level)
    got: dict[tuple[int, int, int], int] = {}
    for step, op, _slot, _addr, kind, count in coarse.events.tolist():
        got[(step, op, kind)] = got.get((step, op, kind), 0) + count
    assert got == _aggregate(element, level)


@pytest.mark.parametrize("policy", ["tile", "lru"])
def test_any_layer_gets_a_bounded_trace(policy):
    buffers = Buffers(1024, 1024, 64)
    trace = build_trace(BIG, "ws", buffers, policy, max_events=50_000)
    assert not trace.element_level
    assert 0 < len(trace.events) <= 50_000
    assert trace.level == 2  # one step per (filter tile, channel): 4 × 128
    _totals_match_counts(trace, analyse(BIG, "ws", buffers, policy))
    steps = trace.events[:, 0]
    assert steps.min() == 0 and steps.max() == trace.n_steps - 1 == 4 * 128 - 1
    assert (np.diff(steps) >= 0).all()


def test_coarse_rows_give_the_lowest_address_of_the_step():
    trace = build_trace(REF_LAYER, "ws", REF_BUFFERS, "tile", max_events=100)
    assert trace.level == 2 and trace.n_steps == 9
    weight_rows = trace.events[trace.events[:, 1] == OPERAND_CODE["weight"]]
    assert weight_rows[:, 3].tolist() == [9 * c for c in range(9)]
    assert weight_rows[:, 5].tolist() == [9] * 9
    assert (weight_rows[:, 2] == -1).all()


def test_max_events_is_validated():
    with pytest.raises(InputError, match="max events"):
        build_trace(REF_LAYER, "ws", REF_BUFFERS, max_events=2)
