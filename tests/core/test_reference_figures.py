"""Published and hand-derived figures the engine must reproduce exactly (DESIGN.md)."""

from __future__ import annotations

import pytest

from core.graph.analysis import AnalysisOptions, analyze
from core.graph.dsconv import compare_depthwise_separable
from core.graph.presets import load_preset, preset_names


def lenet(bias_adds=True, batch=1):
    return analyze(load_preset("lenet5"), AnalysisOptions(batch=batch, bias_adds=bias_adds))


def test_lenet5_macs_per_layer_and_total():
    a = lenet()
    macs = {n: a[n].forward.macs.value for n in ("conv1", "conv2", "conv3", "fc1", "fc2")}
    assert macs == {"conv1": 117_600, "conv2": 240_000, "conv3": 48_000, "fc1": 10_080,
                    "fc2": 840}
    assert a.totals.macs == 416_520
    assert a.totals.params == 61_706


def test_lenet5_adds_without_and_with_bias():
    assert lenet(bias_adds=False).totals.add == 410_002
    conventions = lenet().totals.tool_conventions()
    assert conventions["MACs (no bias adds)"] == 416_520
    assert conventions["MACs + bias adds"] == 423_038


def test_lenet5_logic_ops_of_relu_and_maxpool():
    a = lenet()
    assert a["relu1"].forward.logic.value == 6 * 28 * 28
    assert a["pool1"].forward.logic.value == 6 * 14 * 14 * 3  # 2×2 window: 3 comparisons


def test_conv1_formula_shows_values():
    assert lenet()["conv1"].forward.macs.text() == "6 × 28 × 28 × (1 × 5 × 5) = 117,600"
    assert lenet()["conv1"].forward.macs.symbolic == "Cout × Hout × Wout × (Cin × Kh × Kw)"


def test_batch_scales_forward_and_formula():
    a = lenet(batch=4)
    assert a["conv1"].forward.macs.value == 4 * 117_600
    assert a["conv1"].forward.macs.text().startswith("4 × (6 × 28 × 28")
    assert a["conv1"].activation_bytes.value == 4 * 6 * 28 * 28 * 4


def test_lenet5_ds_conv_muls_and_formula_per_layer():
    comparison = compare_depthwise_separable(load_preset("lenet5"))
    muls = {s.name: s.separable_mul for s in comparison.layers}
    assert muls == {"conv1": 24_304, "conv2": 24_600, "conv3": 2_320}
    assert all(s.formula_holds for s in comparison.layers)
    # and the shipped lenet5-ds preset agrees with the conversion
    ds = analyze(load_preset("lenet5-ds"))
    assert {n: ds[n].forward.mul.value for n in muls} == muls


def test_depthwise_separable_parts_are_visible():
    part_names = [p.part for p in analyze(load_preset("lenet5-ds"))["conv2"].parts]
    assert part_names == ["depthwise", "pointwise"]


def test_backward_of_first_conv_has_no_input_gradient():
    a = lenet(batch=8)
    assert not a["conv1"].needs_input_grad
    assert a["conv1"].backward.input_grad.mul.value == 0
    assert a["conv2"].needs_input_grad
    # weight gradient: each of Cout·Cin·K² weights sums B·Ho·Wo products
    w = a["conv2"].backward.weight_grad
    assert w.mul.value == 8 * 240_000
    assert w.add.value == 16 * 6 * 25 * (8 * 10 * 10 - 1)
    assert a["conv2"].backward.bias_grad.add.value == 16 * (8 * 10 * 10 - 1)


def test_input_gradient_adds_of_a_conv_counts_touched_inputs():
    a = lenet(batch=2)
    # conv2 reads all of its 6×14×14 input (stride 1, no padding): each input's gradient
    # sums its contributions, so adds = B·(MACs − Cin·H·W).
    assert a["conv2"].backward.input_grad.add.value == 2 * (240_000 - 6 * 14 * 14)


def test_multi_loss_graph_says_which_loss_reaches_which_layer():
    a = analyze(load_preset("autoencoder-classifier"))
    assert set(a.losses) == {"reconstruction", "classification"}
    assert set(a["enc_conv1"].losses) == {"reconstruction", "classification"}
    assert a["dec_conv1"].losses == ("reconstruction",)
    assert a["fc1"].losses == ("classification",)
    assert a["dec_unpool2"].output_shape == (3, 28, 28)


def test_autoencoder_classifier_is_built_as_specified():
    """No padding in the first convolution, no activations in encoder and decoder, a
    64×7×7 code, a 3×28×28 reconstruction compared with a 3×28×28 second input."""
    net = load_preset("autoencoder-classifier")
    a = analyze(net)
    assert net.input_names() == ["image", "target"]
    assert a["image"].output_shape == (3, 32, 32) and a["target"].output_shape == (3, 28, 28)
    assert a["enc_conv1"].params["padding"] == (0, 0) and a["enc_conv1"].output_shape == (
        16, 28, 28)
    assert a["enc_pool2"].output_shape == (64, 7, 7)
    assert a["flatten"].output_shape == (64 * 7 * 7,)
    assert [a[n].output_shape[0] for n in ("fc1", "fc2", "fc3")] == [160, 84, 10]
    assert net.nodes["reconstruction"].inputs == ["dec_unpool2", "target"]
    encoder_decoder = [n for n in a.order if n.startswith(("enc_", "dec_"))]
    assert {a[n].type for n in encoder_decoder} == {"Conv2d", "MaxPool2d", "MaxUnpool2d"}


def test_each_loss_reaches_the_layers_autograd_says_it_reaches():
    """Oracle: torch autograd on the built model, one loss at a time: the layers whose
    parameters get a gradient from a loss are the layers the ledger lists it for."""
    import torch

    from core.torchbridge.build import build_model
    net = load_preset("autoencoder-classifier")
    a = analyze(net)
    torch.manual_seed(0)
    model = build_model(net)
    image, target = model.example_inputs(2)
    for loss in ("reconstruction", "classification"):
        model.zero_grad(set_to_none=True)
        values = model.run(image, target, labels=torch.tensor([1, 2]))
        values[loss].backward()
        reached = {name for name, key in model.keys.items()
                   if any(p.grad is not None and p.grad.abs().sum() > 0
                          for p in model.layers[key].parameters())}
        ledger = {n for n in a.order if loss in a[n].losses and a[n].param_shapes}
        assert reached == ledger
    assert {n for n in a.order if a[n].param_shapes and set(a[n].losses) == {
        "reconstruction", "classification"}} == {"enc_conv1", "enc_conv2"}


@pytest.mark.parametrize("precision,size", [("fp32", 4), ("fp16", 2), ("bf16", 2),
                                            ("int8", 1)])
def test_memory_by_precision(precision, size):
    a = analyze(load_preset("lenet5"), AnalysisOptions(batch=3, precision=precision,
                                                       optimizer="adam"))
    assert a.memory.parameters == 61_706 * size
    assert a.memory.gradients == 61_706 * size
    assert a.memory.optimizer_state == 2 * 61_706 * size
    outputs = sum(r.output_shape and __import__("math").prod(r.output_shape)
                  for r in a.nodes.values())
    assert a.memory.activations == 3 * outputs * size


def test_published_parameter_counts():
    assert analyze(load_preset("resnet18")).totals.params == 11_689_512
    assert analyze(load_preset("bert-base")).totals.params == 109_482_240


def test_every_preset_analyses_without_errors():
    for name in preset_names():
        assert analyze(load_preset(name)).errors == {}, name


def test_bert_sequence_length_is_the_input_shape():
    from core.torchbridge.resolve import set_input_shape
    net = load_preset("bert-base")
    set_input_shape(net, (256,))
    a = analyze(net)
    assert a["token_type_ids"].output_shape == (256,)
    assert a["l0_attention"].output_shape == (256, 768)
    assert a.totals.params == 109_482_240
    set_input_shape(net, (513,))
    assert "longer than the 512 positions" in analyze(net).first_error()


def test_transformer_defaults_to_fp16():
    net = load_preset("transformer")
    assert net.defaults["precision"] == "fp16"
    a = analyze(net, AnalysisOptions(precision="fp16"))
    assert a.memory.parameters == 2 * a.totals.params
