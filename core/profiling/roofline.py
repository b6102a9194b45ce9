"""The roofline from the engine's counts: per layer FLOPs and bytes (weights, inputs and
outputs at the precision), arithmetic intensity, the predicted time max(FLOPs / peak,
bytes / bandwidth), and beside a measured time the attained FLOP/s and the prediction
error. Pure arithmetic on an Analysis; no torch.

FLOPs are the product's convention (mul + add + special; comparisons such as ReLU's are
not FLOPs), so a layer without arithmetic has intensity 0 and sits off a log-log plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from core.graph.analysis import Analysis

# The layer types the issue asks shares for; everything else is "other".
GROUP_OF_TYPE = {
    "Linear": "GEMM", "Conv2d": "conv", "DepthwiseSeparableConv2d": "conv",
    "ConvTranspose2d": "conv", "MultiHeadAttention": "attention",
    "BatchNorm2d": "normalisation", "LayerNorm": "normalisation",
    "ReLU": "elementwise", "ReLU6": "elementwise", "Tanh": "elementwise",
    "Sigmoid": "elementwise", "GELU": "elementwise", "Softmax": "elementwise",
    "Dropout": "elementwise", "Add": "elementwise", "MaxPool2d": "pooling",
    "AvgPool2d": "pooling", "AdaptiveAvgPool2d": "pooling", "MaxUnpool2d": "pooling",
}
GROUPS = ("GEMM", "conv", "attention", "normalisation", "elementwise", "pooling", "other")


def layer_group(type_name: str) -> str:
    return GROUP_OF_TYPE.get(type_name, "other")


@dataclass(frozen=True)
class LayerCost:
    """What the engine predicts for one layer at the analysis's batch and precision."""

    name: str
    type: str
    macs: int
    flops: int
    weight_bytes: int  # weights and biases
    input_bytes: int
    output_bytes: int
    gemm: str  # the layer's matrix products as (M×K)·(K×N), '' when it has none
    formula: str  # how the engine counted the MACs

    @property
    def group(self) -> str:
        return layer_group(self.type)

    @property
    def bytes(self) -> int:
        return self.weight_bytes + self.input_bytes + self.output_bytes

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved (0 for a layer without arithmetic or bytes)."""
        return self.flops / self.bytes if self.bytes else 0.0


def layer_costs(analysis: Analysis) -> list[LayerCost]:
    """One LayerCost per computing node (Input nodes left out), in the engine's order."""
    network = analysis.network
    costs = []
    for name in analysis.order:
        r = analysis[name]
        if r.type == "Input" or not r.ok:
            continue
        inputs = sum(analysis[i].activation_bytes.value for i in network.nodes[name].inputs)
        flops = r.forward.mul.value + r.forward.add.value + r.forward.special.value
        costs.append(LayerCost(name, r.type, r.forward.macs.value, flops,
                               r.weight_bytes.value + r.bias_bytes.value, inputs,
                               r.activation_bytes.value, gemm_shapes(r, analysis.options.batch),
                               r.forward.macs.explain() if r.forward.macs.value else ""))
    return costs


def gemm_shapes(r, batch: int) -> str:
    """The matrix products a layer performs, (M×K)·(K×N), as GEMM libraries see them."""
    if r.type == "Linear":
        shape = r.input_shapes[0]
        m, k, n = batch * prod(shape[:-1]), shape[-1], r.output_shape[-1]
        return f"({m:,}×{k:,})·({k:,}×{n:,})"
    if r.type == "Conv2d":
        cout, cin_g, kh, kw = r.param_shapes["weight"]
        groups = r.params.get("groups", 1)
        m, k, n = batch * r.output_shape[1] * r.output_shape[2], cin_g * kh * kw, cout // groups
        head = f"{groups}× " if groups > 1 else ""
        return f"{head}({m:,}×{k:,})·({k:,}×{n:,}) implicit GEMM"
    if r.type == "MultiHeadAttention":
        s, d = r.input_shapes[0][-2], r.input_shapes[0][-1]
        h = r.params["num_heads"]
        dk = d // h
        m = batch * s
        return (f"4× ({m:,}×{d:,})·({d:,}×{d:,}); {batch * h:,}× "
                f"({s:,}×{dk:,})·({dk:,}×{s:,}) and ({s:,}×{s:,})·({s:,}×{dk:,})")
    return ""


@dataclass(frozen=True)
class LayerProfile:
    """A layer's predicted and measured figures side by side."""

    cost: LayerCost
    measured_ms: float | None  # None: the layer was not timed (see notes)
    predicted_ms: float | None = None  # None without machine peaks
    share: float | None = None  # of the sum of the measured layer times
    note: str = ""

    @property
    def name(self) -> str:
        return self.cost.name

    @property
    def attained_flops(self) -> float | None:
        if not self.measured_ms:
            return None
        return self.cost.flops / (self.measured_ms / 1e3)

    @property
    def error(self) -> float | None:
        """predicted / measured − 1: negative when the layer is slower than its roofline."""
        if not self.measured_ms or self.predicted_ms is None:
            return None
        return self.predicted_ms / self.measured_ms - 1


def predicted_seconds(flops: int, nbytes: int, peak_flops: float, bandwidth: float) -> float:
    """The roofline's time: whichever of compute and memory traffic takes longer."""
    return max(flops / peak_flops, nbytes / bandwidth)


def bound(cost: LayerCost, peak_flops: float, bandwidth: float) -> str:
    """'compute' at or above the ridge point, else 'memory'."""
    return "compute" if cost.flops / peak_flops >= cost.bytes / bandwidth and cost.flops \
        else "memory"


def profile_layers(costs: list[LayerCost], measured_ms: dict[str, float],
                   peaks=None) -> list[LayerProfile]:
    """Join the engine's costs with measured times (and the roofline when ``peaks``)."""
    total = sum(measured_ms.get(c.name, 0.0) for c in costs)
    out = []
    for c in costs:
        ms = measured_ms.get(c.name)
        predicted = None if peaks is None else \
            predicted_seconds(c.flops, c.bytes, peaks.peak_flops, peaks.bandwidth) * 1e3
        note = "" if ms is not None else "not timed: runs inside the graph without a module " \
                                         "call (its pool is fused with the un-pooling's)"
        out.append(LayerProfile(c, ms, predicted, (ms / total) if ms is not None and total
                                else None, note))
    return out


def group_shares(layers: list[LayerProfile]) -> dict[str, float]:
    """Share of the measured layer time per layer group, in GROUPS order, zeros left out."""
    total = sum(l.measured_ms or 0.0 for l in layers)
    sums: dict[str, float] = {}
    for l in layers:
        sums[l.cost.group] = sums.get(l.cost.group, 0.0) + (l.measured_ms or 0.0)
    return {g: sums[g] / total for g in GROUPS if sums.get(g) and total}
