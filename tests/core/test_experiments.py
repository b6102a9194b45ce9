"""Experiments: sweep values, network variants (checked against torch), the shape check of
every variant before training (through core.training.sweeps.make_tasks) and the
``experiment`` command. The sweeps' own runs, events and tables: tests/core/test_sweeps.py."""

from __future__ import annotations

import json

import pytest

from core.training import data as mnist
from core.graph.analysis import analyze
from core.cli.parser import main
from core.training.data import load_sample
from core.common.errors import InputError
from core.training.experiments import SWEEP_KINDS, Sweep, parse_sweep, parse_values, variant
from core.training.sweeps import Grid, make_tasks
from core.graph.network import Network
from core.graph.presets import load_preset
from core.training.trainer import TrainConfig, TrainedModel
from mnist_files import write_set

FAST = TrainConfig(epochs=1, batch_size=64, seed=0, threads=1)  # steady on busy machines


def torch_params(network: Network) -> int:
    """Independent oracle: parameters of the torch module built from the network."""
    model = TrainedModel.from_network(network)
    return sum(p.numel() for p in model.module.parameters())


def count_types(network: Network, type_name: str) -> int:
    return sum(1 for n in network.nodes.values() if n.type == type_name)


# -- parse_values ------------------------------------------------------------------------
@pytest.mark.parametrize("kind, text, expected", [
    ("batch_size", "1, 32, 64,128", (1, 32, 64, 128)),
    ("batch_size", "65536", (65536,)),
    ("width", "0.5, 1, 2", (0.5, 1, 2)),
    ("width", "16", (16,)),
    ("depth", "0 1 2", (0, 1, 2)),
    ("kernel", "1,3,5,7,9,11", (1, 3, 5, 7, 9, 11)),
])
def test_parse_values_accepts(kind, text, expected):
    assert parse_values(kind, text) == expected


@pytest.mark.parametrize("kind, text, fragment", [
    ("batch_size", "0", "whole numbers from 1 to 65,536"),
    ("batch_size", "65537", "whole numbers from 1 to 65,536"),
    ("batch_size", "2.5", "whole numbers from 1 to 65,536"),
    ("batch_size", "big", "whole numbers from 1 to 65,536"),
    ("width", "0", "numbers > 0 and ≤ 16"),
    ("width", "17", "numbers > 0 and ≤ 16"),
    ("width", "nan", "numbers > 0 and ≤ 16"),
    ("depth", "9", "whole numbers from 0 to 8"),
    ("depth", "-1", "whole numbers from 0 to 8"),
    ("kernel", "4", "odd whole numbers from 1 to 11"),
    ("kernel", "13", "odd whole numbers from 1 to 11"),
])
def test_parse_values_rejects_naming_kind_and_range(kind, text, fragment):
    with pytest.raises(InputError) as info:
        parse_values(kind, text)
    message = str(info.value)
    assert message.startswith(kind) and fragment in message


@pytest.mark.parametrize("text, fragment", [
    ("", "needs at least one value"), (" , ", "needs at least one value"),
    ("32, 64, 32", "32 is given more than once"),
    (",".join(str(v) for v in range(1, 14)), "has 13 values: use at most 12"),
])
def test_parse_values_empty_duplicates_and_too_many(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_values("batch_size", text)


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(InputError) as info:
        parse_values("colour", "1")
    assert all(kind in str(info.value) for kind in SWEEP_KINDS)
    with pytest.raises(InputError, match="KIND=V1,V2"):
        parse_sweep("batch_size")
    assert parse_sweep("batch_size=32,64") == Sweep("batch_size", (32, 64))


def test_sweep_checks_its_values():
    assert Sweep("width", [0.5, 2.0]).values == (0.5, 2)
    with pytest.raises(InputError, match="kernel value 2"):
        Sweep("kernel", (3, 2))
    with pytest.raises(InputError, match="depth needs at least one value"):
        Sweep("depth", ())


# -- variants ----------------------------------------------------------------------------
@pytest.mark.parametrize("preset, kind, value", [
    ("lenet5", "width", 2), ("lenet5", "width", 0.5), ("lenet5-ds", "width", 2),
    ("mlp", "width", 0.5), ("lenet5", "kernel", 3), ("lenet5", "kernel", 7),
    ("lenet5-ds", "kernel", 3), ("cnn", "kernel", 5), ("lenet5", "depth", 2),
    ("mlp", "depth", 2), ("lenet5-classic", "depth", 1), ("lenet5", "depth", 0),
    ("lenet5-ds", "depth", 1),
])
def test_variant_params_match_torch(preset, kind, value):
    net = variant(load_preset(preset), kind, value)
    analysis = analyze(net)
    assert analysis.ok, analysis.first_error()
    assert analysis.totals.params == torch_params(net)


def test_width_scales_hidden_layers_but_not_the_class_scores():
    net = variant(load_preset("lenet5"), "width", 2)
    assert net.name == "lenet5 (width ×2)"
    analysis = analyze(net)
    assert analysis["conv1"].output_shape == (12, 28, 28)
    assert analysis["conv3"].output_shape == (240, 1, 1)
    assert analysis["fc1"].output_shape == (168,)
    assert analysis["fc2"].output_shape == (10,)
    half = analyze(variant(load_preset("lenet5"), "width", 0.5))
    assert half["conv1"].output_shape[0] == 3 and half["fc2"].output_shape == (10,)


def test_width_keeps_a_reconstruction_and_depthwise_groups_consistent():
    ae = analyze(variant(load_preset("autoencoder-classifier"), "width", 2))
    assert ae.ok and ae["dec_conv2"].output_shape == (3, 14, 14)
    assert ae["dec_unpool2"].output_shape == ae["target"].output_shape == (3, 28, 28)
    assert ae["enc_conv2"].output_shape[0] == 128
    net = Network("dw")
    net.add_node("Input", "input", {"shape": [1, 28, 28]})
    net.add_node("Conv2d", "c1", {"out_channels": 8, "kernel": 3}, ["input"])
    net.add_node("Conv2d", "dw", {"out_channels": 16, "kernel": 3, "groups": 8}, ["c1"])
    net.add_node("Flatten", "f", {}, ["dw"])
    net.add_node("Linear", "fc", {"out_features": 10}, ["f"])
    wide = variant(net, "width", 0.5)
    assert wide.nodes["dw"].params["groups"] == 4
    assert wide.nodes["dw"].params["out_channels"] == 8  # channel multiplier 2 kept
    assert analyze(wide).totals.params == torch_params(wide)


def test_kernel_keeps_same_convolutions_same():
    net = variant(load_preset("lenet5"), "kernel", 3)
    assert net.name == "lenet5 (kernel 3×3)"
    analysis = analyze(net)
    assert net.nodes["conv1"].params["padding"] == 1
    assert analysis["conv1"].output_shape == (6, 28, 28)
    # conv2 and conv3 have no padding to take away: their outputs grow, and fc1 follows
    assert analysis["conv2"].output_shape == (16, 12, 12)
    assert analysis["conv3"].output_shape == (120, 4, 4)
    assert analysis["fc1"].input_shapes == [(120 * 4 * 4,)]
    big = analyze(variant(load_preset("lenet5"), "kernel", 11))
    assert big.ok and big["conv1"].output_shape == (6, 28, 28)


def test_depth_adds_conv_layers_that_run():
    import torch
    base = load_preset("lenet5")
    net = variant(base, "depth", 2)
    assert net.name == "lenet5 (depth +2)"
    assert count_types(net, "Conv2d") == count_types(base, "Conv2d") + 2
    assert count_types(net, "ReLU") == count_types(base, "ReLU") + 2
    model = TrainedModel.from_network(net)
    with torch.no_grad():
        out = model.logits(torch.zeros(2, 1, 28, 28))
    assert tuple(out.shape) == (2, 10)


def test_depth_without_convs_adds_dense_layers():
    base = load_preset("mlp")
    net = variant(base, "depth", 3)
    assert count_types(net, "Linear") == count_types(base, "Linear") + 3
    extra = [n for n in net.nodes.values() if n.name.startswith("extra_fc")]
    assert all(n.params["out_features"] == 256 for n in extra)
    assert net.nodes["fc4"].inputs == ["extra_relu3"]


def test_variant_leaves_the_input_network_unchanged():
    base = load_preset("lenet5")
    before = {n: (v.type, dict(v.params), list(v.inputs)) for n, v in base.nodes.items()}
    for kind, value in (("width", 2), ("kernel", 3), ("depth", 2), ("batch_size", 32)):
        variant(base, kind, value)
    assert {n: (v.type, dict(v.params), list(v.inputs)) for n, v in base.nodes.items()} == before
    assert base.name == "lenet5"


def test_variant_refuses_what_the_network_lacks():
    with pytest.raises(InputError, match=r"mlp \(kernel 3×3\): no Conv2d"):
        variant(load_preset("mlp"), "kernel", 3)
    with pytest.raises(InputError, match="kernel value 4"):
        variant(load_preset("lenet5"), "kernel", 4)


# -- plan --------------------------------------------------------------------------------
def residual_net() -> Network:
    """A conv branch (5×5, no padding) added to a 5×5 max-pool branch: only kernel 5 fits."""
    net = Network("residual")
    net.add_node("Input", "input", {"shape": [1, 28, 28]})
    net.add_node("Conv2d", "conv", {"out_channels": 1, "kernel": 5}, ["input"])
    net.add_node("MaxPool2d", "pool", {"kernel": 5, "stride": 1}, ["input"])
    net.add_node("Add", "add", {}, ["conv", "pool"])
    net.add_node("Flatten", "flatten", {}, ["add"])
    net.add_node("Linear", "fc", {"out_features": 10}, ["flatten"])
    return net


def plan(network: Network, sweep: Sweep, config: TrainConfig):
    """The tasks of a one-dimension sweep (each variant shape-checked before training)."""
    return make_tasks(network, Grid((sweep,)), config)


def test_plan_makes_one_run_per_value():
    runs = plan(load_preset("lenet5"), Sweep("batch_size", (32, 128)), FAST)
    assert [r.index for r in runs] == [1, 2]
    assert [r.config.batch_size for r in runs] == [32, 128]
    assert [r.label for r in runs] == ["batch 32", "batch 128"]
    runs = plan(load_preset("lenet5"), Sweep("width", (1, 2)), FAST)
    assert all(r.config.batch_size == FAST.batch_size for r in runs)


def test_plan_rejects_a_kernel_that_breaks_shapes_before_training(monkeypatch):
    from core.training import trainer as training

    def no_training(*args, **kwargs):
        raise AssertionError("plan must not train")
    monkeypatch.setattr(training, "train", no_training)
    with pytest.raises(InputError) as info:
        plan(residual_net(), Sweep("kernel", (5, 3)), FAST)
    message = str(info.value)
    assert "kernel 3×3" in message and "add" in message


def test_plan_rejects_groups_that_no_longer_divide():
    net = Network("grouped")
    net.add_node("Input", "input", {"shape": [1, 28, 28]})
    net.add_node("Conv2d", "c1", {"out_channels": 8, "kernel": 3}, ["input"])
    net.add_node("Conv2d", "g", {"out_channels": 8, "kernel": 3, "groups": 4}, ["c1"])
    net.add_node("Flatten", "f", {}, ["g"])
    net.add_node("Linear", "fc", {"out_features": 10}, ["f"])
    with pytest.raises(InputError, match=r"width ×0.75 .*g: groups 4 does not divide"):
        plan(net, Sweep("width", (1, 0.75)), FAST)


def test_plan_rejects_a_network_mnist_cannot_feed():
    with pytest.raises(InputError, match="MNIST training needs"):
        plan(load_preset("autoencoder-classifier-padded"), Sweep("depth", (0,)), FAST)


# -- table and command line --------------------------------------------------------------
def test_cli_json(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    folder = write_set(tmp_path / "mnist", load_sample(), n_train=300)
    code = main(["experiment", "lenet5", "--sweep", "batch_size=64,128", "--epochs", "1",
                 "--format", "json", "--data", str(folder), "--executor", "inline",
                 "--no-store"])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["grid"] == {"batch_size": [64, 128]} and payload["status"] == "finished"
    assert [r["settings"] for r in payload["rows"]] == [{"batch_size": 64},
                                                         {"batch_size": 128}]
    assert [p["n"] for p in payload["points"]] == [1, 1]
    assert payload["rows"][0]["params"] == 61_706
    assert "run 1/2: batch 64 seed 0" in err and "run 2/2: batch 128 seed 0 done" in err


def test_cli_output_file_in_markdown(capsys, tmp_path):
    folder = write_set(tmp_path / "mnist", load_sample(), n_train=300)
    target = tmp_path / "out.md"
    code = main(["experiment", "mlp", "--sweep", "width=0.5,1", "--data", str(folder),
                 "--format", "md", "--output", str(target), "--batch-size", "100",
                 "--executor", "inline", "--no-store"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == ""
    text = target.read_text(encoding="utf-8")
    assert "| 0.5 " in text and "| 1/1 " in text and text.count("| 1/1 ") == 2


@pytest.mark.parametrize("argv, fragment", [
    (["--sweep", "colour=1"], "use one of batch_size, width, depth, kernel"),
    (["--sweep", "kernel=4"], "odd whole numbers from 1 to 11"),
    (["--sweep", "batch_size=32", "--epochs", "0"], "epochs 0 is not allowed"),
    ([], "--sweep"),
])
def test_cli_errors_exit_2(capsys, argv, fragment):
    code = main(["experiment", "lenet5", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("mlsys-studio: error:") and fragment in err
    assert len(err.strip().splitlines()) == 1
