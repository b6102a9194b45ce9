"""The layer types torchvision's newer models need, each against PyTorch itself.

Each case is a small network (an Input, a Linear or Conv2d in front so that gradients
flow, the layer under test) and the torch expression it stands for, written here
independently of the layer's build(). Checked: output shape (the expression run on meta
tensors), parameter count (the reference module), FlopCounterMode forward and forward +
backward (the reference run), the numbers the built module computes (CPU, same
weights), the exported code (same numbers again), and that every type sits in a palette
category with a doc and a form for each parameter.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.graph.analysis import AnalysisOptions, analyze
from core.graph.catalog import CATEGORIES, by_category, layer_type
from core.graph.network import Network
from core.torchbridge.build import build_model
from core.torchbridge.codegen import class_name, generate

BATCH = 2
NEW_TYPES = ("SiLU", "Hardswish", "Hardsigmoid", "Mul", "StochasticDepth", "Reshape",
             "Permute", "Transpose", "Slice", "ChannelShuffle", "Parameter",
             "AdaptiveMaxPool2d", "WindowAttention", "PatchMerge")


class Reference(nn.Module):
    """conv (4→6, 3×3, padding 1) on a 4×6×5 input, then ``tail`` (torch expressions)."""

    def __init__(self, tail, extra=None):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, padding=1)
        self.extra = extra  # a module holding the tail's own parameters
        self.tail = tail

    def forward(self, x):
        return self.tail(self, self.conv(x))


def net_with(*layers) -> Network:
    """Input 4×6×5 → conv → layers, each (type, params, extra inputs)."""
    net = Network("t")
    net.add_node("Input", "x", {"shape": [4, 6, 5]})
    net.add_node("Conv2d", "conv", {"out_channels": 6, "kernel": 3, "padding": 1}, ["x"])
    last = "conv"
    for i, (kind, params, before) in enumerate(layers):
        for name, (btype, bparams) in before.items():
            net.add_node(btype, name, bparams, [])
        net.add_node(kind, f"n{i}", params, [last] + list(before))
        last = f"n{i}"
    return net


CASES = {
    "SiLU": ([("SiLU", {}, {})], lambda m, y: F.silu(y), None),
    "Hardswish": ([("Hardswish", {}, {})], lambda m, y: F.hardswish(y), None),
    "Hardsigmoid": ([("Hardsigmoid", {}, {})], lambda m, y: F.hardsigmoid(y), None),
    "GELU tanh": ([("GELU", {"approximate": "tanh"}, {})],
                  lambda m, y: F.gelu(y, approximate="tanh"), None),
    "Softmax dim 1": ([("Softmax", {"dim": 1}, {})], lambda m, y: y.softmax(1), None),
    "Mul squeeze-excitation": (
        [("AdaptiveAvgPool2d", {"output_size": 1}, {}), ("Sigmoid", {}, {}),
         ("Mul", {}, {})],
        None, None),  # wired below: gate × the conv output
    "Mul by a Parameter": ([("Mul", {}, {"scale": ("Parameter", {"shape": [6, 1, 1]})})],
                           lambda m, y: y * m.extra, lambda: nn.Parameter(torch.randn(6, 1, 1))),
    "StochasticDepth": ([("StochasticDepth", {"p": 0.2}, {})], lambda m, y: y, None),
    "Reshape": ([("Reshape", {"shape": [2, 3, 30]}, {})],
                lambda m, y: y.reshape(y.shape[0], 2, 3, 30), None),
    "Permute": ([("Permute", {"order": [2, 3, 1]}, {})],
                lambda m, y: y.permute(0, 2, 3, 1), None),
    "Transpose": ([("Transpose", {"dim0": 1, "dim1": 3}, {})],
                  lambda m, y: y.transpose(1, 3), None),
    "Slice": ([("Slice", {"dim": 1, "start": 2, "length": 3}, {})],
              lambda m, y: y[:, 2:5], None),
    "ChannelShuffle": ([("ChannelShuffle", {"groups": 3}, {})],
                       lambda m, y: y.view(y.shape[0], 3, 2, 6, 5).transpose(1, 2)
                       .reshape(y.shape[0], 6, 6, 5), None),
    "AdaptiveMaxPool2d": ([("AdaptiveMaxPool2d", {"output_size": [4, 3]}, {})],
                          lambda m, y: F.adaptive_max_pool2d(y, (4, 3)), None),
    "LayerNorm over 2 dims": (
        [("Permute", {"order": [2, 3, 1]}, {}),
         ("LayerNorm", {"dims": 2}, {})],
        lambda m, y: m.extra(y.permute(0, 2, 3, 1)), lambda: nn.LayerNorm((5, 6))),
    "Parameter joined as a class token": (
        [("Reshape", {"shape": [6, 30]}, {}), ("Permute", {"order": [2, 1]}, {}),
         ("Concat", {"dim": 0}, {"cls": ("Parameter", {"shape": [1, 6]})})],
        lambda m, y: torch.cat([y.reshape(y.shape[0], 6, 30).permute(0, 2, 1),
                                m.extra.expand(y.shape[0], -1, -1)], 1),
        lambda: nn.Parameter(torch.randn(1, 1, 6))),
}


def se_network() -> Network:
    net = net_with()
    net.add_node("AdaptiveAvgPool2d", "pool", {"output_size": 1}, ["conv"])
    net.add_node("Sigmoid", "gate", {}, ["pool"])
    net.add_node("Mul", "scaled", {}, ["gate", "conv"])
    return net


def case_network(case: str) -> Network:
    if case == "Mul squeeze-excitation":
        return se_network()
    return net_with(*[(k, p, {n: v for n, v in before.items()})
                      for k, p, before in CASES[case][0]])


def case_reference(case: str) -> Reference:
    if case == "Mul squeeze-excitation":
        return Reference(lambda m, y: torch.sigmoid(F.adaptive_avg_pool2d(y, 1)) * y)
    _, tail, extra = CASES[case]
    return Reference(tail, extra() if extra else None)


def measured(model: nn.Module, x: torch.Tensor) -> tuple:
    with FlopCounterMode(display=False) as counter:
        out = model(x)
    forward = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        out.sum().backward()
    return (sum(p.numel() for p in model.parameters()), tuple(out.shape[1:]), forward,
            forward + counter.get_total_flops())


def engine(net: Network) -> tuple:
    analysis = analyze(net, AnalysisOptions(batch=BATCH))
    assert analysis.errors == {}
    t = analysis.totals
    (out,) = net.output_names()
    return (t.params, analysis[out].output_shape, t.flops_torch_forward,
            t.flops_torch_training)


def copy_into(rebuilt, reference: Reference) -> None:
    """The reference's conv and extra parameter (or module) into the built network."""
    rebuilt.layers["conv"].load_state_dict(reference.conv.state_dict())
    for key, layer in rebuilt.layers.items():
        if isinstance(reference.extra, nn.Parameter) and hasattr(layer, "weight") and \
                key not in ("conv",):
            layer.weight.data.copy_(reference.extra.data.reshape(layer.weight.shape))
        elif isinstance(reference.extra, nn.Module) and isinstance(layer, type(reference.extra)):
            layer.load_state_dict(reference.extra.state_dict())


@pytest.mark.parametrize("case", list(CASES))
def test_layer_matches_its_torch_expression(case):
    net = case_network(case)
    with torch.device("meta"):
        reference = case_reference(case).eval()
    assert engine(net) == measured(reference, torch.zeros(BATCH, 4, 6, 5, device="meta"))


@pytest.mark.parametrize("case", list(CASES))
def test_built_and_exported_layers_compute_the_torch_expression(case):
    net = case_network(case)
    torch.manual_seed(0)
    reference = case_reference(case).eval()
    rebuilt = build_model(net).eval()
    copy_into(rebuilt, reference)
    x = torch.randn(BATCH, 4, 6, 5)
    namespace: dict = {}
    exec(compile(generate(net), "<generated>", "exec"), namespace)
    exported = namespace[class_name(net)]().eval()
    exported.load_state_dict({k.removeprefix("layers."): v
                              for k, v in rebuilt.state_dict().items()})
    with torch.no_grad():
        want = reference(x)
        assert torch.allclose(rebuilt(x), want, atol=1e-6)
        assert torch.allclose(exported(x), want, atol=1e-6)


def test_mul_backward_sums_a_broadcast_gradient():
    """The gate (C×1×1) gets g × the map summed over H·W: B·(C·H·W − C) adds; both
    inputs need one mul per output element."""
    analysis = analyze(se_network(), AnalysisOptions(batch=BATCH))
    grad = analysis["scaled"].backward.input_grad
    c, h, w = 6, 6, 5
    assert grad.mul.value == 2 * BATCH * c * h * w
    assert grad.add.value == BATCH * (c * h * w - c)


def test_parameter_gradient_is_summed_over_the_batch():
    net = case_network("Mul by a Parameter")
    analysis = analyze(net, AnalysisOptions(batch=3))
    assert analysis["scale"].backward.weight_grad.add.value == 6 * (3 - 1)
    assert analysis["scale"].losses == ("output",)


@pytest.mark.parametrize("name", NEW_TYPES)
def test_new_types_are_in_the_palette_with_forms(name):
    kind = layer_type(name)
    assert kind.category in CATEGORIES and kind in by_category()[kind.category]
    assert kind.doc
    for spec in kind.params:
        assert spec.doc and spec.allowed()


@pytest.mark.parametrize("kind,params,shape,message", [
    ("Reshape", {"shape": [7, 7]}, [4, 6, 5], "has 49 elements"),
    ("Permute", {"order": [1, 1, 2]}, [4, 6, 5], "is not an order of the dims 1 to 3"),
    ("Slice", {"dim": 1, "start": 3, "length": 2}, [4, 6, 5], "runs past the 4 entries"),
    ("ChannelShuffle", {"groups": 3}, [4, 6, 5], "3 groups do not divide"),
    ("Softmax", {"dim": 4}, [4, 6, 5], "dim 4 is not a dim"),
    ("LayerNorm", {"dims": 4}, [4, 6, 5], "4 dims do not exist"),
    ("Transpose", {"dim0": 1, "dim1": 5}, [4, 6, 5], "dim 5 does not exist"),
])
def test_bad_settings_name_the_field(kind, params, shape, message):
    net = Network("bad")
    net.add_node("Input", "x", {"shape": shape})
    net.add_node(kind, "n", params, ["x"])
    error = analyze(net).errors["n"]
    assert message in error


def test_unknown_type_names_a_close_one_in_a_short_line():
    from core.common.errors import NetworkError
    with pytest.raises(NetworkError, match="unknown layer type 'Silu' .did you mean SiLU"):
        layer_type("Silu")
    with pytest.raises(NetworkError) as caught:
        layer_type("Teleport")
    assert len(str(caught.value)) < 200 and "types are known" in str(caught.value)


def window_network(version: str, shape=(9, 10, 8), window=4, shift=2) -> Network:
    net = Network("swin")
    net.add_node("Input", "x", {"shape": list(shape)})
    net.add_node("WindowAttention", "attn", {"num_heads": 2, "window": window,
                                             "shift": shift, "version": version}, ["x"])
    net.add_node("PatchMerge", "merge", {}, ["attn"])
    return net


def torchvision_window(version: str, window=4, shift=2):
    from torchvision.models import swin_transformer as swin
    cls = swin.ShiftedWindowAttention if version == "v1" else swin.ShiftedWindowAttentionV2
    return cls(8, [window, window], [shift, shift], 2)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("shape,window,shift", [((9, 10, 8), 4, 2), ((8, 8, 8), 4, 0),
                                                ((3, 5, 8), 4, 2)])
def test_window_attention_matches_torchvision(version, shape, window, shift):
    """Against torchvision's ShiftedWindowAttention(V2) followed by its patch-merging
    pad: parameters, FlopCounterMode forward and forward + backward (uneven maps are
    padded, a window that covers the map drops the shift), the numbers computed with the
    same weights, and the exported code."""
    from torchvision.models.swin_transformer import _patch_merging_pad
    net = window_network(version, shape, window, shift)

    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torchvision_window(version, window, shift)

        def forward(self, x):
            return _patch_merging_pad(self.attn(x))

    with torch.device("meta"):
        reference = Reference().eval()
    x = torch.zeros(BATCH, *shape, device="meta")
    params, out, forward, training = measured(reference.attn, x)
    analysis = analyze(net, AnalysisOptions(batch=BATCH))
    assert analysis.errors == {}
    t = analysis.totals
    assert (t.params, t.flops_torch_forward, t.flops_torch_training) == (
        params, forward, training)
    assert analysis["merge"].output_shape == tuple(reference(x).shape[1:])

    torch.manual_seed(0)
    original = torchvision_window(version, window, shift).eval()
    rebuilt = build_model(net).eval()
    layer = rebuilt.layers["attn"]
    state = original.state_dict()
    if version == "v1":
        state["table"] = state.pop("relative_position_bias_table")
    layer.load_state_dict({k: v for k, v in state.items()
                           if k in layer.state_dict()})
    namespace: dict = {}
    exec(compile(generate(net), "<generated>", "exec"), namespace)
    exported = namespace[class_name(net)]().eval()
    exported.load_state_dict({k.removeprefix("layers."): v
                              for k, v in rebuilt.state_dict().items()})
    data = torch.randn(BATCH, *shape)
    with torch.no_grad():
        want = _patch_merging_pad(original(data))
        assert torch.allclose(rebuilt(data), want, atol=1e-5)
        assert torch.allclose(exported(data), want, atol=1e-5)
