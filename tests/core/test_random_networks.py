"""Hypothesis-generated networks checked against PyTorch itself.

Valid networks: every node's output shape equals the shape of a real forward pass, the
parameter count equals the built module's, and the torch-convention FLOPs equal
FlopCounterMode's forward and forward+backward totals. Invalid ones: the engine reports
a LayerParamError on a node and building raises that typed error, nothing else.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.graph.analysis import AnalysisOptions, analyze
from core.torchbridge.build import build_model
from core.common.errors import LayerParamError
from core.graph.network import Network
from torch_oracle import torch_figures

EXAMPLES = 300  # per family: two families make 600 cases per run


def pairs(low, high):
    single = st.integers(low, high)
    return st.one_of(single, st.lists(single, min_size=2, max_size=2))


@st.composite
def image_layer(draw, channels: int):
    kind = draw(st.sampled_from(["Conv2d", "Conv2d", "DepthwiseSeparableConv2d",
                                 "ConvTranspose2d", "MaxPool2d", "AvgPool2d",
                                 "AdaptiveAvgPool2d", "BatchNorm2d", "ReLU", "Tanh",
                                 "Sigmoid", "GELU", "Dropout"]))
    if kind == "Conv2d":
        groups = draw(st.sampled_from([1, 1, channels, 2]))
        return kind, dict(out_channels=draw(st.integers(1, 3)) * max(groups, 1),
                          kernel=draw(pairs(1, 5)), stride=draw(pairs(1, 3)),
                          padding=draw(pairs(0, 3)), dilation=draw(pairs(1, 2)), groups=groups,
                          bias=draw(st.booleans()))
    if kind == "DepthwiseSeparableConv2d":
        return kind, dict(out_channels=draw(st.integers(1, 6)), kernel=draw(pairs(1, 5)),
                          stride=draw(pairs(1, 2)), padding=draw(pairs(0, 2)),
                          dilation=draw(pairs(1, 2)), bias=draw(st.booleans()))
    if kind == "ConvTranspose2d":
        groups = draw(st.sampled_from([1, 1, channels]))
        return kind, dict(out_channels=draw(st.integers(1, 3)) * groups,
                          kernel=draw(pairs(1, 4)), stride=draw(pairs(1, 3)),
                          padding=draw(pairs(0, 2)), output_padding=draw(pairs(0, 2)),
                          dilation=draw(pairs(1, 2)), groups=groups, bias=draw(st.booleans()))
    if kind == "MaxPool2d":
        return kind, dict(kernel=draw(pairs(1, 4)), stride=draw(pairs(1, 3)),
                          padding=draw(pairs(0, 2)), dilation=draw(pairs(1, 2)),
                          ceil_mode=draw(st.booleans()))
    if kind == "AvgPool2d":
        return kind, dict(kernel=draw(pairs(1, 4)), stride=draw(pairs(1, 3)),
                          padding=draw(pairs(0, 2)), ceil_mode=draw(st.booleans()),
                          count_include_pad=draw(st.booleans()))
    if kind == "AdaptiveAvgPool2d":
        return kind, dict(output_size=draw(pairs(1, 4)))
    if kind == "BatchNorm2d":
        return kind, dict(affine=draw(st.booleans()))
    if kind == "Dropout":
        return kind, dict(p=0.2)
    return kind, {}


@st.composite
def image_networks(draw):
    net = Network("random-image")
    channels = draw(st.integers(1, 4))
    net.add_node("Input", "x", {"shape": [channels, draw(st.integers(3, 14)),
                                          draw(st.integers(3, 14))]})
    tip = "x"
    for i in range(draw(st.integers(1, 4))):
        kind, params = draw(image_layer(channels))
        tip = net.add_node(kind, f"n{i}", params, [tip]).name
        if kind in ("Conv2d", "DepthwiseSeparableConv2d", "ConvTranspose2d"):
            channels = params["out_channels"]
    if draw(st.booleans()):  # a residual or concatenating branch
        kind, params = draw(image_layer(channels))
        side = net.add_node(kind, "branch", params, [tip]).name
        merge = draw(st.sampled_from(["Add", "Concat"]))
        tip = net.add_node(merge, "merge", {}, [tip, side]).name
    tip = net.add_node("Flatten", "flat", {}, [tip]).name
    tip = net.add_node("Linear", "fc", {"out_features": draw(st.integers(1, 6)),
                                        "bias": draw(st.booleans())}, [tip]).name
    if draw(st.booleans()):
        net.add_node("Loss", "loss", {"kind": "cross_entropy"}, [tip])
    return net


@st.composite
def sequence_networks(draw):
    net = Network("random-sequence")
    heads = draw(st.integers(1, 3))
    dim = heads * draw(st.integers(1, 4))
    length = draw(st.integers(1, 10))
    vocab = draw(st.integers(2, 30))
    net.add_node("Input", "ids", {"shape": [length], "dtype": "index"})
    tip = net.add_node("Embedding", "embed", {"num_embeddings": vocab, "embedding_dim": dim},
                       ["ids"]).name
    if draw(st.booleans()):
        tip = net.add_node("PositionalEmbedding", "pos", {
            "max_positions": draw(st.integers(max(1, length - 2), length + 3)),
            "kind": draw(st.sampled_from(["learned", "sinusoidal"]))}, [tip]).name
    memory = None
    if draw(st.booleans()):  # cross-attention to a second sequence
        net.add_node("Input", "mem_ids", {"shape": [draw(st.integers(1, 8))], "dtype": "index"})
        memory = net.add_node("Embedding", "mem_embed",
                              {"num_embeddings": vocab, "embedding_dim": dim},
                              ["mem_ids"]).name
    attn_heads = heads if draw(st.integers(0, 5)) else heads + 1  # sometimes indivisible
    attn = net.add_node("MultiHeadAttention", "attn", {
        "num_heads": attn_heads, "bias": draw(st.booleans()), "causal": draw(st.booleans())},
        [tip] + ([memory] if memory else [])).name
    tip = net.add_node("Add", "residual", {}, [attn, tip]).name
    tip = net.add_node("LayerNorm", "norm", {"affine": draw(st.booleans())}, [tip]).name
    tip = net.add_node("Linear", "ffn", {"out_features": draw(st.integers(1, 8))}, [tip]).name
    tip = net.add_node(draw(st.sampled_from(["GELU", "ReLU", "Softmax", "Tanh"])), "act", {},
                       [tip]).name
    if draw(st.booleans()):
        tip = net.add_node("TokenSelect", "select", {"index": draw(st.integers(0, length))},
                           [tip]).name
        tip = net.add_node("Linear", "head", {"out_features": draw(st.integers(2, 5))},
                           [tip]).name
        if draw(st.booleans()):
            net.add_node("Loss", "loss", {"kind": "cross_entropy"}, [tip])
    elif draw(st.booleans()):
        tip = net.add_node("Linear", "to_vocab", {"out_features": vocab}, [tip]).name
        net.add_node("Loss", "loss", {"kind": "cross_entropy"}, [tip, "ids"])
    return net


def check_against_torch(net: Network, batch: int) -> bool:
    """Cross-check a network; returns whether it was valid."""
    analysis = analyze(net, AnalysisOptions(batch=batch))
    event("invalid" if analysis.errors else "valid")
    if analysis.errors:
        assert all(isinstance(r.error, LayerParamError) for r in analysis.nodes.values()
                   if r.error is not None)
        with pytest.raises(LayerParamError):
            build_model(net)
        return False
    figures = torch_figures(net, batch)
    for name, shape in figures.shapes.items():
        assert analysis[name].output_shape == shape, name
    assert analysis.totals.params == figures.params
    assert analysis.totals.flops_torch_forward == figures.flops_forward
    assert analysis.totals.flops_torch_training == figures.flops_training
    return True


@settings(max_examples=EXAMPLES)
@given(net=image_networks(), batch=st.integers(1, 3))
def test_random_image_networks_match_torch(net, batch):
    check_against_torch(net, batch)


@settings(max_examples=EXAMPLES)
@given(net=sequence_networks(), batch=st.integers(1, 3))
def test_random_sequence_networks_match_torch(net, batch):
    check_against_torch(net, batch)


@pytest.mark.parametrize("strategy", [image_networks(), sequence_networks()],
                         ids=["image", "sequence"])
def test_generators_make_both_valid_and_invalid_networks(strategy):
    """Guard against a generator that only ever produces errors (or never does)."""
    from hypothesis import find
    find(strategy, lambda net: not analyze(net).errors, settings=settings(database=None))
    find(strategy, lambda net: bool(analyze(net).errors), settings=settings(database=None))
