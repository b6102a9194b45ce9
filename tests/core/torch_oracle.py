"""Independent figures from PyTorch for a Network: real forward shapes, module
parameter counts and FlopCounterMode totals (forward, forward + backward)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from core.torchbridge.build import build_model


@dataclass
class TorchFigures:
    shapes: dict
    params: int
    flops_forward: int
    flops_training: int


def torch_figures(network, batch: int = 2, device: str = "meta") -> TorchFigures:
    """Build the network, run it once forward (shapes, FLOPs) and once forward+backward."""
    torch.manual_seed(0)
    with torch.device(device):
        model = build_model(network)
    # eval(): BatchNorm in training mode refuses one value per channel; counts are equal.
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    inputs = model.example_inputs(batch, device=device)
    labels = _labels(model, batch, device)
    with FlopCounterMode(display=False) as counter:
        values = model.run(*inputs, labels=labels)
    forward = counter.get_total_flops()
    shapes = {name: tuple(v.shape[1:]) for name, v in values.items() if torch.is_tensor(v)}
    with FlopCounterMode(display=False) as counter:
        values = model.run(*inputs, labels=labels)
        _objective(model, values).backward()
    return TorchFigures(shapes, params, forward, counter.get_total_flops())


def _labels(model, batch, device):
    for name, t in model.types.items():
        if t == "Loss" and len(model.inputs_of[name]) == 1:
            classes = model.shapes[model.inputs_of[name][0]][-1]
            return torch.randint(0, classes, (batch,), device=device)
    return None


def _objective(model, values):
    losses = [values[n] for n, t in model.types.items() if t == "Loss"]
    if losses:
        return sum(losses)
    return sum(values[n].float().sum() for n in model.output_names)
