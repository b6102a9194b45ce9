"""Network edits are reversible; designs round-trip; bad files give clear errors."""

from __future__ import annotations

import json

import pytest

from core.graph import io
from core.graph.analysis import analyze
from core.common.errors import DesignFileError, LayerParamError, NetworkError
from core.graph.network import Network
from core.graph.presets import load_preset


def small():
    net = Network("t")
    net.add_node("Input", "x", {"shape": [1, 8, 8]})
    net.add_node("Conv2d", "conv", {"out_channels": 4, "kernel": 3}, ["x"])
    net.add_node("ReLU", "relu", {}, ["conv"])
    return net


def test_remove_and_restore_node_is_exact():
    net = small()
    before = io.dumps(net)
    removed = net.remove_node("conv")
    assert "conv" not in net and net.nodes["relu"].inputs == []
    net.restore_node(removed)
    assert io.dumps(net) == before


def test_set_param_validates_and_returns_old_value():
    net = small()
    assert net.set_param("conv", "kernel", 5) == 3
    with pytest.raises(LayerParamError, match="conv: kernel -1 is not allowed"):
        net.set_param("conv", "kernel", -1)
    with pytest.raises(LayerParamError, match="no parameter 'kernal'"):
        net.set_param("conv", "kernal", 3)


def test_cycles_and_bad_names_are_refused():
    net = small()
    with pytest.raises(NetworkError, match="cycle"):
        net.set_inputs("conv", ["relu"])
    with pytest.raises(NetworkError, match="at most 1 input"):
        net.connect("relu", "conv")
    with pytest.raises(NetworkError, match="not allowed"):
        net.add_node("ReLU", "9lives")
    with pytest.raises(NetworkError, match="already"):
        net.add_node("ReLU", "relu")


def test_insert_on_edge_keeps_the_slot():
    net = small()
    node = net.insert_on_edge("conv", "relu", "BatchNorm2d")
    assert net.nodes["relu"].inputs == [node.name] and node.inputs == ["conv"]
    assert analyze(net)[node.name].output_shape == (4, 6, 6)


def test_rename_updates_references():
    net = Network()
    net.add_node("Input", "x", {"shape": [1, 8, 8]})
    net.add_node("MaxPool2d", "p", {}, ["x"])
    net.add_node("MaxUnpool2d", "u", {"pool": "p"}, ["p"])
    net.rename("p", "pool")
    assert net.nodes["u"].inputs == ["pool"] and net.nodes["u"].params["pool"] == "pool"
    assert analyze(net)["u"].output_shape == (1, 8, 8)


def test_events_are_emitted():
    seen = []
    net = small()
    net.subscribe(lambda kind, data: seen.append(kind))
    net.set_param("conv", "out_channels", 8)
    net.remove_node("relu")
    assert seen == ["param", "removed"]


def test_error_names_layer_parameter_and_limit():
    net = small()
    net.set_param("x", "shape", [1, 5, 5])
    net.set_param("conv", "kernel", 7)
    error = analyze(net)["conv"].error
    assert isinstance(error, LayerParamError) and error.param == "kernel"
    assert str(error) == "conv: kernel 7×7 is larger than its 5×5 input (with padding 0)"
    assert analyze(net)["relu"].waiting_on == "conv"


def test_unconnected_node_is_an_error_not_a_crash():
    net = small()
    net.add_node("Linear", "fc")
    assert "not connected" in analyze(net).errors["fc"]


@pytest.mark.parametrize("name", ["lenet5", "autoencoder-classifier", "bert-base"])
def test_save_load_round_trip(tmp_path, name):
    net = load_preset(name)
    path = tmp_path / "d.json"
    io.save(net, path)
    again = io.load(path)
    assert io.dumps(again) == io.dumps(net)
    assert analyze(again).totals.macs == analyze(net).totals.macs


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON (line 1"),
    ("[1, 2]", "expected a JSON object"),
    ('{"format": "other"}', "not an MLSys Studio design"),
    ('{"format": "mlsys-studio-design", "version": 99, "nodes": []}',
     "newer MLSys Studio (format version 99; this one reads up to 1)"),
    ('{"format": "mlsys-studio-design", "version": 1, "nodes": [{"name": "a", "type": "Foo"}]}',
     "unknown layer type 'Foo'"),
    ('{"format": "mlsys-studio-design", "version": 1, "nodes": [{"name": "a", "type": "Conv2d",'
     ' "params": {"kernel": "big"}}]}', "a: kernel 'big' is not allowed"),
    ('{"format": "mlsys-studio-design", "version": 1, "nodes": [{"name": "a", "type": "ReLU",'
     ' "inputs": ["ghost"]}]}', "reads 'ghost', which is not in the design"),
    ('{"format": "mlsys-studio-design", "version": 1, "nodes": [{"name": "a", "type": "ReLU",'
     ' "inputs": ["b"]}, {"name": "b", "type": "ReLU", "inputs": ["a"]}]}', "cycle"),
])
def test_malformed_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DesignFileError) as info:
        io.load(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DesignFileError, match="no such file"):
        io.load(tmp_path / "none.json")


def test_saved_file_is_versioned_json(tmp_path):
    io.save(small(), tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["format"] == "mlsys-studio-design" and data["version"] == 1


def test_pool_padding_limit_follows_torch_on_the_undilated_window():
    """Found by the random cross-check: torch refuses padding > kernel // 2 even when a
    dilation makes the window wider."""
    net = Network()
    net.add_node("Input", "x", {"shape": [1, 12, 12]})
    net.add_node("MaxPool2d", "p", {"kernel": 3, "stride": 1, "padding": 2, "dilation": 2},
                 ["x"])
    assert "padding 2 is more than half the 3×3 window" in analyze(net).errors["p"]
    net.set_param("p", "padding", 1)
    assert analyze(net).errors == {}
