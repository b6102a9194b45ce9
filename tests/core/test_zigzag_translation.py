"""Translation to and from ZigZag's formats (ZigZag itself is not needed: the benchmark runs it)."""

from __future__ import annotations

import json

import pytest

from core.dataflow.energy import EnergyCosts
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import Buffers, ConvLayer, PEArray
from core.dataflow.mapper import search
from core.dataflow.mapping import dim_extents
from core.dataflow.mapping_eval import evaluate, validate
from core.dataflow.zigzag import (DIM_TO_ZIGZAG, ZIGZAG_DIFFERENCES, mapping_from_zigzag, mapping_to_zigzag,
                                  zigzag_accelerator, zigzag_counts_as_ours, zigzag_layer)


def test_layer_in_zigzag_workload_format():
    layer = ConvLayer(56, 56, 64, 3, 128, 2, 1)
    entry = zigzag_layer(layer, 3, "conv")
    sizes = dict(zip(entry["loop_dims"], entry["loop_sizes"]))
    assert sizes == {DIM_TO_ZIGZAG[d]: e for d, e in dim_extents(layer).items()}
    assert entry["dimension_relations"] == ["ix=2*ox+1*fx", "iy=2*oy+1*fy"]
    assert entry["padding"] == [[1, 1], [1, 1]] and entry["pr_loop_dims"] == ["IX", "IY"]
    assert entry["operand_source"] == {"I": 3, "W": 3}  # constant operands: read from DRAM
    assert "padding" not in zigzag_layer(ConvLayer(8, 8, 4, 1, 4), 0)
    json.dumps(entry)


def test_accelerator_has_our_capacities_costs_and_array():
    costs = EnergyCosts(1, 2, 6, 200, 1)
    acc = zigzag_accelerator(Buffers(1024, 512, 256), 12, 14, costs, registers=Buffers(4, 3, 2))
    mem = acc["memories"]
    assert mem["buf_input"]["size"] == 1024 * 8 and mem["buf_weight"]["size"] == 512 * 8
    assert mem["reg_output"]["size"] == 2 * 8 and mem["reg_output"]["served_dimensions"] == []
    assert mem["buf_output"]["served_dimensions"] == ["D1", "D2"]
    assert mem["dram"]["operands"] == ["I1", "I2", "O"]
    # a word of a buffer port is up to 168 elements wide and costs 168 elements' worth
    assert mem["buf_input"]["r_cost"] == 6 * 168 and mem["buf_input"]["ports"][0]["bandwidth_max"] == 8 * 168
    assert mem["reg_input"]["r_cost"] == 1 and mem["dram"]["w_cost"] == 200 * 168
    assert acc["operational_array"]["sizes"] == [12, 14] and acc["operational_array"]["unit_energy"] == 1
    assert "reg_input" not in zigzag_accelerator(Buffers(4, 4, 4), 2, 2, costs)["memories"]


@pytest.mark.parametrize("registers", [None, Buffers(9, 9, 4)])
def test_our_mapping_survives_the_round_trip(registers):
    layer = ConvLayer(8, 8, 4, 3, 8, 1, 1)
    hierarchy = Hierarchy(Buffers(256, 256, 64), PEArray(4, 4), registers)
    best = search(layer, hierarchy, "os" if registers is None else None).best
    back, _note = mapping_from_zigzag(mapping_to_zigzag(best), layer, hierarchy)
    assert back is not None
    assert evaluate(back, layer, hierarchy).counts == evaluate(best, layer, hierarchy).counts


def test_uneven_zigzag_factors_become_divisors_and_boundaries_are_tried():
    layer = ConvLayer(56, 56, 64, 3, 64, 1, 1)
    hierarchy = Hierarchy(Buffers(1024, 1024, 256), PEArray(12, 14))
    # ZigZag's report for this layer (uneven: OX 11.2 and C 12.8 over the array); each operand
    # cuts the same order (innermost first) at its own buffer.
    order = [["OX", 5], ["FX", 3], ["K", 64], ["OY", 56], ["FY", 3], ["C", 5]]
    report = {
        "temporal": {"O": [order[:2], order[2:]], "W": [order[:1], order[1:]], "I": [order[:3], order[3:]]},
        "spatial": {op: [[["OX", 11.2], ["C", 12.8]], [], []] for op in "OWI"},
    }
    mapping, note = mapping_from_zigzag(report, layer, hierarchy)
    assert mapping is not None and validate(mapping, layer, hierarchy) == []
    assert mapping.factor_product() == dim_extents(layer)
    spatial = {l.dim: l.factor for l in mapping.level("buffer").spatial}
    assert spatial == {"x": 8, "c": 8}  # the largest divisors of 56 and 64 within 11 and 13 that fit
    assert "rounded to divisors for c, x" in note
    # the chosen boundary is the best valid one among those between the operands' cuts (1 to 3)
    singles = []
    for cut in (1, 2, 3):
        forced = dict(report, temporal={op: [order[:cut], order[cut:]] for op in "OWI"})
        m, _ = mapping_from_zigzag(forced, layer, hierarchy)
        if m is not None:
            singles.append(evaluate(m, layer, hierarchy).energy.total)
    assert singles and evaluate(mapping, layer, hierarchy).energy.total == min(singles)


def test_zigzag_counts_are_read_in_our_terms():
    moves = {"O": [{"rd_out_to_low": 5, "wr_in_by_low": 9, "rd_out_to_high": 4, "wr_in_by_high": 1},
                   {"rd_out_to_low": 1, "wr_in_by_low": 4, "rd_out_to_high": 0, "wr_in_by_high": 0}],
             "W": [{"rd_out_to_low": 7, "wr_in_by_low": 0, "rd_out_to_high": 0, "wr_in_by_high": 3},
                   {"rd_out_to_low": 3, "wr_in_by_low": 0, "rd_out_to_high": 0, "wr_in_by_high": 0}],
             "I": [{"rd_out_to_low": 8, "wr_in_by_low": 0, "rd_out_to_high": 0, "wr_in_by_high": 2},
                   {"rd_out_to_low": 2, "wr_in_by_low": 0, "rd_out_to_high": 0, "wr_in_by_high": 0}]}
    ours = zigzag_counts_as_ours(moves, ("memory", "buffer"))
    assert ours["buffer"]["output"] == {"reads": 0, "writes": 9, "fills": 1, "psum_reads": 5, "updates": 4}
    assert ours["memory"]["output"]["writes"] == 4 and ours["memory"]["output"]["psum_reads"] == 1
    assert ours["memory"]["weight"]["reads"] == 3 and ours["buffer"]["input"]["fills"] == 2


def test_every_difference_is_stated():
    assert len(ZIGZAG_DIFFERENCES) >= 6 and all(len(text) > 60 for text in ZIGZAG_DIFFERENCES)


def test_an_unrolling_over_both_array_dimensions_is_split_over_rows_and_cols():
    layer = ConvLayer(14, 14, 256, 1, 512, 2, 0)
    hierarchy = Hierarchy(Buffers(1024, 1024, 256), PEArray(12, 14))
    order = [["OX", 7], ["K", 4], ["OY", 7], ["K", 128], ["C", 2]]  # ZigZag: C 120 = 12 × 10 over D1 and D2
    report = {"temporal": {op: [order[:2], order[2:]] for op in "OWI"},
              "spatial": {op: [[["C", 120]], [], []] for op in "OWI"}}
    mapping, _note = mapping_from_zigzag(report, layer, hierarchy)
    assert mapping is not None and validate(mapping, layer, hierarchy) == []
    spatial = mapping.level("buffer").spatial
    assert {l.dim for l in spatial} == {"c"} and {l.spatial for l in spatial} == {"rows", "cols"}
    assert spatial[0].factor * spatial[1].factor == 64  # the largest divisor of 256 within 120 that fits
