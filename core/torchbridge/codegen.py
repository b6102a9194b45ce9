"""Network → stand-alone PyTorch source code (an ``nn.Module`` class a user can paste).

Standard layers are written as their ``torch.nn`` constructors; layers torch has no
single class for (attention, positional embeddings, un-pooling) bring the exact class
definitions the product builds with, so the generated model is the same model.
"""

from __future__ import annotations

import inspect
import keyword
import re

from core.common.errors import NetworkError, brief
from core.graph.analysis import analyze
from core.graph.catalog import layer_type
from core.graph.layers.base import Ctx
from core.graph.network import NAME_RE, Network

RESERVED = {"self", "torch", "nn", "F", "math", "labels", "inputs", "OrderedDict"}
HELPERS = {"MultiHeadAttention": "MultiHeadAttentionModule",
           "PositionalEmbedding": "PositionalEmbeddingModule",
           "MaxUnpool2d": ("TopLeftUnpool", "PairedUnpool")}


def _identifier(name: str) -> str:
    """A node name as it may appear in code: node names are identifiers by construction,
    and anything else reaching here is refused rather than written into the source."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise NetworkError(f"node name {brief(name)} cannot appear in generated code")
    return name


def _var(name: str) -> str:
    name = _identifier(name)
    return name + "_" if keyword.iskeyword(name) or name in RESERVED else name


def _attr(name: str) -> str:
    import torch.nn as nn
    name = _identifier(name)
    return name + "_" if hasattr(nn.Module(), name) or keyword.iskeyword(name) else name


def class_name(network: Network) -> str:
    words = re.split(r"[^A-Za-z0-9]+", network.name or "model")
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Model"
    return name if name[0].isalpha() else "Model" + name


def _constructor(module) -> str:
    """Source text that builds ``module`` (torch.nn classes print as valid calls)."""
    from torch import nn
    if isinstance(module, nn.Sequential):
        inner = ",\n            ".join(f"{key}=nn.{child!r}" for key, child in module.named_children())
        return f"nn.Sequential(OrderedDict(\n            {inner}))"
    cls = type(module)
    if cls.__module__.startswith("torch.nn"):
        return f"nn.{module!r}"
    if hasattr(module, "init_args"):
        args = module.init_args()
        return f"{cls.__name__}({', '.join(repr(a) for a in args)})"
    args = {
        "MultiHeadAttentionModule": lambda m: (m.q_proj.in_features, m.heads,
                                               m.q_proj.bias is not None, m.causal,
                                               m.kernel),
        "PositionalEmbeddingModule": lambda m: (
            (m.weight.shape[0], m.weight.shape[1], "learned") if hasattr(m, "weight")
            else (m.table.shape[0], m.table.shape[1], "sinusoidal")),
        "TopLeftUnpool": lambda m: (m.kernel, m.stride, m.padding, m.out_size),
        "PairedUnpool": lambda m: (m.kernel, m.stride, m.padding, m.out_size),
    }[cls.__name__](module)
    return f"{cls.__name__}({', '.join(repr(a) for a in args)})"


INLINE = {"Add", "Concat", "TokenSelect", "Input", "Loss"}


def generate(network: Network) -> str:
    """Python source defining ``class <Name>(nn.Module)`` for a valid network."""

    import torch

    from core.graph.layers import torch_modules
    analysis = analyze(network)
    bad = [r for r in analysis.nodes.values() if r.error is not None]
    if bad:
        raise bad[0].error
    with torch.device("meta"):  # modules are built for their settings only: no weights
        return _source(network, analysis, torch_modules)


def _source(network: Network, analysis, torch_modules) -> str:
    order = analysis.order
    inputs = network.input_names()
    outputs = network.output_names()
    paired = {analysis[n].params["pool"] for n in order
              if network.nodes[n].type == "MaxUnpool2d" and analysis[n].params["pool"]}
    needs_labels = any(network.nodes[n].type == "Loss" and len(network.nodes[n].inputs) == 1
                       for n in order)
    helpers, init, body = [], [], []
    for name in order:
        node, result = network.nodes[name], analysis[name]
        if node.type in INLINE:
            continue
        ctx = Ctx(name, result.params, result.input_shapes, 1, result.output_shape)
        module = layer_type(node.type).build(ctx)
        helper = type(module).__name__
        if not type(module).__module__.startswith("torch.nn") and helper not in helpers:
            helpers.append(helper)
        init.append(f"        self.{_attr(name)} = {_constructor(module)}")
    for name in order:
        node = network.nodes[name]
        if node.type == "Input":
            continue
        args = [_var(i) for i in node.inputs]
        if node.type == "Concat":  # a Parameter (batch 1) joins every sample
            args = [f"{a}.expand({args[0]}.shape[0], *{a}.shape[1:])"
                    if network.nodes[i].type == "Parameter" and j else a
                    for j, (i, a) in enumerate(zip(node.inputs, args))]
        body.append(_statement(name, node, args, analysis[name].params, name in paired))
    sources = [inspect.getsource(getattr(torch_modules, h)) for h in helpers]
    signature = ", ".join(["self"] + [_var(i) for i in inputs] + (
        ["labels=None"] if needs_labels else []))
    returned = ", ".join(_var(o) for o in outputs)
    # The docstring is a repr(): a valid literal whatever the design's name holds.
    docstring = repr(f"{class_name(network)}: generated by MLSys Studio from the design "
                     f"{network.name!r}.")
    lines = [docstring, "", "import math", "from collections import OrderedDict",
             "", "import torch", "import torch.nn.functional as F", "from torch import nn",
             "", ""]
    for src in sources:
        lines += [src.rstrip(), "", ""]
    lines += [f"class {class_name(network)}(nn.Module):",
              "    def __init__(self):", "        super().__init__()"]
    lines += init or ["        pass"]
    lines += ["", f"    def forward({signature}):"]
    lines += body
    lines += [f"        return {returned}", ""]
    return "\n".join(lines)


def _statement(name: str, node, args: list[str], params: dict, returns_indices: bool) -> str:
    target = _var(name)
    attr = f"self.{_attr(name)}"
    if node.type == "Add":
        return f"        {target} = {' + '.join(args)}"
    if node.type == "Concat":
        return f"        {target} = torch.cat([{', '.join(args)}], dim={params['dim'] + 1})"
    if node.type == "TokenSelect":
        return f"        {target} = {args[0]}[:, {params['index']}]"
    if node.type == "Loss":
        if params["kind"] == "mse":
            return f"        {target} = F.mse_loss({args[0]}, {args[1]})"
        target_ids = args[1] if len(args) > 1 else (
            f"labels if labels is not None else torch.zeros({args[0]}.shape[:-1], "
            f"dtype=torch.long, device={args[0]}.device)")
        return (f"        {target} = F.cross_entropy({args[0]}.reshape(-1, {args[0]}.shape[-1]),"
                f" ({target_ids}).reshape(-1))")
    if returns_indices:
        return (f"        {target}, {target}_indices = F.max_pool2d({args[0]}, "
                f"{attr}.kernel_size, {attr}.stride, {attr}.padding, {attr}.dilation, "
                f"{attr}.ceil_mode, return_indices=True)")
    if node.type == "MaxUnpool2d" and params.get("pool"):
        return f"        {target} = {attr}({args[0]}, {_var(params['pool'])}_indices)"
    return f"        {target} = {attr}({', '.join(args)})"
