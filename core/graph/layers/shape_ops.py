"""Layer types that move data without arithmetic, and learned tensors used directly.

Reshape, Permute, Transpose, Slice (one piece of a chunk or split), ChannelShuffle
(ShuffleNet) and Parameter (a class token, a position table, a layer scale). Dims are
numbered as PyTorch numbers them with the batch as dim 0, so an imported
``x.permute(0, 2, 3, 1)`` reads as order 2, 3, 1 here. None of them computes anything;
a Parameter's gradient is summed over the batch (B − 1 adds per element) because one
tensor serves every sample.
"""

from __future__ import annotations

from core.common.explain import ONE, V, shape_text
from core.graph.layers.base import Backward, GradCount, LayerType, OpPart, ParamSpec, elements, numel


def _dim(ctx, param: str, value: int) -> int:
    """A torch dim (batch = 0) as an index into the per-sample shape."""
    rank = len(ctx.x)
    if not 1 <= value <= rank:
        raise ctx.error(param, f"dim {value} does not exist in a {shape_text(ctx.x)} sample "
                               f"(use 1 to {rank}; 0 is the batch)")
    return value - 1


class Reshape(LayerType):
    name = "Reshape"
    category = "Structure"
    doc = "Gives each sample a new shape with the same number of elements: no arithmetic."
    params = (ParamSpec("shape", "shape", (1, 28, 28), "New per-sample shape, e.g. 2,58,28,28."),)

    def summary(self, p):
        return "→" + shape_text(p["shape"])

    def output_shape(self, ctx):
        shape = tuple(ctx.p["shape"])
        if numel(shape) != numel(ctx.x):
            raise ctx.error("shape", f"{shape_text(shape)} has {numel(shape):,} elements; the "
                                     f"{shape_text(ctx.x)} input has {numel(ctx.x):,}")
        return shape

    def build(self, ctx):
        from core.graph.layers.torch_modules import ReshapeModule
        return ReshapeModule(ctx.p["shape"])


class Permute(LayerType):
    name = "Permute"
    category = "Structure"
    doc = ("Reorders the dims of each sample (e.g. C×H×W to H×W×C with order 2,3,1; dims "
           "numbered as torch does, the batch being 0): no arithmetic.")
    params = (ParamSpec("order", "shape", (2, 3, 1), "New order of the per-sample dims "
                                                     "(1 = first after the batch)."),)

    def summary(self, p):
        return "(" + ",".join(map(str, p["order"])) + ")"

    def output_shape(self, ctx):
        order = tuple(ctx.p["order"])
        if sorted(order) != list(range(1, len(ctx.x) + 1)):
            raise ctx.error("order", f"order {','.join(map(str, order))} is not an order of "
                                     f"the dims 1 to {len(ctx.x)} of a {shape_text(ctx.x)} "
                                     f"sample")
        return tuple(ctx.x[d - 1] for d in order)

    def build(self, ctx):
        from core.graph.layers.torch_modules import PermuteModule
        return PermuteModule(ctx.p["order"])


class Transpose(LayerType):
    name = "Transpose"
    category = "Structure"
    doc = "Swaps two dims of each sample (numbered as torch does, the batch being 0)."
    params = (ParamSpec("dim0", "int", 1, "First dim.", minimum=1),
              ParamSpec("dim1", "int", 2, "Second dim.", minimum=1))

    def summary(self, p):
        return f"{p['dim0']}↔{p['dim1']}"

    def output_shape(self, ctx):
        a, b = _dim(ctx, "dim0", ctx.p["dim0"]), _dim(ctx, "dim1", ctx.p["dim1"])
        shape = list(ctx.x)
        shape[a], shape[b] = shape[b], shape[a]
        return tuple(shape)

    def build(self, ctx):
        from core.graph.layers.torch_modules import PermuteModule
        order = list(range(1, len(ctx.x) + 1))
        a, b = ctx.p["dim0"] - 1, ctx.p["dim1"] - 1
        order[a], order[b] = order[b], order[a]
        return PermuteModule(order)


class Slice(LayerType):
    name = "Slice"
    category = "Structure"
    doc = ("One piece of a chunk or split: `length` entries from `start` along a dim "
           "(ShuffleNet splits its channels in two): no arithmetic.")
    params = (ParamSpec("dim", "int", 1, "Dim to cut (1 = channels of an image).", minimum=1),
              ParamSpec("start", "int", 0, "First index taken.", minimum=0),
              ParamSpec("length", "int", 1, "Number of indices taken.", minimum=1))

    def summary(self, p):
        return f"d{p['dim']}[{p['start']}:{p['start'] + p['length']}]"

    def output_shape(self, ctx):
        d = _dim(ctx, "dim", ctx.p["dim"])
        if ctx.p["start"] + ctx.p["length"] > ctx.x[d]:
            raise ctx.error("length", f"{ctx.p['start']} + {ctx.p['length']} runs past the "
                                      f"{ctx.x[d]} entries of dim {ctx.p['dim']}")
        return ctx.x[:d] + (ctx.p["length"],) + ctx.x[d + 1:]

    def build(self, ctx):
        from core.graph.layers.torch_modules import SliceModule
        return SliceModule(ctx.p["dim"], ctx.p["start"], ctx.p["length"])


class ChannelShuffle(LayerType):
    name = "ChannelShuffle"
    category = "Structure"
    doc = ("Interleaves the channels of g groups (ShuffleNet): a reshape to g×C/g, a "
           "transpose and a reshape back; no arithmetic.")
    params = (ParamSpec("groups", "int", 2, "Number of groups g (must divide the channels).",
                        minimum=1),)

    def summary(self, p):
        return f"g={p['groups']}"

    def output_shape(self, ctx):
        if len(ctx.x) != 3 or ctx.x[0] % ctx.p["groups"]:
            raise ctx.error("groups", f"{ctx.p['groups']} groups do not divide the channels "
                                      f"of a {shape_text(ctx.x)} input (C×H×W)")
        return ctx.x

    def build(self, ctx):
        from torch import nn
        return nn.ChannelShuffle(ctx.p["groups"])


class Parameter(LayerType):
    name = "Parameter"
    category = "Structure"
    doc = ("A learned tensor used directly, the same for every sample (ViT's class token "
           "and position table, ConvNeXt's layer scale); it broadcasts over the batch.")
    min_inputs, max_inputs = 0, 0
    params = (ParamSpec("shape", "shape", (1, 768), "Its shape (without a batch dim)."),)

    def summary(self, p):
        return shape_text(p["shape"])

    def output_shape(self, ctx):
        return tuple(ctx.p["shape"])

    def param_shapes(self, ctx):
        return {"weight": tuple(ctx.p["shape"])}

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, weight_shape=ctx.out,
                       notes="read, not computed")]

    def backward(self, ctx, need_input_grad, bias_adds):
        return Backward(weight_grad=GradCount(
            add=elements(ctx.out) * (V("B", ctx.batch) - ONE).bracketed()),
            notes="the consumers' per-sample gradients are summed over the batch")

    def build(self, ctx):
        from core.graph.layers.torch_modules import ParameterModule
        return ParameterModule(ctx.p["shape"])


LAYER_TYPES = (Reshape, Permute, Transpose, Slice, ChannelShuffle, Parameter)
