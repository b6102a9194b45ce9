"""Systolic-array mode: every row of SCALE-Sim 3.0.0's reference figures, conventions and the timeline."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from core.dataflow import (
    SCALESIM_CONVENTIONS,
    ConvLayer,
    SystolicLayer,
    simulate_systolic,
    systolic_timeline,
)
from core.dataflow.systolic_timeline import ifmap_addresses
from core.common.errors import InputError

REFERENCE_CSV = Path(__file__).resolve().parents[1] / "data" / "scalesim_small_layers.csv"


def _rows():
    with REFERENCE_CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def _layer(row) -> SystolicLayer:
    return SystolicLayer(*(int(row[k]) for k in (
        "ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride")))


def _run(row):
    sram = tuple(int(row[k]) for k in ("sram_ifmap_kb", "sram_filter_kb", "sram_ofmap_kb"))
    return simulate_systolic(_layer(row), int(row["array_rows"]), int(row["array_cols"]), row["dataflow"], sram)


def test_reference_file_has_three_layers_in_three_dataflows():
    rows = _rows()
    assert len(rows) == 9
    assert {(r["case"], r["dataflow"]) for r in rows} == {
        (case, df) for case in ("toy", "seed", "lenet_conv2") for df in ("os", "ws", "is")}


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r['case']}-{r['dataflow']}")
def test_equals_scalesim_3(row):
    result = _run(row)
    assert (result.ofmap_h, result.ofmap_w) == (int(row["ofmap_h_scalesim"]), int(row["ofmap_w_scalesim"]))
    assert result.cycles == int(row["total_cycles"])
    assert 100 * result.utilization == pytest.approx(float(row["overall_util_pct"]), abs=1e-4)
    assert 100 * result.mapping_efficiency == pytest.approx(float(row["mapping_eff_pct"]), abs=1e-4)
    assert result.sram_ifmap_reads == int(row["sram_ifmap_reads"])
    assert result.sram_filter_reads == int(row["sram_filter_reads"])
    assert result.sram_ofmap_writes == int(row["sram_ofmap_writes"])


def test_seed_layer_by_hand():
    # The buffer-level reference layer on a 4×4 array, output-stationary: 20 pixels on rows (5 folds),
    # 1 filter on columns, the 81-element window streamed: folds of 81 + 4 + 4 − 2 = 87 cycles.
    result = simulate_systolic(SystolicLayer(6, 7, 3, 3, 9, 1, 1), 4, 4, "os")
    assert (result.row_folds, result.col_folds, result.fold_cycles) == (5, 1, 87)
    assert result.cycles == 5 * 87 - 1 == 434
    assert result.sram_ofmap_writes == 20 + 5 * (4 + 4)  # SCALE-Sim's OS drain artefact
    assert "cycles = folds·length − 1 = 434" in result.explain()


def test_rounding_differs_only_when_the_stride_does_not_tile():
    layer = SystolicLayer(32, 32, 3, 3, 4, 8, 2)
    assert layer.ofmap("ceil") == (16, 16)
    assert layer.ofmap("floor") == (15, 15) == (ConvLayer(32, 32, 4, 3, 8, 2).out_height,) * 2
    ceil = simulate_systolic(layer, 8, 8, "ws")
    floor = simulate_systolic(layer, 8, 8, "ws", rounding="floor")
    assert ceil.temporal == 256 and floor.temporal == 225
    assert ceil.sram_ifmap_reads == 256 * 36 and floor.sram_ifmap_reads == 225 * 36
    tiles = SystolicLayer(31, 31, 3, 3, 4, 8, 2)
    assert simulate_systolic(tiles, 8, 8, "os") == simulate_systolic(tiles, 8, 8, "os", rounding="ceil")
    assert tiles.ofmap("ceil") == tiles.ofmap("floor") == (15, 15)


def test_conventions_are_explained():
    text = " ".join(SCALESIM_CONVENTIONS)
    for phrase in ("ceil((H − Fh) / S) + 1", "floor", "partial sum", "(R + C) per fold", "artefact", "estimate"):
        assert phrase in text


def test_padded_conv_layer_is_mapped_on_the_padded_input():
    conv = ConvLayer(28, 28, 1, 5, 6, padding=2)
    result = simulate_systolic(conv, 8, 8, "os")
    assert (result.ofmap_h, result.ofmap_w) == (28, 28)
    assert result.macs == conv.macs


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: SystolicLayer(4, 4, 5, 3, 1, 1), "filter height: 5 is larger than the ifmap height 4"),
        (lambda: SystolicLayer(4, 4, 3, 3, 0, 1), "channels: 0 is not allowed"),
        (lambda: simulate_systolic(SystolicLayer(6, 6, 3, 3, 1, 1), 0, 4, "os"), "array rows: 0 is not allowed"),
        (lambda: simulate_systolic(SystolicLayer(6, 6, 3, 3, 1, 1), 4, 4, "rs"), "dataflow: 'rs' is not a systolic"),
        (lambda: simulate_systolic(SystolicLayer(6, 6, 3, 3, 1, 1), 4, 4, "os", (64, 64)), "SRAM sizes"),
        (lambda: SystolicLayer(6, 6, 3, 3, 1, 1).ofmap("round"), "output rounding: 'round' is not known"),
    ],
)
def test_invalid_inputs_raise_input_error(call, message):
    with pytest.raises(InputError) as err:
        call()
    assert str(err.value).startswith(message)


# -- per-cycle occupancy ---------------------------------------------------------------------
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(
    "layer, rows, cols",
    [(SystolicLayer(6, 6, 3, 3, 1, 4, 1), 4, 4), (SystolicLayer(6, 7, 3, 3, 9, 1, 1), 4, 4),
     (SystolicLayer(9, 8, 3, 2, 2, 3, 2), 3, 5)],
)
def test_timeline_holds_every_mac_once_within_scalesims_cycles(layer, rows, cols, dataflow):
    result = simulate_systolic(layer, rows, cols, dataflow)
    tl = systolic_timeline(layer, rows, cols, dataflow)
    assert tl.cycles == result.cycles + 1 == tl.scalesim_cycles + 1
    assert tl.busy.shape == (tl.cycles, rows, cols)
    assert tl.busy.sum() == result.macs
    # Each (output, window element) pair is computed exactly once, by a busy PE.
    window = tl.filter_addr[tl.busy] % layer.window
    pairs = tl.ofmap_index[tl.busy].astype(np.int64) * layer.window + window
    assert len(np.unique(pairs)) == result.macs
    assert (tl.ofmap_index[~tl.busy] == -1).all()
    assert tl.utilization.sum() * rows * cols == pytest.approx(result.macs)
    assert tl.utilization.mean() * tl.cycles / result.cycles == pytest.approx(result.utilization)
    assert len(tl.fold_starts) == result.folds and tl.fold_starts[1] == result.fold_cycles


def test_timeline_operands_follow_the_stationary_choice():
    layer = SystolicLayer(6, 6, 3, 3, 1, 4, 1)
    ws = systolic_timeline(layer, 4, 4, "ws")
    # Weight-stationary: within a fold a PE only ever sees one filter element.
    fold = slice(ws.fold_starts[0], ws.fold_starts[1])
    for r in range(4):
        for c in range(4):
            seen = np.unique(ws.filter_addr[fold, r, c][ws.busy[fold, r, c]])
            assert len(seen) == 1
    os_ = systolic_timeline(layer, 4, 4, "os")
    # Output-stationary: a PE accumulates a single output per fold.
    first_fold = os_.ofmap_index[: os_.fold_starts[1], 0, 0]
    assert len(np.unique(first_fold[first_fold >= 0])) == 1
    # First MAC of PE (0, 0): pixel 0, window element 0 → ifmap address 0, filter address 0.
    assert os_.busy[0, 0, 0] and os_.ifmap_addr[0, 0, 0] == 0 and os_.filter_addr[0, 0, 0] == 0


def test_ifmap_addresses_follow_scalesims_layout_and_mark_the_edge():
    addr = ifmap_addresses(SystolicLayer(5, 5, 2, 2, 2, 1, 2))  # ceil: 3×3 outputs, last window past the edge
    assert addr.shape == (9, 8)
    assert addr[0].tolist() == [0, 1, 2, 3, 10, 11, 12, 13]
    assert (addr[2, 2:4] == -1).all() and addr[2, 0] == 8


def test_timeline_refuses_layers_too_large_to_animate():
    with pytest.raises(InputError, match="systolic animation"):
        systolic_timeline(SystolicLayer(56, 56, 3, 3, 64, 64), 16, 16, "os", max_cells=100_000)
