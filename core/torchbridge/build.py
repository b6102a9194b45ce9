"""Network → ``torch.nn.Module``: one submodule per node, run in topological order.

Imports torch; the engine imports this module only when a model is actually built. The
modules the layer types build live in core.graph.layers.torch_modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.common.errors import LayerParamError
from core.common.limits import TRAINING_BYTES
from core.graph.analysis import AnalysisOptions, analyze
from core.graph.catalog import layer_type
from core.graph.layers.base import Ctx
from core.graph.layers.torch_modules import LossModule
from core.graph.network import Network


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
        check_parameter_memory(analysis)
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


def check_parameter_memory(analysis) -> None:
    """Refuse (LimitError) to build a model whose fp32 parameters exceed TRAINING_BYTES."""
    params = analysis.totals.params
    TRAINING_BYTES.check(params * 4, f"building {analysis.network.name} ({params:,} "
                                     f"parameters at fp32)")


def check_training_memory(network: Network, batch: int, optimizer: str = "adam") -> None:
    """Refuse (LimitError) to train when the engine's estimate of training memory at fp32
    (parameters, gradients, optimizer state and activations at ``batch``) exceeds
    TRAINING_BYTES."""
    analysis = analyze(network, AnalysisOptions(batch=batch, optimizer=optimizer))
    if analysis.ok:
        TRAINING_BYTES.check(analysis.memory.training, f"training {network.name} at batch "
                                                       f"{batch}")


def build_model(network: Network) -> GraphModule:
    """A torch module computing the network (raises the first layer error, if any)."""
    return GraphModule(network)
