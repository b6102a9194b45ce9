"""Convolution layer types: Conv2d, DepthwiseSeparableConv2d, ConvTranspose2d.

Counting follows DESIGN.md: a conv output needs (Cin/g·Kh·Kw) multiplies and
(Cin/g·Kh·Kw − 1) adds, plus one add for the bias; MACs = Cout·Hout·Wout·(Cin/g·Kh·Kw).
"""

from __future__ import annotations

from core.common.explain import ONE, ZERO, Expr, V
from core.graph.layers.base import (Backward, Ctx, GradCount, LayerType, OpPart, ParamSpec,
                                    need_rank, pair_text)
from core.common.lattice import touched_inputs, transposed_coverage

KERNEL = ParamSpec("kernel", "pair", 3, "Kernel size (one number or height, width).", minimum=1)
STRIDE = ParamSpec("stride", "pair", 1, "Step between windows (one number or h, w).", minimum=1)
PADDING = ParamSpec("padding", "pair", 0, "Zeros added on each side (one number or h, w).",
                    minimum=0)
DILATION = ParamSpec("dilation", "pair", 1, "Spacing between kernel taps.", minimum=1)
BIAS = ParamSpec("bias", "bool", True, "Add a learned bias per output channel.")
OUT_CHANNELS = ParamSpec("out_channels", "int", 16, "Number of filters (output channels).",
                         minimum=1, label="out channels")


# ---------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------
def conv_out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """Output length along one dimension (floor, as PyTorch)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_geometry(ctx: Ctx, kernel, stride, padding, dilation) -> tuple[int, int]:
    """(Hout, Wout) of a convolution window over ctx's C×H×W input, validated."""
    _, h, w = ctx.x
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        dilated = f"dilated kernel {eh}×{ew} ({kh}×{kw} at dilation {pair_text(dilation)})" \
            if (dh, dw) != (1, 1) else f"kernel {kh}×{kw}"
        raise ctx.error("kernel", f"{dilated} is larger than its {h}×{w} input "
                                  f"(with padding {pair_text(padding)})")
    return conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw)


# ---------------------------------------------------------------------------------------
# Shared counting for a (grouped) convolution
# ---------------------------------------------------------------------------------------
def conv_forward_counts(part: str, cout: Expr, window: Expr, ho: int, wo: int, bias: bool,
                        bias_adds: bool) -> OpPart:
    """MACs, mul, add of Cout output maps of Hout×Wout, each output a window-sized dot."""
    outputs = cout * V("Hout", ho) * V("Wout", wo)
    macs = outputs * window.bracketed()
    adds = outputs * (window - ONE).bracketed()
    bias_part = outputs if bias else ZERO
    if bias and bias_adds:
        adds = adds + bias_part
    return OpPart(part=part, macs=macs, mul=macs, add=adds, bias_adds=bias_part)


def conv_backward_counts(batch: int, macs: Expr, weights: Expr, cout: Expr, ho: int, wo: int,
                         bias: bool, need_input_grad: bool, touched_inputs_expr: Expr) -> Backward:
    """Weight, bias and input gradients of a convolution at batch B."""
    b = V("B", batch)
    positions = b * V("Hout", ho) * V("Wout", wo)
    weight = GradCount(mul=weights * positions, add=weights * (positions - ONE).bracketed())
    bias_grad = GradCount(add=cout * (positions - ONE).bracketed()) if bias else GradCount()
    input_grad = GradCount()
    if need_input_grad:
        named = macs.named("MACs")
        input_grad = GradCount(mul=b * named,
                               add=b * (named - touched_inputs_expr).bracketed())
    return Backward(weight, bias_grad, input_grad)


def torch_conv_flops(batch: int, macs: Expr, full_weight_product: Expr,
                     need_input_grad: bool) -> tuple[Expr, Expr]:
    """FlopCounterMode: forward 2·B·MACs; backward adds 2·B·MACs for the input gradient
    and, for the weight gradient, 2·B·Hout·Wout·Kh·Kw·Cin·Cout (all input channels, so
    grouped convolutions count `groups` times their forward there, as torch does)."""
    b2 = V("2", 2) * V("B", batch)
    fwd = b2 * macs.named("MACs")
    bwd = b2 * full_weight_product
    if need_input_grad:
        bwd = bwd + b2 * macs.named("MACs")
    return fwd, bwd


def group_excess(batch: int, macs: Expr, full_weight_product: Expr) -> Expr:
    """What FlopCounterMode's weight gradient of a grouped convolution counts beyond the
    2·B·MACs a per-group count gives: 2·B·(full product − MACs)."""
    return V("2", 2) * V("B", batch) * (full_weight_product - macs.named("MACs")).bracketed()


def cin_over_groups(cin: int, groups: int) -> Expr:
    return V("Cin", cin) if groups == 1 else V("Cin", cin) // V("g", groups)


# ---------------------------------------------------------------------------------------
# Layer types
# ---------------------------------------------------------------------------------------
class Conv2d(LayerType):
    name = "Conv2d"
    category = "Convolution"
    doc = "2-D convolution over a C×H×W input (cross-correlation, as PyTorch)."
    params = (
        OUT_CHANNELS, KERNEL, STRIDE, PADDING, DILATION,
        ParamSpec("groups", "int", 1, "Split channels into groups (Cin and Cout must divide).",
                  minimum=1),
        BIAS,
    )

    def summary(self, p):
        return f"{p['out_channels']} @ {pair_text(p['kernel'])}" + (
            f" s{pair_text(p['stride'])}" if p["stride"] != (1, 1) else "") + (
            f" p{pair_text(p['padding'])}" if p["padding"] != (0, 0) else "")

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "a C×H×W input")
        cin, g, cout = ctx.x[0], ctx.p["groups"], ctx.p["out_channels"]
        if cin % g:
            raise ctx.error("groups", f"groups {g} does not divide the {cin} input channels")
        if cout % g:
            raise ctx.error("groups", f"groups {g} does not divide the {cout} output channels")
        ho, wo = conv_geometry(ctx, ctx.p["kernel"], ctx.p["stride"], ctx.p["padding"],
                               ctx.p["dilation"])
        return (cout, ho, wo)

    def param_shapes(self, ctx):
        cin, (kh, kw), cout = ctx.x[0], ctx.p["kernel"], ctx.p["out_channels"]
        shapes = {"weight": (cout, cin // ctx.p["groups"], kh, kw)}
        if ctx.p["bias"]:
            shapes["bias"] = (cout,)
        return shapes

    def _window(self, ctx) -> Expr:
        kh, kw = ctx.p["kernel"]
        return cin_over_groups(ctx.x[0], ctx.p["groups"]) * V("Kh", kh) * V("Kw", kw)

    def forward(self, ctx, bias_adds):
        _, ho, wo = ctx.out
        part = conv_forward_counts("", V("Cout", ctx.out[0]), self._window(ctx), ho, wo,
                                   ctx.p["bias"], bias_adds)
        part.output_shape = ctx.out
        return [part]

    def backward(self, ctx, need_input_grad, bias_adds):
        cout, ho, wo = ctx.out
        fwd = self.forward(ctx, bias_adds)[0]
        weights = V("Cout", cout) * self._window(ctx)
        return conv_backward_counts(ctx.batch, fwd.macs, weights, V("Cout", cout), ho, wo,
                                    ctx.p["bias"], need_input_grad, self._touched(ctx))

    def _touched(self, ctx) -> Expr:
        cin, h, w = ctx.x
        (kh, kw), (sh, sw) = ctx.p["kernel"], ctx.p["stride"]
        (ph, pw), (dh, dw) = ctx.p["padding"], ctx.p["dilation"]
        th = touched_inputs(h, kh, sh, ph, dh, ctx.out[1])
        tw = touched_inputs(w, kw, sw, pw, dw, ctx.out[2])
        return V("Cin", cin) * V("Th", th) * V("Tw", tw)

    def torch_flops(self, ctx, need_input_grad):
        cout, ho, wo = ctx.out
        kh, kw = ctx.p["kernel"]
        macs = self.forward(ctx, False)[0].macs
        full = V("Hout", ho) * V("Wout", wo) * V("Kh", kh) * V("Kw", kw) * V(
            "Cin", ctx.x[0]) * V("Cout", cout)
        return torch_conv_flops(ctx.batch, macs, full, need_input_grad)

    def torch_group_excess(self, ctx):
        if ctx.p["groups"] == 1:
            return ZERO
        cout, ho, wo = ctx.out
        kh, kw = ctx.p["kernel"]
        macs = self.forward(ctx, False)[0].macs
        full = V("Hout", ho) * V("Wout", wo) * V("Kh", kh) * V("Kw", kw) * V(
            "Cin", ctx.x[0]) * V("Cout", cout)
        return group_excess(ctx.batch, macs, full)

    def build(self, ctx):
        from torch import nn
        p = ctx.p
        return nn.Conv2d(ctx.x[0], p["out_channels"], p["kernel"], p["stride"], p["padding"],
                         p["dilation"], p["groups"], p["bias"])


class DepthwiseSeparableConv2d(LayerType):
    name = "DepthwiseSeparableConv2d"
    category = "Convolution"
    doc = ("Depthwise K×K convolution (one filter per input channel) followed by a pointwise "
           "1×1 convolution: the MobileNet unit, shown as its two parts.")
    params = (OUT_CHANNELS, KERNEL, STRIDE, PADDING, DILATION, BIAS)

    def summary(self, p):
        return f"{p['out_channels']} @ dw{pair_text(p['kernel'])}+pw1"

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "a C×H×W input")
        ho, wo = conv_geometry(ctx, ctx.p["kernel"], ctx.p["stride"], ctx.p["padding"],
                               ctx.p["dilation"])
        return (ctx.p["out_channels"], ho, wo)

    def param_shapes(self, ctx):
        c, (kh, kw), cout = ctx.x[0], ctx.p["kernel"], ctx.p["out_channels"]
        shapes = {"depthwise.weight": (c, 1, kh, kw)}
        if ctx.p["bias"]:
            shapes["depthwise.bias"] = (c,)
        shapes["pointwise.weight"] = (cout, c, 1, 1)
        if ctx.p["bias"]:
            shapes["pointwise.bias"] = (cout,)
        return shapes

    def _windows(self, ctx) -> tuple[Expr, Expr]:
        kh, kw = ctx.p["kernel"]
        return V("Kh", kh) * V("Kw", kw), V("Cin", ctx.x[0])

    def forward(self, ctx, bias_adds):
        c, bias = ctx.x[0], ctx.p["bias"]
        cout, ho, wo = ctx.out
        (kh, kw), (dw_window, pw_window) = ctx.p["kernel"], self._windows(ctx)
        dw = conv_forward_counts("depthwise", V("Cin", c), dw_window, ho, wo, bias, bias_adds)
        dw.output_shape, dw.weight_shape = (c, ho, wo), (c, 1, kh, kw)
        dw.bias_shape = (c,) if bias else None
        pw = conv_forward_counts("pointwise", V("Cout", cout), pw_window, ho, wo, bias,
                                 bias_adds)
        pw.output_shape, pw.weight_shape = ctx.out, (cout, c, 1, 1)
        pw.bias_shape = (cout,) if bias else None
        return [dw, pw]

    def backward(self, ctx, need_input_grad, bias_adds):
        c, h, w = ctx.x
        cout, ho, wo = ctx.out
        dw, pw = self.forward(ctx, bias_adds)
        dw_window, pw_window = self._windows(ctx)
        (kh, kw), (sh, sw) = ctx.p["kernel"], ctx.p["stride"]
        (ph, pwd), (dh, dd) = ctx.p["padding"], ctx.p["dilation"]
        touched = V("Cin", c) * V("Th", touched_inputs(h, kh, sh, ph, dh, ho)) * V(
            "Tw", touched_inputs(w, kw, sw, pwd, dd, wo))
        depthwise = conv_backward_counts(ctx.batch, dw.macs, V("Cin", c) * dw_window,
                                         V("Cin", c), ho, wo, ctx.p["bias"], need_input_grad,
                                         touched)
        pointwise = conv_backward_counts(ctx.batch, pw.macs, V("Cout", cout) * pw_window,
                                         V("Cout", cout), ho, wo, ctx.p["bias"], True,
                                         V("Cin", c) * V("Hout", ho) * V("Wout", wo))
        return depthwise + pointwise

    def torch_flops(self, ctx, need_input_grad):
        c = ctx.x[0]
        cout, ho, wo = ctx.out
        kh, kw = ctx.p["kernel"]
        dw, pw = self.forward(ctx, False)
        spatial = V("Hout", ho) * V("Wout", wo)
        dw_full = spatial * V("Kh", kh) * V("Kw", kw) * V("Cin", c) * V("Cin", c)
        pw_full = spatial * V("Cin", c) * V("Cout", cout)
        f1, b1 = torch_conv_flops(ctx.batch, dw.macs, dw_full, need_input_grad)
        f2, b2 = torch_conv_flops(ctx.batch, pw.macs, pw_full, True)
        return f1 + f2, b1 + b2

    def torch_group_excess(self, ctx):
        c = ctx.x[0]
        _, ho, wo = ctx.out
        kh, kw = ctx.p["kernel"]
        dw = self.forward(ctx, False)[0]
        full = V("Hout", ho) * V("Wout", wo) * V("Kh", kh) * V("Kw", kw) * V("Cin", c) * V(
            "Cin", c)
        return group_excess(ctx.batch, dw.macs, full)

    def build(self, ctx):
        from collections import OrderedDict

        from torch import nn
        p, c = ctx.p, ctx.x[0]
        return nn.Sequential(OrderedDict(
            depthwise=nn.Conv2d(c, c, p["kernel"], p["stride"], p["padding"], p["dilation"],
                                groups=c, bias=p["bias"]),
            pointwise=nn.Conv2d(c, p["out_channels"], 1, bias=p["bias"]),
        ))


class ConvTranspose2d(LayerType):
    name = "ConvTranspose2d"
    category = "Convolution"
    doc = ("Transposed convolution (a learned up-sampling): every input element scatters a "
           "K×K patch into the output.")
    params = (
        OUT_CHANNELS, ParamSpec("kernel", "pair", 2, KERNEL.doc, minimum=1),
        ParamSpec("stride", "pair", 2, STRIDE.doc, minimum=1), PADDING,
        ParamSpec("output_padding", "pair", 0, "Extra rows/columns added to one side of the "
                                               "output.", minimum=0, label="output padding"),
        DILATION,
        ParamSpec("groups", "int", 1, "Split channels into groups.", minimum=1), BIAS,
    )

    def summary(self, p):
        return f"{p['out_channels']} @ {pair_text(p['kernel'])} ↑{pair_text(p['stride'])}"

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "a C×H×W input")
        cin, h, w = ctx.x
        p = ctx.p
        g, cout = p["groups"], p["out_channels"]
        if cin % g or cout % g:
            raise ctx.error("groups", f"groups {g} must divide the {cin} input and {cout} "
                                      f"output channels")
        for axis in (0, 1):
            if p["output_padding"][axis] >= max(p["stride"][axis], p["dilation"][axis]):
                raise ctx.error("output_padding", f"output padding {pair_text(p['output_padding'])}"
                                                  " must be smaller than the stride or dilation")
        size = []
        for n, axis in ((h, 0), (w, 1)):
            size.append((n - 1) * p["stride"][axis] - 2 * p["padding"][axis]
                        + p["dilation"][axis] * (p["kernel"][axis] - 1)
                        + p["output_padding"][axis] + 1)
        if min(size) < 1:
            raise ctx.error("padding", f"padding {pair_text(p['padding'])} leaves no output "
                                       f"({size[0]}×{size[1]})")
        return (cout, size[0], size[1])

    def param_shapes(self, ctx):
        (kh, kw), p = ctx.p["kernel"], ctx.p
        shapes = {"weight": (ctx.x[0], p["out_channels"] // p["groups"], kh, kw)}
        if p["bias"]:
            shapes["bias"] = (p["out_channels"],)
        return shapes

    def _macs(self, ctx) -> Expr:
        cin, h, w = ctx.x
        (kh, kw), g = ctx.p["kernel"], ctx.p["groups"]
        cout_g = V("Cout", ctx.out[0]) if g == 1 else V("Cout", ctx.out[0]) // V("g", g)
        return V("Cin", cin) * V("Hin", h) * V("Win", w) * (cout_g * V("Kh", kh) * V(
            "Kw", kw)).bracketed()

    def forward(self, ctx, bias_adds):
        cin, h, w = ctx.x
        cout, ho, wo = ctx.out
        p = ctx.p
        kept_h, reached_h = transposed_coverage(h, p["kernel"][0], p["stride"][0],
                                                p["padding"][0], p["dilation"][0], ho)
        kept_w, reached_w = transposed_coverage(w, p["kernel"][1], p["stride"][1],
                                                p["padding"][1], p["dilation"][1], wo)
        cin_g = cin_over_groups(cin, p["groups"])
        # Each reached output sums cin/g·(hits along h)·(hits along w) products.
        adds = V("Cout", cout) * (cin_g * V("Ph", kept_h) * V("Pw", kept_w)
                                  - V("Rh", reached_h) * V("Rw", reached_w)).bracketed()
        bias_part = V("Cout", cout) * V("Hout", ho) * V("Wout", wo) if p["bias"] else ZERO
        if p["bias"] and bias_adds:
            adds = adds + bias_part
        macs = self._macs(ctx)
        return [OpPart(macs=macs, mul=macs, add=adds, bias_adds=bias_part, output_shape=ctx.out,
                       notes="MACs count every product computed, also those PyTorch crops "
                             "away with padding; adds count only products that land in the "
                             "output (Ph, Pw: such products per row/column; Rh, Rw: outputs "
                             "reached).")]

    def backward(self, ctx, need_input_grad, bias_adds):
        cin, h, w = ctx.x
        cout, ho, wo = ctx.out
        (kh, kw), g = ctx.p["kernel"], ctx.p["groups"]
        macs = self._macs(ctx)
        b = V("B", ctx.batch)
        cout_g = V("Cout", cout) if g == 1 else V("Cout", cout) // V("g", g)
        weights = V("Cin", cin) * cout_g * V("Kh", kh) * V("Kw", kw)
        positions = b * V("Hin", h) * V("Win", w)
        weight = GradCount(mul=b * macs.named("MACs"),
                           add=weights * (positions - ONE).bracketed())
        bias_grad = GradCount(add=V("Cout", cout) * (b * V("Hout", ho) * V("Wout", wo)
                                                     - ONE).bracketed()) \
            if ctx.p["bias"] else GradCount()
        inputs = GradCount()
        if need_input_grad:
            inputs = GradCount(mul=b * macs.named("MACs"),
                               add=b * (macs.named("MACs") - V("Cin", cin) * V("Hin", h)
                                        * V("Win", w)).bracketed())
        return Backward(weight, bias_grad, inputs,
                        notes="treats every product as kept (cropped border included)")

    def torch_flops(self, ctx, need_input_grad):
        cin, h, w = ctx.x
        kh, kw = ctx.p["kernel"]
        full = V("Hin", h) * V("Win", w) * V("Kh", kh) * V("Kw", kw) * V("Cin", cin) * V(
            "Cout", ctx.out[0])
        return torch_conv_flops(ctx.batch, self._macs(ctx), full, need_input_grad)

    def torch_group_excess(self, ctx):
        if ctx.p["groups"] == 1:
            return ZERO
        cin, h, w = ctx.x
        kh, kw = ctx.p["kernel"]
        full = V("Hin", h) * V("Win", w) * V("Kh", kh) * V("Kw", kw) * V("Cin", cin) * V(
            "Cout", ctx.out[0])
        return group_excess(ctx.batch, self._macs(ctx), full)

    def build(self, ctx):
        from torch import nn
        p = ctx.p
        return nn.ConvTranspose2d(ctx.x[0], p["out_channels"], p["kernel"], p["stride"],
                                  p["padding"], p["output_padding"], p["groups"], p["bias"],
                                  p["dilation"])


LAYER_TYPES = (Conv2d, DepthwiseSeparableConv2d, ConvTranspose2d)
