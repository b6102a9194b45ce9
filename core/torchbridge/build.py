"""Network → ``torch.nn.Module``: one submodule per node, run in topological order.

Only this module (and the layer types' ``build`` methods, which call into it) import
torch, and only when a model is actually built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .analysis import AnalysisOptions, analyze
from .catalog import layer_type
from .errors import LayerParamError
from .layers.base import Ctx
from .network import Network


# ---------------------------------------------------------------------------------------
# Modules for layer types torch has no single class for
# ---------------------------------------------------------------------------------------
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
        return torch.cat(xs, dim=self.dim)


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
    sees the same products the ledger counts (parameters as nn.MultiheadAttention)."""

    def __init__(self, dim: int, heads: int, bias: bool, causal: bool):
        super().__init__()
        self.heads, self.causal = heads, causal
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
# The graph module
# ---------------------------------------------------------------------------------------
class GraphModule(nn.Module):
    """Runs a Network's nodes in order. ``forward(*inputs, labels=None)`` takes one tensor
    per Input node (in network order) and returns the outputs (one tensor, or a tuple).
    ``run`` returns every node's value, losses included."""

    def __init__(self, network: Network, options: AnalysisOptions | None = None):
        super().__init__()
        analysis = analyze(network, options)
        bad = [r for r in analysis.nodes.values() if r.error is not None]
        if bad:
            raise bad[0].error
        self.order = analysis.order
        self.input_names = network.input_names()
        self.output_names = network.output_names()
        self.inputs_of = {n: list(network.nodes[n].inputs) for n in self.order}
        self.types = {n: network.nodes[n].type for n in self.order}
        self.paired_pool = {n: analysis[n].params["pool"] for n in self.order
                            if self.types[n] == "MaxUnpool2d" and analysis[n].params["pool"]}
        self.layers = nn.ModuleDict()
        # Node names that clash with ModuleDict attributes (e.g. "update") get a suffix.
        self.keys = {n: (f"{n}_" if hasattr(self.layers, n) else n) for n in self.order}
        for name in self.order:
            result = analysis[name]
            ctx = Ctx(name, result.params, result.input_shapes, 1, result.output_shape)
            self.layers[self.keys[name]] = layer_type(result.type).build(ctx)
        self.shapes = {n: analysis[n].output_shape for n in self.order}
        self.kinds = {n: analysis[n].kind for n in self.order}

    def run(self, *inputs, labels=None) -> dict:
        if len(inputs) != len(self.input_names):
            raise LayerParamError("model", "input", f"expects {len(self.input_names)} input "
                                                    f"tensors ({', '.join(self.input_names)})")
        values = dict(zip(self.input_names, inputs))
        indices = {}
        wanted = set(self.paired_pool.values())
        for name in self.order:
            if self.types[name] == "Input":
                continue
            args = [values[i] for i in self.inputs_of[name]]
            layer = self.layers[self.keys[name]]
            if name in wanted:
                pool = layer
                values[name], indices[name] = F.max_pool2d(
                    args[0], pool.kernel_size, pool.stride, pool.padding, pool.dilation,
                    pool.ceil_mode, return_indices=True)
                continue
            if name in self.paired_pool:
                args.append(indices[self.paired_pool[name]])
            if self.types[name] == "Loss" and len(args) == 1:
                args.append(labels if labels is not None else torch.zeros(
                    args[0].shape[:-1], dtype=torch.long, device=args[0].device))
            values[name] = layer(*args)
        return values

    def forward(self, *inputs, labels=None):
        values = self.run(*inputs, labels=labels)
        outs = tuple(values[n] for n in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def example_inputs(self, batch: int = 2, device="cpu", vocab: dict | None = None):
        """Random tensors of the right shape and kind for each Input (ids within range)."""
        tensors = []
        for name in self.input_names:
            shape = (batch,) + tuple(self.shapes[name])
            if self.kinds[name] == "index":
                high = self._id_limit(name)
                tensors.append(torch.randint(0, high, shape, device=device))
            else:
                tensors.append(torch.randn(shape, device=device))
        return tensors

    def _id_limit(self, name: str) -> int:
        """Largest id + 1 every consumer of an id input accepts."""
        limits = []
        for other, ins in self.inputs_of.items():
            if name in ins:
                layer = self.layers[self.keys[other]]
                if isinstance(layer, nn.Embedding):
                    limits.append(layer.num_embeddings)
                elif isinstance(layer, LossModule):
                    limits.append(self.shapes[ins[0]][-1])
        return max(1, min(limits)) if limits else 2


def build_model(network: Network) -> GraphModule:
    """A torch module computing the network (raises the first layer error, if any)."""
    return GraphModule(network)
