"""The convolution and linear layers of a design (a core.graph Network) as ConvLayers.

A Conv2d becomes the lab's layer when its kernel is square, its stride and padding equal on
both axes and it has no groups or dilation (as "Open in Dataflow lab" requires). A Linear
layer is a 1×1 convolution on a 1×T input with C = in_features, F = out_features, where T is
the number of rows it is applied to (1 for a vector, the tokens for a sequence).
"""

from __future__ import annotations

import math

from core.common.errors import InputError
from core.dataflow.layer import ConvLayer


def conv_layer_of(result) -> tuple[ConvLayer | None, str]:
    """(ConvLayer, "") for an analysed Conv2d/Linear node, or (None, why it cannot be one)."""
    if not result.ok:
        return None, "not analysed: " + (result.status() or "no output shape")
    p = result.params
    if result.type == "Linear":
        shape = tuple(result.input_shapes[0])
        rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
        return ConvLayer(1, rows, int(shape[-1]), 1, int(p["out_features"])), ""
    if result.type != "Conv2d":
        return None, f"{result.type} is neither Conv2d nor Linear"
    square = all(v[0] == v[1] for v in (p["kernel"], p["stride"], p["padding"]))
    if not square or p["groups"] != 1 or tuple(p["dilation"]) != (1, 1):
        return None, "needs a square kernel, equal stride and padding per axis, no groups or dilation"
    c, h, w = result.input_shapes[0]
    try:
        layer = ConvLayer(h, w, c, p["kernel"][0], p["out_channels"], p["stride"][0], p["padding"][0])
    except InputError as exc:
        return None, str(exc)
    return layer, ""


def design_layers(design) -> tuple[list[tuple[str, ConvLayer]], dict[str, str]]:
    """([(node name, ConvLayer)] in topological order, {skipped conv/linear node: why})."""
    from core.graph.analysis import analyze
    analysis = analyze(design)
    layers, skipped = [], {}
    for name in analysis.order:
        result = analysis.nodes[name]
        if result.type not in ("Conv2d", "Linear"):
            continue
        layer, why = conv_layer_of(result)
        if layer is None:
            skipped[name] = why
        else:
            layers.append((name, layer))
    return layers, skipped


def network_layers(design) -> list[tuple[str, ConvLayer]]:
    """The conv and linear layers of a Network that the lab can map, in topological order."""
    return design_layers(design)[0]
