"""Every preset against PyTorch: forward shapes, parameters, FlopCounterMode totals."""

from __future__ import annotations

import pytest

from core.graph.analysis import AnalysisOptions, analyze
from core.graph.presets import load_preset, preset_names
from torch_oracle import torch_figures


@pytest.mark.parametrize("name", preset_names())
def test_preset_matches_torch(name):
    net = load_preset(name)
    analysis = analyze(net, AnalysisOptions(batch=2))
    figures = torch_figures(net, batch=2)
    assert {n: analysis[n].output_shape for n in figures.shapes} == figures.shapes
    assert analysis.totals.params == figures.params
    assert analysis.totals.flops_torch_forward == figures.flops_forward
    assert analysis.totals.flops_torch_training == figures.flops_training


def test_lenet5_on_cpu_tensors_too():
    """The meta device is the oracle's shortcut; check one network on real tensors."""
    net = load_preset("lenet5")
    figures = torch_figures(net, batch=3, device="cpu")
    assert figures.flops_forward == analyze(net, AnalysisOptions(batch=3)).totals \
        .flops_torch_forward == 3 * 2 * 416_520


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_presets_match_torchvision_models(name):
    """The presets are independent re-creations: compare with torchvision's own models."""
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None)
        x = torch.empty(2, 3, 224, 224)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    training = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        model(x)
    analysis = analyze(load_preset(name), AnalysisOptions(batch=2))
    assert analysis.totals.params == sum(p.numel() for p in model.parameters())
    assert analysis.totals.flops_torch_forward == counter.get_total_flops()
    assert analysis.totals.flops_torch_training == training
