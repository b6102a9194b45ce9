"""Swin Transformer's layer types: (shifted) window attention and patch merging.

WindowAttention works on an H×W×C map: it pads H and W to whole windows of w0×w1
tokens, attends inside each of the nW windows (h heads of d = C/h), adds a relative
position bias (v1: a learned table; v2: a two-layer MLP of the relative coordinates,
with cosine attention and a learned logit scale), masks the windows the shift wraps
around, and crops back. Its parts are counted like MultiHeadAttention's with T = nW·N
tokens of N = w0·w1. PatchMerge is the gather before Swin's patch-merging LayerNorm and
Linear: ⌈H/2⌉×⌈W/2⌉×4C, no arithmetic.
"""

from __future__ import annotations

from core.common.explain import ONE, ZERO, C, V, shape_text
from core.graph.layers.base import Backward, GradCount, LayerType, OpPart, ParamSpec, need_rank
from core.graph.layers.dense import linear_backward, linear_forward, linear_torch

CPB_HIDDEN = 512  # width of Swin v2's relative-position-bias MLP


class WindowAttention(LayerType):
    name = "WindowAttention"
    category = "Attention"
    doc = ("Swin's (shifted) window self-attention over an H×W×C map: attention inside "
           "w0×w1 windows with a relative position bias; a shift moves the windows by "
           "(s0, s1) and masks the tokens that wrap around.")
    params = (ParamSpec("num_heads", "int", 3, "Number of heads h (C must divide by h).",
                        minimum=1, label="heads"),
              ParamSpec("window", "pair", 7, "Window size w0, w1.", minimum=1),
              ParamSpec("shift", "pair", 0, "Shift s0, s1 (0: plain windows; set to 0 "
                                            "where a window covers the map).", minimum=0),
              ParamSpec("bias", "bool", True, "Biases on the qkv and output projections."),
              ParamSpec("version", "choice", "v1", "v1: learned bias table, scaled dot "
                                                   "products; v2: bias MLP, cosine "
                                                   "attention with a learned scale.",
                        choices=("v1", "v2")))

    def summary(self, p):
        w = p["window"]
        return f"h={p['num_heads']} w={w[0]}" + (f" shift {p['shift'][0]}" if any(
            p["shift"]) else "") + (" v2" if p["version"] == "v2" else "")

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "an H×W×C map")
        if ctx.x[2] % ctx.p["num_heads"]:
            raise ctx.error("num_heads", f"{ctx.x[2]} channels do not divide into "
                                         f"{ctx.p['num_heads']} heads")
        if any(s >= w for s, w in zip(ctx.p["shift"], ctx.p["window"])):
            raise ctx.error("shift", f"shift {shape_text(ctx.p['shift'])} must be smaller "
                                     f"than the window {shape_text(ctx.p['window'])}")
        return ctx.x

    def geometry(self, ctx):
        """(windows nW, tokens per window N, channels C, heads h, head dim d, shifted)."""
        h, w, c = ctx.x
        (w0, w1), (s0, s1) = ctx.p["window"], ctx.p["shift"]
        ph, pw = -(-h // w0) * w0, -(-w // w1) * w1
        shifted = (s0 if w0 < ph else 0) + (s1 if w1 < pw else 0) > 0
        heads = ctx.p["num_heads"]
        return (ph // w0) * (pw // w1), w0 * w1, c, heads, c // heads, shifted

    def _table_rows(self, ctx) -> int:
        w0, w1 = ctx.p["window"]
        return (2 * w0 - 1) * (2 * w1 - 1)

    def param_shapes(self, ctx):
        c, heads, bias = ctx.x[2], ctx.p["num_heads"], ctx.p["bias"]
        shapes = {"qkv.weight": (3 * c, c)}
        if bias:
            shapes["qkv.bias"] = (3 * c,)
        shapes["proj.weight"] = (c, c)
        if bias:
            shapes["proj.bias"] = (c,)
        if ctx.p["version"] == "v1":
            shapes["relative_position_bias_table"] = (self._table_rows(ctx), heads)
        else:
            shapes["logit_scale"] = (heads, 1, 1)
            shapes["cpb_mlp.0.weight"] = (CPB_HIDDEN, 2)
            shapes["cpb_mlp.0.bias"] = (CPB_HIDDEN,)
            shapes["cpb_mlp.2.weight"] = (heads, CPB_HIDDEN)
        return shapes

    def forward(self, ctx, bias_adds):
        nw, n, c, heads, d, shifted = self.geometry(ctx)
        bias = ctx.p["bias"]
        tokens = V("nW", nw) * V("N", n)
        windows = V("nW", nw) * V("h", heads)
        scores = windows * V("N", n) * V("N", n)
        qkv = linear_forward("qkv", tokens, c, 3 * c, bias, bias_adds, "C", "3C")
        qkv.output_shape = (nw * n, 3 * c)
        parts = [qkv,
                 OpPart(part="scores", macs=scores * V("d", d), mul=scores * V("d", d) + scores,
                        add=scores * (V("d", d) - ONE).bracketed()
                        + scores * (C(2) if shifted else ONE),
                        output_shape=(nw * heads, n, n),
                        notes="Q·Kᵀ per window and head, × 1/√d (v2: cosine, × scale), + "
                              "position bias" + (", + shift mask" if shifted else "")),
                 OpPart(part="softmax", special=scores, mul=scores,
                        add=windows * V("N", n) * (V("N", n) - ONE).bracketed(),
                        output_shape=(nw * heads, n, n)),
                 OpPart(part="context", macs=scores * V("d", d), mul=scores * V("d", d),
                        add=windows * V("N", n) * V("d", d) * (V("N", n) - ONE).bracketed(),
                        output_shape=(nw * heads, n, d), notes="A·V per window and head")]
        proj = linear_forward("proj", tokens, c, c, bias, bias_adds, "C", "C")
        proj.output_shape = ctx.out
        parts.append(proj)
        if ctx.p["version"] == "v2":
            parts[1].notes += ("; the bias MLP runs once per batch, not per sample, and is "
                               "not in these per-sample counts")
        return parts

    def backward(self, ctx, need_input_grad, bias_adds):
        nw, n, c, heads, d, _ = self.geometry(ctx)
        bias, b = ctx.p["bias"], ctx.batch
        tokens = V("nW", nw) * V("N", n)
        result = linear_backward(b, tokens, c, 3 * c, bias, need_input_grad, "C", "3C")
        result = result + linear_backward(b, tokens, c, c, bias, True, "C", "C")
        bh = V("B", b) * V("nW", nw) * V("h", heads)
        nn, dh = V("N", n), V("d", d)
        scores = bh * nn * nn
        result.input_grad = result.input_grad + GradCount(
            mul=C(4) * scores * dh + C(2) * scores + scores,
            add=bh * (C(4) * nn * dh * (nn - ONE).bracketed()
                      + nn * (C(2) * nn - ONE).bracketed()))
        result.notes = ("projections as Linear; both matrix products need both operand "
                        "gradients; softmax backward 2 mul, 2 add per score")
        return result

    def torch_flops(self, ctx, need_input_grad):
        nw, n, c, heads, d, _ = self.geometry(ctx)
        b = ctx.batch
        tokens = V("nW", nw) * V("N", n)
        qkv = linear_torch(b, tokens, c, 3 * c, need_input_grad, "C", "3C")
        proj = linear_torch(b, tokens, c, c, True, "C", "C")
        bmm = C(2) * V("B", b) * V("nW", nw) * V("h", heads) * V("N", n) * V("N", n) * V(
            "d", d)
        fwd = qkv[0] + proj[0] + C(2) * bmm
        bwd = qkv[1] + proj[1] + C(4) * bmm
        if ctx.p["version"] == "v2":
            rows = V("R", self._table_rows(ctx))
            first = C(2) * rows * C(2) * V("hidden", CPB_HIDDEN)
            second = C(2) * rows * V("hidden", CPB_HIDDEN) * V("h", heads)
            # once per batch; the coordinates need no gradient, the hidden layer does
            fwd = fwd + first + second
            bwd = bwd + first + second + second
        return fwd, bwd

    def build(self, ctx):
        from core.graph.layers.torch_modules import WindowAttentionModule
        return WindowAttentionModule(ctx.x[2], ctx.p["num_heads"], ctx.p["window"],
                                     ctx.p["shift"], ctx.p["bias"], ctx.p["version"])


class PatchMerge(LayerType):
    name = "PatchMerge"
    category = "Structure"
    doc = ("Swin's patch-merging gather: pads an H×W×C map to even H and W and stacks "
           "each 2×2 patch's four vectors, giving ⌈H/2⌉×⌈W/2⌉×4C; no arithmetic.")

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "an H×W×C map")
        h, w, c = ctx.x
        return (-(-h // 2), -(-w // 2), 4 * c)

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, notes="zero padding and a gather")]

    def build(self, ctx):
        from core.graph.layers.torch_modules import PatchMergeModule
        return PatchMergeModule()


LAYER_TYPES = (WindowAttention, PatchMerge)
