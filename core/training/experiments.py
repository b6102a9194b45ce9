"""Experiment dimensions: what a sweep may vary (batch size, width, depth, kernel size or
learning rate), their values parsed and checked, and the network variant each value makes
(``variant``), shape-checked before any training (``check_variant``). The sweeps that train
the variants are core.training.sweeps; nothing here imports torch.

Variant rules (``variant``):

- batch_size: the same network; the run trains and times inference at that batch size.
- width: every Conv2d, DepthwiseSeparableConv2d, ConvTranspose2d and Linear gets
  round(channels × m) outputs (at least 1), except the layers that produce an output or a
  loss input (the class scores, a reconstruction); a depthwise Conv2d (groups equal to its
  input channels) keeps groups equal to its new input channels.
- depth: ``n`` extra hidden layers. With convolutions: after the last conv (after the
  activation that follows it, if one does; before any pooling or flatten), n × (a 3×3
  padding-1 conv of the same type and channels + that activation, ReLU if none).
  Without: n × (Linear + ReLU) just before the classifier, as wide as its input.
- lr: the same network trained at that learning rate.
- kernel: every Conv2d and DepthwiseSeparableConv2d gets a k×k kernel and padding
  max(0, p + d·(k − k_old) // 2) per side, so a "same" convolution stays same.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from core.graph.analysis import Analysis, analyze
from core.graph.catalog import layer_type
from core.common.errors import InputError, MlsysError
from core.common.explain import shape_text
from core.graph.network import Network

SWEEP_KINDS = ("batch_size", "width", "depth", "kernel", "lr")
MAX_VALUES = 12
ALLOWED = {
    "batch_size": "whole numbers from 1 to 65,536",
    "width": "numbers > 0 and ≤ 16 (channel multipliers, e.g. 0.5, 1, 2)",
    "depth": "whole numbers from 0 to 8 (extra hidden layers)",
    "kernel": "odd whole numbers from 1 to 11",
    "lr": "numbers > 0 and ≤ 10 (learning rates, e.g. 0.001, 0.01)",
}
EXAMPLES = {"batch_size": "1, 32, 64, 128", "width": "0.5, 1, 2", "depth": "0, 1, 2",
            "kernel": "3, 5, 7", "lr": "0.0003, 0.001, 0.003"}
WIDTH_TYPES = ("Conv2d", "DepthwiseSeparableConv2d", "ConvTranspose2d", "Linear")
WIDTH_PARAM = {"Linear": "out_features"}  # the others: out_channels
CONV_TYPES = ("Conv2d", "DepthwiseSeparableConv2d")
ACTIVATIONS = ("ReLU", "ReLU6", "Tanh", "Sigmoid", "GELU")
CONFIG_KINDS = ("batch_size", "lr")  # set in the TrainConfig; the others change the network
INFERENCE_BUDGET_S = 0.3  # seconds of repeated forward passes per run's timing


# ---------------------------------------------------------------------------------------
# Sweep values
# ---------------------------------------------------------------------------------------
def _check_kind(kind: str) -> None:
    if kind not in SWEEP_KINDS:
        raise InputError(f"sweep kind {kind!r} is not allowed: use one of "
                         + ", ".join(SWEEP_KINDS))


def _bad_value(kind: str, value) -> InputError:
    return InputError(f"{kind} value {value!r} is not allowed: use {ALLOWED[kind]}")


def check_value(kind: str, value) -> int | float:
    """``value`` if allowed for ``kind`` (as int, or float for fractional widths)."""
    _check_kind(kind)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad_value(kind, value)
    if kind in ("width", "lr"):
        if not math.isfinite(value) or not 0 < value <= (16 if kind == "width" else 10):
            raise _bad_value(kind, value)
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, float) and not value.is_integer():
        raise _bad_value(kind, value)
    low, high = {"batch_size": (1, 65536), "depth": (0, 8), "kernel": (1, 11)}[kind]
    value = int(value)
    if not low <= value <= high or (kind == "kernel" and value % 2 == 0):
        raise _bad_value(kind, value)
    return value


def _check_values(kind: str, values) -> tuple:
    values = tuple(check_value(kind, v) for v in values)
    if not values:
        raise InputError(f"{kind} needs at least one value: use {ALLOWED[kind]}, e.g. "
                         f"{EXAMPLES[kind]}")
    if len(values) > MAX_VALUES:
        raise InputError(f"{kind} has {len(values)} values: use at most {MAX_VALUES}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise InputError(f"{kind} value {repeated[0]:g} is given more than once: give each "
                         f"value once")
    return values


def _number(kind: str, token: str) -> int | float:
    try:
        return int(token) if re.fullmatch(r"[+-]?\d+", token) else float(token)
    except ValueError:
        raise _bad_value(kind, token) from None


def parse_values(kind: str, text: str) -> tuple:
    """'1, 32, 64,128' → (1, 32, 64, 128), checked against what ``kind`` allows."""
    _check_kind(kind)
    tokens = [t for t in re.split(r"[,;\s]+", str(text).strip()) if t]
    return _check_values(kind, [_number(kind, t) for t in tokens])


def parse_sweep(text: str) -> "Sweep":
    """'batch_size=32,64,128' → Sweep("batch_size", (32, 64, 128))."""
    kind, sep, values = str(text).partition("=")
    kind = kind.strip().replace("-", "_")
    if not sep:
        raise InputError(f"sweep {text!r} is not allowed: write KIND=V1,V2,... with KIND one "
                         f"of {', '.join(SWEEP_KINDS)}, e.g. batch_size=32,64,128")
    return Sweep(kind, parse_values(kind, values))


@dataclass(frozen=True)
class Sweep:
    """What to vary (one of SWEEP_KINDS) and its values, checked on creation."""

    kind: str
    values: tuple

    def __post_init__(self):
        _check_kind(self.kind)
        object.__setattr__(self, "values", _check_values(self.kind, tuple(self.values)))


def value_label(kind: str, value) -> str:
    """How a run is called in tables and progress: "batch 32", "width ×2", ..."""
    if kind == "batch_size":
        return f"batch {value}"
    if kind == "width":
        return f"width ×{value:g}"
    if kind == "depth":
        return f"depth +{value}"
    if kind == "lr":
        return f"lr {value:g}"
    return f"kernel {value}×{value}"


# ---------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------
def variant(network: Network, kind: str, value) -> Network:
    """A new network: ``network`` with ``kind`` set to ``value`` (the input is untouched)."""
    value = check_value(kind, value)
    clone = network.copy()
    clone.name = f"{network.name} ({value_label(kind, value)})"
    if kind == "width":
        _scale_width(clone, value)
    elif kind == "kernel":
        _set_kernels(clone, value)
    elif kind == "depth" and value:
        _add_depth(clone, value)
    return clone


def _params(network: Network, name: str) -> dict:
    """A node's parameters in canonical form (pairs as tuples)."""
    node = network.nodes[name]
    return layer_type(node.type).normalize(name, node.params)


def output_layers(network: Network) -> set[str]:
    """Layers whose outputs must keep their size: the last WIDTH_TYPES layer before every
    network output and every Loss input (through activations, pooling, flatten, ...)."""
    ends = [n for n in network.output_names() if network.nodes[n].type != "Loss"]
    ends += [i for loss in network.loss_names() for i in network.nodes[loss].inputs]
    found, seen = set(), set()
    while ends:
        name = ends.pop()
        if name in seen:
            continue
        seen.add(name)
        node = network.nodes[name]
        if node.type in WIDTH_TYPES:
            found.add(name)
        elif node.type != "Input":
            ends.extend(node.inputs)
    return found


def _scale_width(network: Network, factor) -> None:
    keep = output_layers(network)
    scaled = [n for n, node in network.nodes.items() if node.type in WIDTH_TYPES
              and n not in keep]
    if not scaled:
        raise InputError(f"{network.name}: no hidden Conv2d or Linear layer to widen")
    grouped = _grouped_convs(network)
    for name in scaled:
        key = WIDTH_PARAM.get(network.nodes[name].type, "out_channels")
        network.set_param(name, key, max(1, round(network.nodes[name].params[key] * factor)))
    if grouped:
        _regroup(network, grouped, keep)


def _grouped_convs(network: Network) -> dict:
    """{name: (groups, input channels, output channels)} of the convs with groups > 1."""
    names = [n for n, node in network.nodes.items() if node.params.get("groups", 1) > 1]
    if not names:
        return {}
    analysis = analyze(network)
    return {n: (network.nodes[n].params["groups"],
                analysis[n].input_shapes[0][0] if analysis[n].ok else None,
                network.nodes[n].params["out_channels"]) for n in names}


def _regroup(network: Network, grouped: dict, keep: set) -> None:
    """Give grouped convs groups that fit the new widths: a depthwise conv (groups equal to
    its input channels) gets groups = its new input channels and keeps its channel
    multiplier; other groups stay (the analysis reports them if they no longer divide)."""
    for name in grouped:
        network.set_param(name, "groups", 1)  # so that every shape below resolves
    analysis = analyze(network)
    for name, (groups, cin, cout) in grouped.items():
        new_in = analysis[name].input_shapes[0][0] if analysis[name].ok else None
        if cin is None or new_in is None or groups != cin:
            network.set_param(name, "groups", groups)
            continue
        network.set_param(name, "groups", new_in)
        if name not in keep:
            network.set_param(name, "out_channels", new_in * max(1, cout // cin))


def _set_kernels(network: Network, k: int) -> None:
    convs = [n for n, node in network.nodes.items() if node.type in CONV_TYPES]
    if not convs:
        raise InputError(f"{network.name}: no Conv2d layer to change")
    for name in convs:
        p = _params(network, name)
        padding = tuple(max(0, pad + d * (k - old) // 2)
                        for pad, old, d in zip(p["padding"], p["kernel"], p["dilation"]))
        network.set_param(name, "kernel", k)
        network.set_param(name, "padding", padding)


def _add_depth(network: Network, count: int) -> None:
    order = network.topological_order()
    convs = [n for n in order if network.nodes[n].type in CONV_TYPES]
    if convs:
        _add_conv_layers(network, convs[-1], count)
    else:
        _add_dense_layers(network, count)


def _activation_after(network: Network, name: str) -> str | None:
    users = network.consumers(name)
    if len(users) == 1 and network.nodes[users[0]].type in ACTIVATIONS:
        return users[0]
    return None


def _add_conv_layers(network: Network, last_conv: str, count: int) -> None:
    activation = _activation_after(network, last_conv)
    anchor = activation or last_conv
    act_type = network.nodes[activation].type if activation else "ReLU"
    conv_type = network.nodes[last_conv].type  # a separable network gets separable layers
    channels = _params(network, last_conv)["out_channels"]
    conv = {"out_channels": channels, "kernel": 3, "stride": 1, "padding": 1}
    _insert_chain(network, anchor, [(conv_type, "extra_conv", conv),
                                    (act_type, "extra_act", {})] * count)


def _add_dense_layers(network: Network, count: int) -> None:
    classifiers = [n for n in network.topological_order()
                   if n in output_layers(network) and network.nodes[n].type == "Linear"]
    if not classifiers:
        raise InputError(f"{network.name}: no Conv2d layer to repeat and no Linear classifier "
                         f"to add hidden layers before")
    classifier = classifiers[-1]
    source = network.nodes[classifier].inputs[0]
    width = analyze(network)[classifier].input_shapes[0][-1]
    layers = [("Linear", "extra_fc", {"out_features": width}), ("ReLU", "extra_relu", {})]
    _insert_chain(network, source, layers * count, users=[classifier])


def _insert_chain(network: Network, source: str, layers: list, users=None) -> str:
    """Put ``layers`` [(type, name stem, params)] in a chain after ``source``, feeding what
    ``source`` fed (or only ``users``); returns the last new node."""
    users = list(users) if users is not None else network.consumers(source)
    index = list(network.nodes).index(source) + 1
    previous = source
    for offset, (type_name, stem, params) in enumerate(layers):
        node = network.add_node(type_name, network.unique_name(stem), params, [previous],
                                index=index + offset)
        previous = node.name
    for user in users:
        inputs = network.nodes[user].inputs
        network.set_inputs(user, [previous if s == source else s for s in inputs])
    return previous


# ---------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------
def check_variant(network: Network, label: str, base_name: str) -> None:
    """Shapes resolve everywhere, and the network reads MNIST images and gives class scores."""
    from core.training.data import NUM_CLASSES, input_layout
    analysis = analyze(network)
    error = analysis.first_error()
    if error:
        raise InputError(f"{label} does not fit {base_name}: {error}")
    inputs = network.input_names()
    if len(inputs) != 1:
        raise InputError(f"{network.name} has {len(inputs)} Input nodes; training on MNIST "
                         f"needs exactly one image input")
    try:
        input_layout(analysis[inputs[0]].output_shape, network.name)
    except MlsysError as exc:
        raise InputError(str(exc)) from None
    if not network.loss_names():
        outputs = network.output_names()
        if len(outputs) != 1 or tuple(analysis[outputs[0]].output_shape) != (NUM_CLASSES,):
            shapes = ", ".join(f"{o} {shape_text(analysis[o].output_shape)}" for o in outputs)
            raise InputError(f"{network.name} must have one output of {NUM_CLASSES} class "
                             f"scores (it has: {shapes or 'none'})")


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
def network_facts(network: Network) -> dict:
    """params, MACs per image, input and output shapes (the class scores) of a network."""
    analysis = analyze(network)
    inputs = network.input_names()
    return {"params": int(analysis.totals.params), "macs": int(analysis.totals.macs),
            "input_shape": shape_text(analysis[inputs[0]].output_shape) if inputs else "?",
            "output_shape": shape_text(analysis[_scores_node(network, analysis)].output_shape)}


def _scores_node(network: Network, analysis: Analysis) -> str:
    for loss in network.loss_names():
        node = network.nodes[loss]
        if len(node.inputs) == 1 and analysis[loss].params.get("kind") == "cross_entropy":
            return node.inputs[0]
    outputs = [o for o in network.output_names() if network.nodes[o].type != "Loss"]
    return outputs[0] if outputs else network.topological_order()[-1]
