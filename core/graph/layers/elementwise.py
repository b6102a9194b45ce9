"""Element-wise, normalisation and structural layer types.

Activations, Softmax, Dropout, BatchNorm2d, LayerNorm, Flatten, Add, Concat and
TokenSelect. Per-element costs are written out as formulas; conventions for functions
(exp, tanh, erf, sqrt) count them as one "special" operation each.
"""

from __future__ import annotations

from core.common.explain import ONE, C, V, shape_text
from core.graph.layers.base import (Backward, GradCount, LayerType, OpPart, ParamSpec, elements, need_rank,
                   numel)


class Elementwise(LayerType):
    """A layer applying the same scalar function to each element (shape unchanged).

    ``fwd`` and ``bwd`` give operations per element: keys mul, add, logic, special
    (backward: mul, add, logic of the input gradient).
    """

    category = "Activation"
    fwd: dict = {}
    bwd: dict = {}
    note: str = ""

    def forward(self, ctx, bias_adds):
        n = elements(ctx.out)
        counts = {k: n * C(v) for k, v in self.fwd.items()}
        return [OpPart(output_shape=ctx.out, notes=self.note, **counts)]

    def backward(self, ctx, need_input_grad, bias_adds):
        if not need_input_grad or not self.bwd:
            return Backward()
        n = V("B", ctx.batch) * elements(ctx.out)
        return Backward(input_grad=GradCount(**{k: n * C(v) for k, v in self.bwd.items()}))


class ReLU(Elementwise):
    name = "ReLU"
    doc = "max(0, x): one comparison per element."
    fwd = {"logic": 1}
    bwd = {"logic": 1}

    def build(self, ctx):
        from torch import nn
        return nn.ReLU()


class ReLU6(Elementwise):
    name = "ReLU6"
    doc = "min(max(0, x), 6): two comparisons per element (MobileNet)."
    fwd = {"logic": 2}
    bwd = {"logic": 2}

    def build(self, ctx):
        from torch import nn
        return nn.ReLU6()


class Tanh(Elementwise):
    name = "Tanh"
    doc = "Hyperbolic tangent: one special function per element."
    fwd = {"special": 1}
    bwd = {"mul": 2, "add": 1}
    note = "backward g·(1 − y²): 2 mul, 1 add per element"

    def build(self, ctx):
        from torch import nn
        return nn.Tanh()


class Sigmoid(Elementwise):
    name = "Sigmoid"
    doc = "1 / (1 + e^−x): one special function per element."
    fwd = {"special": 1}
    bwd = {"mul": 2, "add": 1}
    note = "backward g·y·(1 − y): 2 mul, 1 add per element"

    def build(self, ctx):
        from torch import nn
        return nn.Sigmoid()


class GELU(Elementwise):
    name = "GELU"
    doc = ("x·Φ(x) = 0.5·x·(1 + erf(x/√2)): 3 mul, 1 add, 1 erf per element; the tanh form "
           "0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): 6 mul, 2 add, 1 tanh.")
    params = (ParamSpec("approximate", "choice", "none", "'none': the exact erf form; "
                                                         "'tanh': the tanh approximation.",
                        choices=("none", "tanh")),)
    FORMS = {"none": ({"mul": 3, "add": 1, "special": 1}, {"mul": 5, "add": 2},
                      "backward g·(Φ(x) + x·φ(x)) with erf and exp reused from forward"),
             "tanh": ({"mul": 6, "add": 2, "special": 1}, {"mul": 9, "add": 4},
                      "x² and x³ by 2 mul; backward differentiates the tanh form with tanh "
                      "reused from forward")}

    def summary(self, p):
        return "tanh" if p["approximate"] == "tanh" else ""

    def forward(self, ctx, bias_adds):
        fwd, _, note = self.FORMS[ctx.p["approximate"]]
        n = elements(ctx.out)
        return [OpPart(output_shape=ctx.out, notes=note,
                       **{k: n * C(v) for k, v in fwd.items()})]

    def backward(self, ctx, need_input_grad, bias_adds):
        if not need_input_grad:
            return Backward()
        _, bwd, _ = self.FORMS[ctx.p["approximate"]]
        n = V("B", ctx.batch) * elements(ctx.out)
        return Backward(input_grad=GradCount(**{k: n * C(v) for k, v in bwd.items()}))

    def build(self, ctx):
        from torch import nn
        return nn.GELU(approximate=ctx.p["approximate"])


def _vectors(ctx, dim_index: int):
    """(vectors, n): how many vectors of length n a reduction over one dim sees."""
    n = ctx.out[dim_index] if ctx.out else 1
    return V("vectors", numel(ctx.out) // n), V("n", n)


class Softmax(LayerType):
    name = "Softmax"
    category = "Activation"
    doc = ("Normalised exponentials over one dim (the last by default): n exp, n − 1 adds, "
           "n divisions per vector of n.")
    params = (ParamSpec("dim", "int", -1, "Dim to normalise over: −1 the last, or as torch "
                                          "numbers it (1 = first after the batch).",
                        minimum=-4, maximum=4),)

    def summary(self, p):
        return "" if p["dim"] == -1 else f"dim {p['dim']}"

    def _index(self, ctx) -> int:
        dim, rank = ctx.p["dim"], len(ctx.x)
        if dim == 0 or not -rank <= dim <= rank:
            raise ctx.error("dim", f"dim {dim} is not a dim of a {shape_text(ctx.x)} sample "
                                   f"(use 1 to {rank}, or −1 to −{rank}; 0 is the batch)")
        return dim - 1 if dim > 0 else rank + dim

    def output_shape(self, ctx):
        if ctx.x:
            self._index(ctx)
        return ctx.x

    def forward(self, ctx, bias_adds):
        vectors, nn = _vectors(ctx, self._index(ctx) if ctx.x else 0)
        return [OpPart(output_shape=ctx.out, special=vectors * nn,
                       add=vectors * (nn - ONE).bracketed(), mul=vectors * nn,
                       notes="divisions counted as mul; the max subtracted for stability "
                             "is not counted")]

    def backward(self, ctx, need_input_grad, bias_adds):
        if not need_input_grad:
            return Backward()
        vectors, nn = _vectors(ctx, self._index(ctx) if ctx.x else 0)
        vectors = V("B", ctx.batch) * vectors
        return Backward(input_grad=GradCount(mul=vectors * C(2) * nn,
                                             add=vectors * (C(2) * nn - ONE).bracketed()))

    def build(self, ctx):
        from torch import nn
        return nn.Softmax(dim=ctx.p["dim"])


class Dropout(LayerType):
    name = "Dropout"
    category = "Normalization"
    doc = "Zeroes elements with probability p while training; identity at inference."
    params = (ParamSpec("p", "float", 0.5, "Probability of zeroing an element.", minimum=0.0,
                        maximum=1.0),)

    def summary(self, p):
        return f"p={p['p']:g}"

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, notes="inference: no arithmetic (training adds "
                                                   "1 mul per element for the mask)")]

    def build(self, ctx):
        from torch import nn
        return nn.Dropout(ctx.p["p"])


class BatchNorm2d(LayerType):
    name = "BatchNorm2d"
    category = "Normalization"
    doc = "Per-channel normalisation with learned scale γ and shift β."
    params = (ParamSpec("eps", "float", 1e-5, "Added to the variance.", minimum=0.0),
              ParamSpec("affine", "bool", True, "Learn γ and β."))

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "a C×H×W input")
        return ctx.x

    def param_shapes(self, ctx):
        c = ctx.x[0]
        return {"weight": (c,), "bias": (c,)} if ctx.p["affine"] else {}

    def forward(self, ctx, bias_adds):
        c = V("C", ctx.x[0])
        n = elements(ctx.out)
        per = 2 if ctx.p["affine"] else 1
        return [OpPart(output_shape=ctx.out, weight_shape=(ctx.x[0],) if ctx.p["affine"] else None,
                       bias_shape=(ctx.x[0],) if ctx.p["affine"] else None,
                       add=n * C(per) + c, mul=n * C(per), special=c,
                       notes="inference form (x − μ)·(1/σ)·γ + β; per channel: + eps and "
                             "one reciprocal square root")]

    def backward(self, ctx, need_input_grad, bias_adds):
        ch, h, w = ctx.x
        b = V("B", ctx.batch)
        c = V("C", ch)
        m = b * V("H", h) * V("W", w)
        weight = bias = GradCount()
        if ctx.p["affine"]:
            weight = GradCount(mul=c * m, add=c * (m - ONE).bracketed())
            bias = GradCount(add=c * (m - ONE).bracketed())
        inputs = GradCount()
        if need_input_grad:
            inputs = GradCount(mul=C(3) * b * elements(ctx.out), add=C(2) * b * elements(ctx.out))
        return Backward(weight, bias, inputs,
                        notes="input gradient (γ/σ)(g − mean(g) − x̂·mean(g·x̂)) ≈ 3 mul, "
                              "2 add per element with the sums shared")

    def build(self, ctx):
        from torch import nn
        return nn.BatchNorm2d(ctx.x[0], eps=ctx.p["eps"], affine=ctx.p["affine"])


class LayerNorm(LayerType):
    name = "LayerNorm"
    category = "Normalization"
    doc = ("Normalises each vector over its last dim (or its last k dims together), then "
           "scales and shifts.")
    params = (ParamSpec("eps", "float", 1e-5, "Added to the variance.", minimum=0.0),
              ParamSpec("affine", "bool", True, "Learn a scale and shift per feature."),
              ParamSpec("dims", "int", 1, "How many trailing dims are normalised together.",
                        minimum=1, maximum=4))

    def summary(self, p):
        return f"last {p['dims']} dims" if p["dims"] > 1 else ""

    def output_shape(self, ctx):
        if ctx.p["dims"] > len(ctx.x):
            raise ctx.error("dims", f"{ctx.p['dims']} dims do not exist in a "
                                    f"{shape_text(ctx.x)} sample")
        return ctx.x

    def _normalized(self, ctx) -> tuple:
        return tuple(ctx.x[-ctx.p["dims"]:])

    def param_shapes(self, ctx):
        shape = self._normalized(ctx)
        return {"weight": shape, "bias": shape} if ctx.p["affine"] else {}

    def forward(self, ctx, bias_adds):
        shape = self._normalized(ctx)
        n = numel(shape)
        vectors = V("vectors", numel(ctx.out) // n)
        nn = V("n", n)
        if ctx.p["affine"]:
            add, mul = C(4) * nn - ONE, C(3) * nn + C(2)
        else:
            add, mul = C(3) * nn - ONE, C(2) * nn + C(2)
        return [OpPart(output_shape=ctx.out, add=vectors * add.bracketed(),
                       mul=vectors * mul.bracketed(), special=vectors,
                       weight_shape=shape if ctx.p["affine"] else None,
                       bias_shape=shape if ctx.p["affine"] else None,
                       notes="per vector of n: mean, centre, variance, + eps, 1/√, scale"
                             + (", affine" if ctx.p["affine"] else ""))]

    def backward(self, ctx, need_input_grad, bias_adds):
        n = numel(self._normalized(ctx))
        rows = V("B", ctx.batch) * V("vectors", numel(ctx.out) // n)
        nn = V("n", n)
        weight = bias = GradCount()
        if ctx.p["affine"]:
            weight = GradCount(mul=rows * nn, add=nn * (rows - ONE).bracketed())
            bias = GradCount(add=nn * (rows - ONE).bracketed())
        inputs = GradCount()
        if need_input_grad:
            inputs = GradCount(mul=C(3) * rows * nn, add=C(3) * rows * nn)
        return Backward(weight, bias, inputs, notes="input gradient ≈ 3 mul, 3 add per "
                                                    "element with the sums shared")

    def build(self, ctx):
        from torch import nn
        return nn.LayerNorm(self._normalized(ctx), eps=ctx.p["eps"],
                            elementwise_affine=ctx.p["affine"])


class Flatten(LayerType):
    name = "Flatten"
    category = "Structure"
    doc = "Reshapes each sample into a vector: no arithmetic."

    def output_shape(self, ctx):
        return (numel(ctx.x),)

    def build(self, ctx):
        from torch import nn
        return nn.Flatten()


class Add(LayerType):
    name = "Add"
    category = "Structure"
    doc = "Element-wise sum of its inputs (residual connections)."
    min_inputs, max_inputs = 2, None

    def output_shape(self, ctx):
        for shape in ctx.ins[1:]:
            if shape != ctx.x:
                raise ctx.error("input", "inputs must have the same shape, got " + ", ".join(
                    shape_text(s) for s in ctx.ins))
        return ctx.x

    def forward(self, ctx, bias_adds):
        k = V("inputs", len(ctx.ins))
        return [OpPart(output_shape=ctx.out, add=(k - ONE).bracketed() * elements(ctx.out))]

    def build(self, ctx):
        from core.graph.layers.torch_modules import AddModule
        return AddModule()


class Concat(LayerType):
    name = "Concat"
    category = "Structure"
    doc = "Joins its inputs along one dimension (channels by default): no arithmetic."
    min_inputs, max_inputs = 2, None
    params = (ParamSpec("dim", "int", 0, "Per-sample dimension to join along (0: channels "
                                         "or sequence).", minimum=0),)

    def output_shape(self, ctx):
        dim = ctx.p["dim"]
        if any(dim >= len(s) for s in ctx.ins):
            raise ctx.error("dim", f"dim {dim} does not exist in inputs " + ", ".join(
                shape_text(s) for s in ctx.ins))
        rest = [s[:dim] + s[dim + 1:] for s in ctx.ins]
        if any(r != rest[0] for r in rest):
            raise ctx.error("input", f"inputs must match outside dim {dim}, got " + ", ".join(
                shape_text(s) for s in ctx.ins))
        joined = sum(s[dim] for s in ctx.ins)
        return ctx.x[:dim] + (joined,) + ctx.x[dim + 1:]

    def build(self, ctx):
        from core.graph.layers.torch_modules import ConcatModule
        return ConcatModule(ctx.p["dim"] + 1)


class TokenSelect(LayerType):
    name = "TokenSelect"
    category = "Structure"
    doc = "Takes one position of a sequence (e.g. BERT's [CLS] token for the pooler)."
    params = (ParamSpec("index", "int", 0, "Position to take.", minimum=0),)

    def output_shape(self, ctx):
        need_rank(ctx, (2,), "a sequence (length × features)")
        if ctx.p["index"] >= ctx.x[0]:
            raise ctx.error("index", f"index {ctx.p['index']} is outside the sequence of "
                                     f"length {ctx.x[0]}")
        return ctx.x[1:]

    def build(self, ctx):
        from core.graph.layers.torch_modules import TokenSelectModule
        return TokenSelectModule(ctx.p["index"])


LAYER_TYPES = (ReLU, ReLU6, Tanh, Sigmoid, GELU, Softmax, Dropout, BatchNorm2d, LayerNorm,
               Flatten, Add, Concat, TokenSelect)
