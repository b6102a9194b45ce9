"""Graph end points: Input (a tensor fed to the network) and Loss (a training objective).

A Loss node names an objective so that the ledger can say which layers receive
gradients from which loss (e.g. a reconstruction and a classification loss that share an
encoder).
"""

from __future__ import annotations

from core.common.explain import ONE, C, V, shape_text
from core.graph.layers.base import Backward, GradCount, LayerType, OpPart, ParamSpec, numel


class Input(LayerType):
    name = "Input"
    category = "Structure"
    doc = ("A tensor fed to the network, per sample: C×H×W for images, a length for token "
           "ids, a feature count for vectors.")
    min_inputs, max_inputs = 0, 0
    params = (ParamSpec("shape", "shape", (1, 28, 28), "Per-sample shape, e.g. 1,28,28 or 128."),
              ParamSpec("dtype", "choice", "float", "Real values, or integer ids (tokens, "
                                                    "labels).", choices=("float", "index")),
              ParamSpec("like", "node", "", "Copy the shape of this other Input (keeps paired "
                                            "inputs in step)."))

    def summary(self, p):
        return shape_text(p["shape"]) + (" ids" if p["dtype"] == "index" else "")

    def dependencies(self, params):
        return [params["like"]] if params.get("like") else []

    def output_shape(self, ctx):
        like = ctx.p["like"]
        if like:
            kind, _, shape = ctx.refs[like]
            if kind != "Input":
                raise ctx.error("like", f"like {like!r} is a {kind}, not an Input")
            return shape
        return tuple(ctx.p["shape"])

    def build(self, ctx):
        from torch import nn
        return nn.Identity()


class Loss(LayerType):
    name = "Loss"
    category = "Loss"
    doc = ("A training objective: cross-entropy over class scores (targets from the data "
           "labels or a second input of ids) or mean squared error against a second input.")
    min_inputs, max_inputs = 1, 2
    params = (ParamSpec("kind", "choice", "cross_entropy", "The loss function.",
                        choices=("cross_entropy", "mse")),)

    def summary(self, p):
        return {"cross_entropy": "cross-entropy", "mse": "MSE"}[p["kind"]]

    def output_shape(self, ctx):
        pred = ctx.x
        if ctx.p["kind"] == "mse":
            if len(ctx.ins) != 2:
                raise ctx.error("input", "MSE needs two inputs: the prediction and its target")
            if ctx.ins[1] != pred:
                raise ctx.error("input", f"MSE compares equal shapes, got {shape_text(pred)} "
                                         f"and {shape_text(ctx.ins[1])}")
            return ()
        if not pred:
            raise ctx.error("input", "cross-entropy needs class scores, got a scalar")
        if len(ctx.ins) == 2 and ctx.ins[1] != pred[:-1]:
            raise ctx.error("input", f"cross-entropy targets must have shape "
                                     f"{shape_text(pred[:-1])} (one id per score vector), got "
                                     f"{shape_text(ctx.ins[1])}")
        return ()

    def forward(self, ctx, bias_adds):
        pred = ctx.x
        if ctx.p["kind"] == "mse":
            n = V("n", numel(pred))
            return [OpPart(output_shape=(), add=n + (n - ONE).bracketed(), mul=n,
                           notes="difference, square and sum per sample; the batch mean "
                                 "is not counted")]
        classes = V("classes", pred[-1])
        rows = V("T", numel(pred[:-1])) if len(pred) > 1 else ONE
        return [OpPart(output_shape=(), special=rows * (classes + ONE).bracketed(),
                       add=rows * classes,
                       notes="log-softmax (exp per class, sum, one log) and pick the target")]

    def backward(self, ctx, need_input_grad, bias_adds):
        pred = ctx.x
        b = V("B", ctx.batch)
        if ctx.p["kind"] == "mse":
            return Backward(input_grad=GradCount(mul=b * V("n", numel(pred))),
                            notes="2·(y − t)/n per element, differences reused")
        rows = b * (V("T", numel(pred[:-1])) if len(pred) > 1 else ONE)
        return Backward(input_grad=GradCount(mul=rows * V("classes", pred[-1]), add=rows * C(1)),
                        notes="softmax − one-hot: a division per class, one subtraction")

    def build(self, ctx):
        from core.graph.layers.torch_modules import LossModule
        return LossModule(ctx.p["kind"], has_target=len(ctx.ins) == 2)


LAYER_TYPES = (Input, Loss)
