"""Depthwise-separable conversion of a network and the comparison with the original.

A K×K convolution from Cin to Cout channels costs x = Cout·Cin·Ho·Wo·K² multiplies; its
depthwise-separable unit costs Cin·Ho·Wo·K² (depthwise) + Cout·Cin·Ho·Wo (pointwise)
= x·(1/Cout + 1/K²). The comparison checks that identity layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from core.graph.analysis import Analysis, AnalysisOptions, analyze
from core.graph.network import Network

CONVERTED_PARAMS = ("out_channels", "kernel", "stride", "padding", "dilation", "bias")


@dataclass(frozen=True)
class Conversion:
    network: Network
    converted: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (node, reason)


def convertible(network: Network, name: str) -> str | None:
    """Why a node cannot become a depthwise-separable unit (None when it can)."""
    node = network.nodes[name]
    if node.type != "Conv2d":
        return "not a Conv2d"
    if node.params.get("groups", 1) != 1:
        return "already grouped"
    if node.params.get("kernel", 3) in (1, [1, 1]):
        return "1×1 kernel: already pointwise"
    return None


def to_depthwise_separable(network: Network) -> Conversion:
    """A copy of ``network`` with each plain Conv2d replaced by its depthwise-separable unit
    (same name, channels, kernel, stride, padding, dilation and bias)."""
    result = network.copy()
    result.name = f"{network.name}-ds" if not network.name.endswith("-ds") else network.name
    converted, skipped = [], []
    for name, node in network.nodes.items():
        if node.type != "Conv2d":
            continue
        reason = convertible(network, name)
        if reason:
            skipped.append((name, reason))
            continue
        clone = result.nodes[name]
        clone.type = "DepthwiseSeparableConv2d"
        clone.params = {k: v for k, v in node.params.items() if k in CONVERTED_PARAMS}
        converted.append(name)
    return Conversion(result, tuple(converted), tuple(skipped))


@dataclass(frozen=True)
class LayerSaving:
    name: str
    standard_mul: int
    separable_mul: int
    predicted_mul: Fraction  # x·(1/Cout + 1/(Kh·Kw))
    standard_params: int
    separable_params: int
    cout: int
    kernel_area: int

    @property
    def formula_holds(self) -> bool:
        return self.predicted_mul == self.separable_mul

    @property
    def mul_reduction(self) -> float:
        return 1 - self.separable_mul / self.standard_mul if self.standard_mul else 0.0

    @property
    def ratio(self) -> float:
        return self.separable_mul / self.standard_mul if self.standard_mul else 0.0

    def formula(self) -> str:
        return (f"f(x) = x·(1/Cout + 1/K²) = {self.standard_mul:,}·(1/{self.cout} + "
                f"1/{self.kernel_area}) = {float(self.predicted_mul):,.0f}")


@dataclass(frozen=True)
class DSComparison:
    standard: Analysis
    separable: Analysis
    layers: tuple[LayerSaving, ...]

    def totals(self) -> dict[str, tuple[int, int, float]]:
        """metric -> (standard, separable, reduction fraction)."""
        out = {}
        for key, a, b in (("macs", self.standard.totals.macs, self.separable.totals.macs),
                          ("mul", self.standard.totals.mul, self.separable.totals.mul),
                          ("params", self.standard.totals.params, self.separable.totals.params)):
            out[key] = (a, b, 1 - b / a if a else 0.0)
        return out


def compare_depthwise_separable(network: Network, options: AnalysisOptions | None = None
                                ) -> DSComparison:
    """Analyse a network and its depthwise-separable version side by side."""
    conversion = to_depthwise_separable(network)
    standard = analyze(network, options)
    separable = analyze(conversion.network, options)
    layers = []
    for name in conversion.converted:
        a, b = standard[name], separable[name]
        if not (a.ok and b.ok):
            continue
        kh, kw = a.params["kernel"]
        cout = a.output_shape[0]
        x = a.forward.mul.value  # bias adds are adds, never muls
        layers.append(LayerSaving(name, x, b.forward.mul.value,
                                  Fraction(x, cout) + Fraction(x, kh * kw),
                                  a.weight_elements + a.bias_elements,
                                  b.weight_elements + b.bias_elements, cout, kh * kw))
    return DSComparison(standard, separable, tuple(layers))


def compare_designs(a: Analysis, b: Analysis) -> list[dict]:
    """Rows for two designs side by side, matched by node name (either may be missing)."""
    rows = []
    names = list(a.order) + [n for n in b.order if n not in a.nodes]
    for name in names:
        ra, rb = a.nodes.get(name), b.nodes.get(name)
        row = {"name": name}
        for key in ("params", "macs", "mul", "add"):
            va = _metric(ra, key)
            vb = _metric(rb, key)
            row[key] = (va, vb, (1 - vb / va) if va and vb is not None else None)
        rows.append(row)
    return rows


def _metric(result, key: str) -> int | None:
    if result is None or not result.ok:
        return None
    if key == "params":
        return result.weight_elements + result.bias_elements
    return getattr(result.forward, key).value
