"""Every preset against PyTorch: forward shapes, parameters, FlopCounterMode totals."""

from __future__ import annotations

import pytest

from core.analysis import AnalysisOptions, analyze
from core.presets import load_preset, preset_names
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
