"""Exported PyTorch code builds the same model as the product (parameters, output shapes)."""

from __future__ import annotations

import pytest
import torch

from core.torchbridge.build import build_model
from core.torchbridge.codegen import class_name, generate
from core.graph.network import Network
from core.graph.presets import load_preset, preset_names


def outputs(x):
    return x if isinstance(x, tuple) else (x,)


@pytest.mark.parametrize("name", preset_names())
def test_generated_code_matches_built_model(name):
    net = load_preset(name)
    namespace: dict = {}
    exec(compile(generate(net), f"<{name}>", "exec"), namespace)
    with torch.device("meta"):
        generated = namespace[class_name(net)]()
        reference = build_model(net)
    assert sum(p.numel() for p in generated.parameters()) == sum(
        p.numel() for p in reference.parameters())
    inputs = reference.example_inputs(2, device="meta")
    got = [tuple(t.shape) for t in outputs(generated(*inputs))]
    want = [tuple(t.shape) for t in outputs(reference(*inputs))]
    assert got == want


def test_paired_unpool_and_awkward_names_generate_valid_code():
    net = Network("odd names")
    net.add_node("Input", "input", {"shape": [2, 8, 8]})
    net.add_node("MaxPool2d", "lambda", {}, ["input"])
    net.add_node("MaxUnpool2d", "training", {"pool": "lambda"}, ["lambda"])
    namespace: dict = {}
    exec(generate(net), namespace)
    model = namespace["OddNames"]()
    x = torch.randn(1, 2, 8, 8)
    assert torch.equal(model(x), build_model(net)(x))
