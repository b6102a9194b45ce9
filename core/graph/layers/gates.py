"""Gating layer types of modern CNNs: SiLU, Hardswish, Hardsigmoid, element-wise Mul with
broadcasting (squeeze-and-excitation, layer scale) and stochastic depth.

Per-element costs follow the conventions of elementwise.py: an exponential (inside the
sigmoid) is one "special" operation, a comparison is one "logic", a division by a
constant is one mul. FlopCounterMode counts none of these (it counts conv, linear and
matrix products only), so their torch figures are zero.
"""

from __future__ import annotations

from core.common.explain import V, shape_text
from core.graph.layers.base import Backward, GradCount, LayerType, OpPart, ParamSpec, elements, numel
from core.graph.layers.elementwise import Elementwise


class SiLU(Elementwise):
    name = "SiLU"
    doc = "x·σ(x) (swish; EfficientNet): one sigmoid (special) and one mul per element."
    fwd = {"special": 1, "mul": 1}
    bwd = {"mul": 3, "add": 2}
    note = "backward g·σ·(1 + x·(1 − σ)) with σ kept from forward: 3 mul, 2 add"

    def build(self, ctx):
        from torch import nn
        return nn.SiLU()


class Hardswish(Elementwise):
    name = "Hardswish"
    doc = ("x·min(max(x + 3, 0), 6)/6 (MobileNetV3): 1 add, 2 comparisons, 2 mul per "
           "element.")
    fwd = {"add": 1, "logic": 2, "mul": 2}
    bwd = {"logic": 2, "mul": 2, "add": 1}
    note = "backward g·(2x + 3)/6 inside (−3, 3), g above 3, 0 below: 2 comparisons"

    def build(self, ctx):
        from torch import nn
        return nn.Hardswish()


class Hardsigmoid(Elementwise):
    name = "Hardsigmoid"
    doc = "min(max(x + 3, 0), 6)/6 (MobileNetV3 gates): 1 add, 2 comparisons, 1 mul per element."
    fwd = {"add": 1, "logic": 2, "mul": 1}
    bwd = {"logic": 2, "mul": 1}
    note = "backward g/6 inside (−3, 3), 0 outside: 2 comparisons, 1 mul"

    def build(self, ctx):
        from torch import nn
        return nn.Hardsigmoid()


def broadcast(a: tuple, b: tuple) -> tuple | None:
    """PyTorch's broadcast of two per-sample shapes (right-aligned), or None."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(reversed(out))


class Mul(LayerType):
    name = "Mul"
    category = "Structure"
    doc = ("Element-wise product of two inputs, broadcasting as PyTorch does (a C×1×1 gate "
           "scales a C×H×W map: squeeze-and-excitation, layer scale).")
    min_inputs, max_inputs = 2, 2

    def output_shape(self, ctx):
        out = broadcast(ctx.ins[0], ctx.ins[1])
        if out is None:
            raise ctx.error("input", "inputs do not broadcast: " + " and ".join(
                shape_text(s) for s in ctx.ins))
        return out

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, mul=elements(ctx.out))]

    def backward(self, ctx, need_input_grad, bias_adds):
        """Each input that needs a gradient gets g × the other input (one mul per output
        element), summed over the positions it was broadcast to."""
        grads = ctx.in_grads or [need_input_grad] * 2
        b = V("B", ctx.batch)
        result = GradCount()
        for shape, needed in zip(ctx.ins, grads):
            if not needed:
                continue
            part = GradCount(mul=b * elements(ctx.out))
            if numel(shape) != numel(ctx.out):
                part = part + GradCount(add=b * (V("out", numel(ctx.out))
                                                 - V("in", numel(shape))).bracketed())
            result = result + part
        return Backward(input_grad=result, notes="each input: g × the other; a broadcast "
                                                 "input sums its gradient over the copies")

    def build(self, ctx):
        from core.graph.layers.torch_modules import MulModule
        return MulModule()


class StochasticDepth(LayerType):
    name = "StochasticDepth"
    category = "Normalization"
    doc = ("Drops a residual branch with probability p while training (per sample, or the "
           "whole batch); identity at inference, so it costs nothing there.")
    params = (ParamSpec("p", "float", 0.1, "Probability of dropping the branch.", minimum=0.0,
                        maximum=1.0),
              ParamSpec("mode", "choice", "row", "'row': per sample; 'batch': the whole "
                                                 "batch at once.", choices=("row", "batch")))

    def summary(self, p):
        return f"p={p['p']:g}"

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, notes="inference: identity (training adds 1 mul "
                                                   "per element for the mask and scale)")]

    def build(self, ctx):
        from core.graph.layers.torch_modules import StochasticDepthModule
        return StochasticDepthModule(ctx.p["p"], ctx.p["mode"])


LAYER_TYPES = (SiLU, Hardswish, Hardsigmoid, Mul, StochasticDepth)
