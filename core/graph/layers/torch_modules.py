"""The torch modules that layer types build where torch has no single class for them
(add, concat, token select, positional embedding, attention, un-pooling, loss).

A leaf: it imports torch and nothing of the engine, so the layer types can build their
modules without importing the graph builder (core.torchbridge.build) that imports them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AddModule(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class ConcatModule(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        # A learned tensor (ParameterModule) has batch 1: it joins every sample.
        batch = max(x.shape[0] for x in xs)
        return torch.cat([x.expand(batch, *x.shape[1:]) for x in xs], dim=self.dim)


class TokenSelectModule(nn.Module):
    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x):
        return x[:, self.index]


class PositionalEmbeddingModule(nn.Module):
    """Adds learned or sinusoidal position vectors to a (batch, length, E) sequence."""

    def __init__(self, max_positions: int, dim: int, kind: str):
        super().__init__()
        if kind == "learned":
            self.weight = nn.Parameter(torch.randn(max_positions, dim) * 0.02)
        else:
            position = torch.arange(max_positions).unsqueeze(1)
            freq = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
            table = torch.zeros(max_positions, dim)
            table[:, 0::2] = torch.sin(position * freq)
            table[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
            self.register_buffer("table", table, persistent=False)

    def forward(self, x):
        table = self.weight if hasattr(self, "weight") else self.table
        return x + table[: x.shape[1]]


class MultiHeadAttentionModule(nn.Module):
    """Attention written with explicit projections and matmuls, so that FlopCounterMode
    sees the same products the ledger counts (parameters as nn.MultiheadAttention).
    ``kernel="sdpa"`` computes the scores and context with one
    F.scaled_dot_product_attention call instead, as nn.MultiheadAttention does when asked
    for no attention weights."""

    def __init__(self, dim: int, heads: int, bias: bool, causal: bool, kernel: str = "matmul"):
        super().__init__()
        self.heads, self.causal, self.kernel = heads, causal, kernel
        self.q_proj = nn.Linear(dim, dim, bias)
        self.k_proj = nn.Linear(dim, dim, bias)
        self.v_proj = nn.Linear(dim, dim, bias)
        self.out_proj = nn.Linear(dim, dim, bias)

    def _split(self, x):
        b, length, dim = x.shape
        return x.view(b, length, self.heads, dim // self.heads).transpose(1, 2)

    def forward(self, x, memory=None):
        memory = x if memory is None else memory
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(memory)), self._split(
            self.v_proj(memory))
        if self.kernel == "sdpa":
            context = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
            b, _, length, _ = context.shape
            return self.out_proj(context.transpose(1, 2).reshape(b, length, -1))
        scores = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        if self.causal:
            length, source = scores.shape[-2:]
            mask = torch.ones(length, source, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(mask, float("-inf"))
        context = torch.matmul(scores.softmax(dim=-1), v)
        b, _, length, _ = context.shape
        return self.out_proj(context.transpose(1, 2).reshape(b, length, -1))


class TopLeftUnpool(nn.Module):
    """Un-pooling without a paired pool: each value goes to its window's top-left."""

    def __init__(self, kernel, stride, padding, out_size):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.out_size = tuple(out_size)

    def forward(self, x):
        b, c, h, w = x.shape
        rows = torch.arange(h, device=x.device) * self.stride[0] - self.padding[0]
        cols = torch.arange(w, device=x.device) * self.stride[1] - self.padding[1]
        rows, cols = rows.clamp(min=0), cols.clamp(min=0)
        index = (rows[:, None] * self.out_size[1] + cols[None, :]).expand(b, c, h, w)
        return F.max_unpool2d(x, index.contiguous(), self.kernel, self.stride, self.padding,
                              output_size=self.out_size)


class PairedUnpool(nn.Module):
    """MaxUnpool2d that receives its pool's indices as a second argument."""

    def __init__(self, kernel, stride, padding, out_size):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.out_size = tuple(out_size)

    def forward(self, x, indices):
        return F.max_unpool2d(x, indices, self.kernel, self.stride, self.padding,
                              output_size=self.out_size)


class LossModule(nn.Module):
    def __init__(self, kind: str, has_target: bool):
        super().__init__()
        self.kind, self.has_target = kind, has_target

    def forward(self, prediction, target):
        if self.kind == "mse":
            return F.mse_loss(prediction, target)
        return F.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1))


# ---------------------------------------------------------------------------------------
# Shape operations, learned parameters and gates (the layers imported torchvision models
# need). ``init_args`` gives the constructor's arguments back for code export.
# ---------------------------------------------------------------------------------------
class ReshapeModule(nn.Module):
    """Reshapes each sample to ``shape`` (the batch stays first)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def init_args(self):
        return (self.shape,)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class PermuteModule(nn.Module):
    """Reorders the dims of each sample; ``order`` numbers them as torch does (batch 0)."""

    def __init__(self, order):
        super().__init__()
        self.order = tuple(order)

    def init_args(self):
        return (self.order,)

    def forward(self, x):
        return x.permute(0, *self.order)


class SliceModule(nn.Module):
    """One piece of a chunk or split: ``length`` entries from ``start`` along ``dim``."""

    def __init__(self, dim: int, start: int, length: int):
        super().__init__()
        self.dim, self.start, self.length = dim, start, length

    def init_args(self):
        return (self.dim, self.start, self.length)

    def forward(self, x):
        return x.narrow(self.dim, self.start, self.length)


class ParameterModule(nn.Module):
    """A learned tensor used directly (class token, position table, layer scale); it has
    a batch dim of 1 and broadcasts over the batch."""

    def __init__(self, shape):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, *shape) * 0.02)

    def init_args(self):
        return (tuple(self.weight.shape[1:]),)

    def forward(self):
        return self.weight


class MulModule(nn.Module):
    def init_args(self):
        return ()

    def forward(self, a, b):
        return a * b


class StochasticDepthModule(nn.Module):
    """Drops a residual branch with probability p while training (per sample in 'row'
    mode, for the whole batch in 'batch' mode); identity at inference."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def init_args(self):
        return (self.p, self.mode)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        keep = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p) if self.p < 1.0 else x * 0.0


class PatchMergeModule(nn.Module):
    """Swin's patch merging gather: pads H and W to even sizes and stacks the four
    vectors of each 2×2 patch: (B, H, W, C) → (B, ⌈H/2⌉, ⌈W/2⌉, 4C)."""

    def init_args(self):
        return ()

    def forward(self, x):
        h, w = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        return torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :],
                          x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)


class WindowAttentionModule(nn.Module):
    """Swin's (shifted) window attention on (B, H, W, C): pad to whole windows, roll by
    the shift, attention inside each window with a relative position bias (v1: a learned
    table; v2: a small MLP of log-spaced coordinates, cosine attention with a learned
    scale), the shifted windows masked, then the inverse roll and crop."""

    def __init__(self, dim: int, heads: int, window, shift, bias: bool, version: str):
        super().__init__()
        self.dim, self.heads, self.bias, self.version = dim, heads, bias, version
        self.window, self.shift = tuple(window), tuple(shift)
        self.qkv = nn.Linear(dim, 3 * dim, bias)
        self.proj = nn.Linear(dim, dim, bias)
        w0, w1 = self.window
        coords = torch.stack(torch.meshgrid(torch.arange(w0), torch.arange(w1), indexing="ij"))
        flat = coords.flatten(1)
        rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0)
        index = (rel[..., 0] + w0 - 1) * (2 * w1 - 1) + (rel[..., 1] + w1 - 1)
        self.register_buffer("index", index.flatten(), persistent=False)
        if version == "v1":
            self.table = nn.Parameter(torch.randn((2 * w0 - 1) * (2 * w1 - 1), heads) * 0.02)
        else:
            self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(heads, 1, 1)))
            self.cpb_mlp = nn.Sequential(nn.Linear(2, 512), nn.ReLU(),
                                         nn.Linear(512, heads, bias=False))
            h = torch.arange(-(w0 - 1), w0, dtype=torch.float32) / max(w0 - 1, 1)
            w = torch.arange(-(w1 - 1), w1, dtype=torch.float32) / max(w1 - 1, 1)
            table = torch.stack(torch.meshgrid(h, w, indexing="ij")).permute(1, 2, 0) * 8
            table = torch.sign(table) * torch.log2(table.abs() + 1.0) / 3.0
            self.register_buffer("coords", table.unsqueeze(0), persistent=False)

    def init_args(self):
        return (self.dim, self.heads, self.window, self.shift, self.bias, self.version)

    def _position_bias(self, n):
        table = self.table if self.version == "v1" else self.cpb_mlp(self.coords).view(
            -1, self.heads)
        bias = table[self.index].view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        return bias if self.version == "v1" else 16 * torch.sigmoid(bias)

    def forward(self, x):
        b, h, w, c = x.shape
        (w0, w1), (s0, s1) = self.window, self.shift
        x = F.pad(x, (0, 0, 0, (w1 - w % w1) % w1, 0, (w0 - h % w0) % w0))
        ph, pw = x.shape[1], x.shape[2]
        s0, s1 = (0 if w0 >= ph else s0), (0 if w1 >= pw else s1)
        if s0 + s1:
            x = torch.roll(x, shifts=(-s0, -s1), dims=(1, 2))
        nw, n = (ph // w0) * (pw // w1), w0 * w1
        x = x.view(b, ph // w0, w0, pw // w1, w1, c).permute(0, 1, 3, 2, 4, 5).reshape(
            b * nw, n, c)
        qkv_bias = self.qkv.bias
        if self.version == "v2" and qkv_bias is not None:
            qkv_bias = torch.cat([qkv_bias[:c], torch.zeros_like(qkv_bias[c:2 * c]),
                                  qkv_bias[2 * c:]])
        qkv = F.linear(x, self.qkv.weight, qkv_bias).reshape(
            b * nw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if self.version == "v1":
            attn = (q * (c // self.heads) ** -0.5).matmul(k.transpose(-2, -1))
        else:
            attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        attn = attn + self._position_bias(n)
        if s0 + s1:
            mask = x.new_zeros((ph, pw))
            count = 0
            for hs in ((0, -w0), (-w0, -s0), (-s0, None)):
                for ws in ((0, -w1), (-w1, -s1), (-s1, None)):
                    mask[hs[0]:hs[1], ws[0]:ws[1]] = count
                    count += 1
            mask = mask.view(ph // w0, w0, pw // w1, w1).permute(0, 2, 1, 3).reshape(nw, n)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
            attn = (attn.view(b, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)).view(
                -1, self.heads, n, n)
        x = attn.softmax(-1).matmul(v).transpose(1, 2).reshape(b * nw, n, c)
        x = self.proj(x).view(b, ph // w0, pw // w1, w0, w1, c).permute(
            0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
        if s0 + s1:
            x = torch.roll(x, shifts=(s0, s1), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()
