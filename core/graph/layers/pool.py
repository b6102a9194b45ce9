"""Pooling layer types: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and MaxUnpool2d.

Max-pool: (window − 1) comparisons per output. Avg-pool: (window − 1) adds and one
multiply (by 1/window) per output. Un-pooling moves data and does no arithmetic.
"""

from __future__ import annotations

from core.common.explain import ONE, V
from core.graph.layers.base import (Backward, Ctx, GradCount, LayerType, OpPart, ParamSpec,
                                    need_rank, pair_text)
from core.common.lattice import adaptive_window_total, touched_inputs

POOL_KERNEL = ParamSpec("kernel", "pair", 2, "Window size (one number or h, w).", minimum=1)
POOL_STRIDE = ParamSpec("stride", "pair", 2, "Step between windows (PyTorch's default is the "
                                             "kernel size).", minimum=1)
POOL_PADDING = ParamSpec("padding", "pair", 0, "Padding on each side (at most half the "
                                               "window).", minimum=0)
CEIL = ParamSpec("ceil_mode", "bool", False, "Round the output size up instead of down (keeps "
                                             "a last partial window).", label="ceil mode")


def pool_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of a pooling window, with PyTorch's ceil-mode rule."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or its left padding
    return out


def pool_geometry(ctx: Ctx, dilation=(1, 1)) -> tuple[int, int]:
    need_rank(ctx, (3,), "a C×H×W input")
    _, h, w = ctx.x
    p = ctx.p
    (kh, kw), (sh, sw), (ph, pw) = p["kernel"], p["stride"], p["padding"]
    (dh, dw) = dilation
    if ph > kh // 2 or pw > kw // 2:  # PyTorch's rule, on the undilated window
        raise ctx.error("padding", f"padding {pair_text(p['padding'])} is more than half the "
                                   f"{kh}×{kw} window")
    if dh * (kh - 1) + 1 > h + 2 * ph or dw * (kw - 1) + 1 > w + 2 * pw:
        raise ctx.error("kernel", f"kernel {kh}×{kw} is larger than its {h}×{w} input "
                                  f"(with padding {pair_text(p['padding'])})")
    ceil_mode = p.get("ceil_mode", False)
    return (pool_out_size(h, kh, sh, ph, dh, ceil_mode), pool_out_size(w, kw, sw, pw, dw,
                                                                       ceil_mode))


def _outputs(ctx) -> "V":
    c, ho, wo = ctx.out
    return V("C", c) * V("Hout", ho) * V("Wout", wo)


class MaxPool2d(LayerType):
    name = "MaxPool2d"
    category = "Pooling"
    doc = "Largest value of each window: (window − 1) comparisons per output."
    params = (POOL_KERNEL, POOL_STRIDE, POOL_PADDING,
              ParamSpec("dilation", "pair", 1, "Spacing between window taps.", minimum=1),
              CEIL)

    def summary(self, p):
        return f"{pair_text(p['kernel'])} s{pair_text(p['stride'])}"

    def output_shape(self, ctx):
        ho, wo = pool_geometry(ctx, ctx.p["dilation"])
        return (ctx.x[0], ho, wo)

    def forward(self, ctx, bias_adds):
        kh, kw = ctx.p["kernel"]
        logic = _outputs(ctx) * (V("Kh", kh) * V("Kw", kw) - ONE).bracketed()
        return [OpPart(logic=logic, output_shape=ctx.out)]

    def backward(self, ctx, need_input_grad, bias_adds):
        return Backward(notes="routes each output gradient to its window's maximum: data "
                              "movement, no arithmetic (overlapping windows may add "
                              "gradients, data-dependent, not counted)")

    def build(self, ctx):
        from torch import nn
        p = ctx.p
        return nn.MaxPool2d(p["kernel"], p["stride"], p["padding"], p["dilation"],
                            ceil_mode=p["ceil_mode"])


class AvgPool2d(LayerType):
    name = "AvgPool2d"
    category = "Pooling"
    doc = "Mean of each window: (window − 1) adds and 1 multiply per output."
    params = (POOL_KERNEL, POOL_STRIDE, POOL_PADDING, CEIL,
              ParamSpec("count_include_pad", "bool", True, "Divide by the full window, "
                                                           "padding included.",
                        label="count include pad"))

    def summary(self, p):
        return f"{pair_text(p['kernel'])} s{pair_text(p['stride'])}"

    def output_shape(self, ctx):
        ho, wo = pool_geometry(ctx)
        return (ctx.x[0], ho, wo)

    def forward(self, ctx, bias_adds):
        kh, kw = ctx.p["kernel"]
        outputs = _outputs(ctx)
        add = outputs * (V("Kh", kh) * V("Kw", kw) - ONE).bracketed()
        return [OpPart(add=add, mul=outputs, output_shape=ctx.out)]

    def backward(self, ctx, need_input_grad, bias_adds):
        if not need_input_grad:
            return Backward()
        c, h, w = ctx.x
        _, ho, wo = ctx.out
        p = ctx.p
        (kh, kw), (sh, sw), (ph, pw) = p["kernel"], p["stride"], p["padding"]
        b = V("B", ctx.batch)
        spread = _outputs(ctx) * V("Kh", kh) * V("Kw", kw)
        touched = V("C", c) * V("Th", touched_inputs(h, kh, sh, ph, 1, ho)) * V(
            "Tw", touched_inputs(w, kw, sw, pw, 1, wo))
        return Backward(input_grad=GradCount(mul=b * _outputs(ctx),
                                             add=b * (spread - touched).bracketed()),
                        notes="scale each output gradient by 1/window, then sum the "
                              "contributions reaching each input")

    def build(self, ctx):
        from torch import nn
        p = ctx.p
        return nn.AvgPool2d(p["kernel"], p["stride"], p["padding"], p["ceil_mode"],
                            p["count_include_pad"])


class _AdaptivePool(LayerType):
    """Pooling to a fixed output size; the windows are chosen as PyTorch does."""

    category = "Pooling"
    params = (ParamSpec("output_size", "pair", 1, "Output height, width.", minimum=1,
                        label="output size"),)

    def summary(self, p):
        return f"→{pair_text(p['output_size'])}"

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "a C×H×W input")
        return (ctx.x[0],) + tuple(ctx.p["output_size"])

    @staticmethod
    def window_steps(ctx):
        """C·(Σwin_h·Σwin_w − Hout·Wout): one step fewer than each window's length, per
        output (adds of an average, comparisons of a maximum)."""
        c, h, w = ctx.x
        _, ho, wo = ctx.out
        sum_h, sum_w = adaptive_window_total(h, ho), adaptive_window_total(w, wo)
        return V("C", c) * (V("Σwin_h", sum_h) * V("Σwin_w", sum_w)
                            - V("Hout", ho) * V("Wout", wo)).bracketed()


class AdaptiveAvgPool2d(_AdaptivePool):
    name = "AdaptiveAvgPool2d"
    doc = "Average pooling to a fixed output size (windows chosen as PyTorch does)."

    def forward(self, ctx, bias_adds):
        add = self.window_steps(ctx)
        return [OpPart(add=add, mul=_outputs(ctx), output_shape=ctx.out,
                       notes="Σwin_h, Σwin_w: the window lengths summed over the outputs")]

    def backward(self, ctx, need_input_grad, bias_adds):
        if not need_input_grad:
            return Backward()
        c, h, w = ctx.x
        _, ho, wo = ctx.out
        b = V("B", ctx.batch)
        sum_h, sum_w = adaptive_window_total(h, ho), adaptive_window_total(w, wo)
        spread = V("C", c) * V("Σwin_h", sum_h) * V("Σwin_w", sum_w)
        return Backward(input_grad=GradCount(
            mul=b * _outputs(ctx),
            add=b * (spread - V("C", c) * V("H", h) * V("W", w)).bracketed()))

    def build(self, ctx):
        from torch import nn
        return nn.AdaptiveAvgPool2d(ctx.p["output_size"])


class MaxUnpool2d(LayerType):
    name = "MaxUnpool2d"
    category = "Pooling"
    doc = ("Inverse of max-pooling: each value goes back to where its paired pool found the "
           "maximum (or, unpaired, to the top-left of its window); the rest are zeros.")
    params = (POOL_KERNEL, POOL_STRIDE, POOL_PADDING,
              ParamSpec("pool", "node", "", "The MaxPool2d whose positions to restore (empty: "
                                            "top-left of each window)."))

    def summary(self, p):
        return f"↑{pair_text(p['stride'])}" + (f" ({p['pool']})" if p["pool"] else "")

    def dependencies(self, params):
        return [params["pool"]] if params.get("pool") else []

    def output_shape(self, ctx):
        need_rank(ctx, (3,), "a C×H×W input")
        c, h, w = ctx.x
        p = ctx.p
        if p["pool"]:
            kind, pool_ins, pool_out = ctx.refs[p["pool"]]
            if kind != "MaxPool2d":
                raise ctx.error("pool", f"pool {p['pool']!r} is a {kind}, not a MaxPool2d")
            if pool_out != ctx.x:
                raise ctx.error("pool", f"paired pool {p['pool']!r} gives "
                                        f"{'×'.join(map(str, pool_out))} but this unpool "
                                        f"receives {'×'.join(map(str, ctx.x))}")
            return (c,) + tuple(pool_ins[0][1:])
        size = tuple((n - 1) * s - 2 * pad + k for n, k, s, pad in zip(
            (h, w), p["kernel"], p["stride"], p["padding"]))
        if min(size) < 1:
            raise ctx.error("padding", f"padding {pair_text(p['padding'])} leaves no output")
        return (c,) + size

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, notes="places values; no arithmetic")]

    def build(self, ctx):
        from core.graph.layers.torch_modules import TopLeftUnpool, PairedUnpool
        p = ctx.p
        if p["pool"]:
            return PairedUnpool(p["kernel"], p["stride"], p["padding"], ctx.out[1:])
        return TopLeftUnpool(p["kernel"], p["stride"], p["padding"], ctx.out[1:])


class AdaptiveMaxPool2d(_AdaptivePool):
    name = "AdaptiveMaxPool2d"
    doc = "Max pooling to a fixed output size (windows chosen as PyTorch does)."

    def forward(self, ctx, bias_adds):
        return [OpPart(logic=self.window_steps(ctx), output_shape=ctx.out,
                       notes="window − 1 comparisons per output; Σwin_h, Σwin_w: the "
                             "window lengths summed over the outputs")]

    def backward(self, ctx, need_input_grad, bias_adds):
        return Backward(notes="routes each output gradient to its window's maximum: data "
                              "movement, no arithmetic")

    def build(self, ctx):
        from torch import nn
        return nn.AdaptiveMaxPool2d(ctx.p["output_size"])


LAYER_TYPES = (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, MaxUnpool2d)
