"""Other tools' totals (core.graph.other_tools) against the tools themselves.

fvcore, thop and torchinfo are run on the module MLSys Studio builds from each network
(eval mode, CPU, batch 2) and must report exactly the total the engine predicts from
the network alone; ptflops is not reproduced, so its name must not be printed. Networks:
presets (LeNet-5 and its variants, an autoencoder-classifier, a small transformer,
BERT-base) and torchvision models imported at small input sizes.
"""

from __future__ import annotations

import pytest
import torch
import torchvision

from core.graph.analysis import AnalysisOptions, analyze
from core.graph.other_tools import VERSIONS
from core.graph.presets import load_preset
from core.graph.report import report_json, summary_lines
from core.torchbridge.build import build_model
from core.torchbridge.importer import network_from_module

fvcore_nn = pytest.importorskip("fvcore.nn")
thop = pytest.importorskip("thop")
torchinfo = pytest.importorskip("torchinfo")

BATCH = 2
PRESETS = ["lenet5", "lenet5-classic", "lenet5-ds", "cnn", "mlp", "autoencoder-classifier",
           "transformer"]
TORCHVISION = {"resnet18": (3, 64, 64), "mobilenet_v2": (3, 64, 64),
               "squeezenet1_0": (3, 64, 64), "googlenet": (3, 64, 64),
               "shufflenet_v2_x0_5": (3, 64, 64), "efficientnet_b0": (3, 64, 64),
               "mobilenet_v3_small": (3, 64, 64), "regnet_x_400mf": (3, 64, 64),
               "mnasnet0_5": (3, 64, 64), "alexnet": (3, 127, 131),
               "densenet121": (3, 48, 48)}

pytestmark = pytest.mark.filterwarnings("ignore")


def tiny_vit():
    return torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32,
        num_classes=5)


def network_of(name):
    if name in TORCHVISION:
        kwargs = {"aux_logits": False} if name == "googlenet" else {}
        model = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
        return network_from_module(model, TORCHVISION[name], name)
    if name == "tiny_vit":
        return network_from_module(tiny_vit().eval(), (3, 32, 32), name)
    return load_preset(name)


def measured_by_tools(network) -> dict:
    torch.manual_seed(0)
    model = build_model(network).eval()
    inputs = tuple(model.example_inputs(BATCH))
    with torch.no_grad():
        fvcore = fvcore_nn.FlopCountAnalysis(model, inputs)
        fvcore.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        fv_total = fvcore.total()
        thop_total, _ = thop.profile(model, inputs=inputs, verbose=False)
    info = torchinfo.summary(model, input_data=list(inputs), verbose=0)
    return {"fvcore": int(fv_total), "thop": int(thop_total),
            "torchinfo": int(info.total_mult_adds)}


@pytest.mark.parametrize("name", PRESETS + list(TORCHVISION) + ["tiny_vit"])
def test_other_tools_report_what_the_engine_predicts(name):
    network = network_of(name)
    predicted = analyze(network, AnalysisOptions(batch=BATCH)).totals.other_tools
    assert {k: predicted[k] for k in ("fvcore", "thop", "torchinfo")} == \
        measured_by_tools(network)


def test_tools_not_reproduced_are_not_named():
    analysis = analyze(load_preset("resnet18"), AnalysisOptions(batch=BATCH))
    text = "\n".join(summary_lines(analysis))
    assert "ptflops" not in text
    for tool in ("fvcore", "thop", "torchinfo"):
        assert VERSIONS[tool] in text
    other = report_json(analysis, "resnet18")["totals"]["other_tools"]
    assert set(other) == {"fvcore", "thop", "ptflops", "ptflops_aten", "torchinfo"}
    assert other["ptflops"] is None and other["ptflops_aten"] is None


def test_grouped_conv_training_flops_are_flagged_with_the_per_group_figure():
    """mobilenet_v2 (depthwise convolutions): FlopCounterMode's figure stays the torch
    convention; beside it, weight gradients counted per group, which equals
    FlopCounterMode run on the same network with every grouped convolution split into
    its groups (each an ungrouped conv, where FlopCounterMode is exact)."""
    from torch.utils.flop_counter import FlopCounterMode
    network = network_of("mobilenet_v2")
    totals = analyze(network, AnalysisOptions(batch=BATCH)).totals
    assert totals.flops_torch_group_excess > 0
    lines = "\n".join(summary_lines(analyze(network, AnalysisOptions(batch=BATCH))))
    assert f"{totals.flops_torch_training_group_correct:,}" in lines
    assert "FlopCounterMode ignores groups" in lines

    # Oracle: a grouped conv is g convs of Cin/g → Cout/g; FlopCounterMode counts each
    # exactly. Sum the per-group figures of every grouped conv of the network.
    excess = 0
    analysis = analyze(network, AnalysisOptions(batch=BATCH))
    for name in analysis.order:
        r = analysis[name]
        if r.type != "Conv2d" or r.params["groups"] == 1:
            continue
        g, cin = r.params["groups"], r.input_shapes[0][0]
        cout = r.params["out_channels"]
        kernel, stride = r.params["kernel"], r.params["stride"]
        padding, dilation = r.params["padding"], r.params["dilation"]
        with torch.device("meta"):
            grouped = torch.nn.Conv2d(cin, cout, kernel, stride, padding, dilation, g)
            one = torch.nn.Conv2d(cin // g, cout // g, kernel, stride, padding, dilation)
            x = torch.zeros(BATCH, *r.input_shapes[0], requires_grad=r.needs_input_grad)
            xg = torch.zeros(BATCH, cin // g, *r.input_shapes[0][1:],
                             requires_grad=r.needs_input_grad)
        figures = []
        for conv, inp, times in ((grouped, x, 1), (one, xg, g)):
            y = conv(inp)
            with FlopCounterMode(display=False) as counter:
                y.sum().backward()
            figures.append(counter.get_total_flops() * times)
        excess += figures[0] - figures[1]
    assert totals.flops_torch_group_excess == excess
