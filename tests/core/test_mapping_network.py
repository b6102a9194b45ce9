"""The whole-network mapping table: design layers as ConvLayers (checked against the graph
engine's own counts), per-layer searches re-priced independently, totals, shape cache, exports."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from core.common.errors import InputError
from core.common.tables import render
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import Buffers, PEArray
from core.dataflow.mapping_eval import evaluate, validate
from core.dataflow.network import ANY, NetworkMappingTable, NetworkProgress, map_network, map_network_steps
from core.dataflow.network_layers import conv_layer_of, design_layers, network_layers
from core.dataflow.textbook import dataflow_allows
from core.graph.analysis import analyze
from core.graph.presets import load_preset

HIERARCHY = Hierarchy(Buffers(512, 512, 128), PEArray(8, 8))


@pytest.mark.parametrize("preset", ["resnet18", "lenet5", "bert-base"])
def test_design_layers_have_the_graph_engines_macs_and_shapes(preset):
    design = load_preset(preset)
    analysis = analyze(design)
    layers = network_layers(design)
    expected = [n for n in analysis.order if analysis.nodes[n].type in ("Conv2d", "Linear")]
    assert [name for name, _ in layers] == expected
    for name, layer in layers:
        node = analysis.nodes[name]
        assert layer.macs == node.forward.macs.value, name
        out = node.output_shape
        if node.type == "Conv2d":
            assert (layer.filters, layer.out_height, layer.out_width) == tuple(out)
        else:  # a linear layer is a 1×1 convolution over its rows
            assert layer.kernel == 1 and layer.filters == out[-1] and layer.height == 1


def test_resnet18_classifier_is_a_1x1_convolution():
    layers = dict(network_layers(load_preset("resnet18")))
    fc = layers["fc"]
    assert (fc.height, fc.width, fc.channels, fc.kernel, fc.filters) == (1, 1, 512, 1, 1000)
    assert len(layers) == 21


def test_layers_the_lab_cannot_map_are_skipped_with_a_reason():
    grouped = SimpleNamespace(ok=True, type="Conv2d", input_shapes=[(4, 8, 8)], params={
        "kernel": (3, 3), "stride": (1, 1), "padding": (1, 1), "groups": 2, "dilation": (1, 1), "out_channels": 4})
    layer, why = conv_layer_of(grouped)
    assert layer is None and "no groups" in why
    bad = SimpleNamespace(ok=False, type="Conv2d", status=lambda: "kernel larger than input")
    assert conv_layer_of(bad) == (None, "not analysed: kernel larger than input")


def test_every_row_is_the_searched_mapping_repriced_and_totals_add_up():
    table = map_network(load_preset("cnn"), HIERARCHY, "energy", ("ws", ANY))
    assert isinstance(table, NetworkMappingTable) and not table.stopped
    layers = dict(network_layers(load_preset("cnn")))
    for row in table.rows:
        assert row.result is not None, row.error
        cost = evaluate(row.result.best, layers[row.name], HIERARCHY)  # independent re-pricing
        assert cost.energy.total == row.result.cost.energy.total
        assert validate(row.result.best, layers[row.name], HIERARCHY) == []
        if row.dataflow == "ws":
            assert dataflow_allows("ws", row.result.best)
    totals = table.totals()
    for df in ("ws", ANY):
        rows = [r for r in table.rows if r.dataflow == df]
        assert totals[df]["energy"] == sum(r.result.cost.energy.total for r in rows)
        assert totals[df]["cycles"] == sum(r.result.cost.cycles for r in rows)
        assert totals[df]["memory_accesses"] == sum(r.result.cost.memory_accesses for r in rows)
    assert table.best_dataflow() == "ws"  # "any" is not a dataflow
    assert totals[ANY]["energy"] <= totals["ws"]["energy"]


def test_identical_shapes_are_searched_once():
    table = map_network(load_preset("mlp"), HIERARCHY, "accesses", (ANY,))
    names = [r.name for r in table.rows]
    assert names == ["fc1", "fc2", "fc3", "fc4"]
    fc2, fc3 = table.rows[1], table.rows[2]
    assert fc3.reused and not fc2.reused and fc3.result is fc2.result
    assert table.searches == 3


def test_table_renders_in_every_format_and_json():
    table = map_network(load_preset("lenet5"), HIERARCHY, "cycles", ("os",))
    text = render(table.table(), "table")
    assert "conv2" in text and "total" in text
    csv_rows = render(table.table(), "csv").splitlines()
    assert csv_rows[0].startswith("layer,shape,dataflow,energy") and len(csv_rows) == 1 + 5 + 1
    assert "\\begin{tabular}" in render(table.table(), "latex")
    assert render(table.table(), "md").count("\n| ") >= 6
    data = json.loads(json.dumps(table.to_dict()))
    assert data["totals"]["os"]["energy"] == table.totals()["os"]["energy"]
    assert data["layers"][0]["mapping"]["levels"][0]["name"] == "memory"


def test_progress_then_the_table_and_a_stop_gives_a_partial_table():
    items = list(map_network_steps(load_preset("lenet5"), HIERARCHY, "energy", ("ws",)))
    assert all(isinstance(i, NetworkProgress) for i in items[:-1]) and isinstance(items[-1], NetworkMappingTable)
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 3

    partial = list(map_network_steps(load_preset("lenet5"), HIERARCHY, "energy", ("ws",), stop=stop))[-1]
    assert partial.stopped and len(partial.rows) < 5


def test_bad_requests_name_what_is_allowed():
    with pytest.raises(InputError, match="dataflow: 'xx' is not known"):
        map_network(load_preset("lenet5"), HIERARCHY, "energy", ("xx",))
    with pytest.raises(InputError, match="objective"):
        map_network(load_preset("lenet5"), HIERARCHY, "speed")
    narrow = Hierarchy(Buffers(64, 64, 16), PEArray(4, 4))  # row-stationary needs K = 5 PE rows
    table = map_network(load_preset("lenet5"), narrow, "energy", ("rs",))
    errors = {r.name: r.error for r in table.rows if r.result is None}
    assert set(errors) == {"conv1", "conv2", "conv3"} and all("no mapping that rs allows" in e for e in errors.values())
    assert table.totals()["rs"]["energy"] is None and table.totals()["rs"]["missing"] == list(errors)
    assert table.best_dataflow() is None
    assert design_layers(load_preset("lenet5-ds"))[1] == {}
