"""Other tools' totals for a network, by each tool's own rules (named with the version).

Each figure is what that tool reports for the module MLSys Studio builds from the network
(core.torchbridge.build), in eval mode, at the analysis batch:

- fvcore 0.1.5.post20221221 ``FlopCountAnalysis(model, x).total()``: per traced aten op,
  conv N·Cout·Ho·Wo·(Cin/g)·Kh·Kw (transposed: input size instead of output), linear
  in·outputs, matmul, batch norm (eval) elements × 2 (× 1 without affine), layer norm
  elements × 5 (× 4), adaptive average pooling input elements; nothing else.
- thop 0.1.1.post2209072238 ``profile(model, (x,))``: per module, conv outputs·(Cin/g)·
  Kh·Kw, linear in·outputs, batch and layer norm 2·elements (× 2 when affine), softmax
  vectors·(3n − 1), average pooling outputs, adaptive average pooling
  (H/Ho·W/Wo + 1)·outputs (fractional windows as the tool computes them); nothing else.
- torchinfo 1.8.0 ``summary(model, input_data=x).total_mult_adds``: per leaf module with
  parameters, conv (weights + biases)·N·Ho·Wo, any other (weights + biases)·N (its
  output's first dim: 1 for a Parameter), so a Linear on a sequence counts once per
  sample, not per token.
- ptflops (pytorch and aten backends): not reproduced (None); the report leaves it out.

A figure is None when the network holds a layer whose rule is not written here.
"""

from __future__ import annotations

from core.graph.layers.base import numel

VERSIONS = {"fvcore": "fvcore 0.1.5.post20221221 FlopCountAnalysis.total()",
            "thop": "thop 0.1.1.post2209072238 profile()",
            "ptflops": "ptflops (pytorch backend)",
            "ptflops_aten": "ptflops (aten backend)",
            "torchinfo": "torchinfo 1.8.0 total_mult_adds"}
NOT_REPRODUCED = ("ptflops", "ptflops_aten")

# Layer types none of the three tools counts (no rule fires, no parameters).
_FREE = {"Input", "Loss", "ReLU", "ReLU6", "Tanh", "Sigmoid", "GELU", "Dropout", "Flatten",
         "Add", "Concat", "TokenSelect", "MaxPool2d", "MaxUnpool2d", "AdaptiveMaxPool2d",
         "SiLU", "Hardswish", "Hardsigmoid", "Mul", "StochasticDepth", "Reshape", "Permute",
         "Transpose", "Slice", "ChannelShuffle"}


def other_tool_totals(results: list, b: int) -> dict[str, int | None]:
    """{"fvcore", "thop", "ptflops", "ptflops_aten", "torchinfo"} → total or None, for
    the analysed nodes (NodeResults) at batch ``b``; None everywhere when a node failed."""
    if not all(r.ok for r in results):
        return {k: None for k in VERSIONS}
    totals = {}
    for tool, rule in (("fvcore", _fvcore), ("thop", _thop), ("torchinfo", _torchinfo)):
        try:
            totals[tool] = int(round(sum(rule(r, b) for r in results)))
        except _NoRule:
            totals[tool] = None
    for tool in NOT_REPRODUCED:
        totals[tool] = None
    return {k: totals[k] for k in VERSIONS}


class _NoRule(Exception):
    pass


def _conv_macs(r, b) -> int:
    """N·Cout·Ho·Wo·(Cin/g)·Kh·Kw of a Conv2d node."""
    kh, kw = r.params["kernel"]
    cin, g = r.input_shapes[0][0], r.params["groups"]
    return b * numel(r.output_shape) * (cin // g) * kh * kw


def _dsconv_parts(r):
    """(depthwise output elements, Cin, K², pointwise) of a DepthwiseSeparableConv2d."""
    c = r.input_shapes[0][0]
    kh, kw = r.params["kernel"]
    out = r.output_shape
    return c, kh * kw, out


def _fvcore(r, b) -> float:
    t, p = r.type, r.params
    if t in _FREE or t in ("Softmax", "AvgPool2d", "Embedding", "PositionalEmbedding",
                           "Parameter"):
        return 0
    if t == "Conv2d":
        return _conv_macs(r, b)
    if t == "DepthwiseSeparableConv2d":
        c, k2, out = _dsconv_parts(r)
        return b * c * out[1] * out[2] * k2 + b * numel(out) * c
    if t == "ConvTranspose2d":
        cin, (kh, kw) = r.input_shapes[0][0], p["kernel"]
        x = r.input_shapes[0]
        return b * x[1] * x[2] * cin * (p["out_channels"] // p["groups"]) * kh * kw
    if t == "Linear":
        return b * numel(r.output_shape) * r.input_shapes[0][-1]
    if t == "BatchNorm2d":
        return b * numel(r.input_shapes[0]) * (2 if p["affine"] else 1)
    if t == "LayerNorm":
        return b * numel(r.input_shapes[0]) * (5 if p["affine"] else 4)
    if t == "AdaptiveAvgPool2d":
        return b * numel(r.input_shapes[0])
    if t == "MultiHeadAttention":
        return _attention_linears(r, b) + (_attention_products(r, b)
                                           if p["kernel"] == "matmul" else 0)
    raise _NoRule(t)


def _thop(r, b) -> float:
    t, p = r.type, r.params
    if t in _FREE or t in ("Embedding", "PositionalEmbedding", "Parameter"):
        return 0
    if t == "Conv2d":
        return _conv_macs(r, b)
    if t == "DepthwiseSeparableConv2d":
        c, k2, out = _dsconv_parts(r)
        return b * c * out[1] * out[2] * k2 + b * numel(out) * c
    if t == "ConvTranspose2d":
        cin, (kh, kw) = r.input_shapes[0][0], p["kernel"]
        return b * numel(r.output_shape) * (cin // p["groups"]) * kh * kw
    if t == "Linear":
        return b * numel(r.output_shape) * r.input_shapes[0][-1]
    if t in ("BatchNorm2d", "LayerNorm"):
        return 2 * b * numel(r.input_shapes[0]) * (2 if p["affine"] else 1)
    if t == "Softmax":
        x = r.input_shapes[0]
        dim = p["dim"] if p["dim"] < 0 else p["dim"] - 1
        n = x[dim]
        return b * (numel(x) // n) * (3 * n - 1)
    if t == "AvgPool2d":
        return b * numel(r.output_shape)
    if t == "AdaptiveAvgPool2d":
        (_, h, w), (_, ho, wo) = r.input_shapes[0], r.output_shape
        kernel = (h / ho) * (w / wo)  # doubles, in the tool's order
        return int((kernel + 1) * (b * numel(r.output_shape)))
    if t == "MultiHeadAttention":
        return _attention_linears(r, b)
    raise _NoRule(t)


def _torchinfo(r, b) -> float:
    t = r.type
    params = r.weight_elements + r.bias_elements
    if t in ("Conv2d", "ConvTranspose2d"):
        return params * b * r.output_shape[1] * r.output_shape[2]
    if t == "DepthwiseSeparableConv2d":
        c, k2, out = _dsconv_parts(r)
        bias = 1 if r.params["bias"] else 0
        return (c * k2 + c * bias) * b * out[1] * out[2] + (
            out[0] * c + out[0] * bias) * b * out[1] * out[2]
    if t == "Parameter":  # its module's output has a batch of 1
        return params
    return b * params


def _attention_linears(r, b) -> int:
    """Q, K, V and output projections as nn.Linear on (B, length, E)."""
    length, e = r.input_shapes[0]
    source = r.input_shapes[1][0] if len(r.input_shapes) == 2 else length
    return b * e * e * (2 * length + 2 * source)


def _attention_products(r, b) -> int:
    """Q·Kᵀ and A·V as two matmuls of B·h·L·d·S each."""
    length, e = r.input_shapes[0]
    source = r.input_shapes[1][0] if len(r.input_shapes) == 2 else length
    return 2 * b * length * source * e
